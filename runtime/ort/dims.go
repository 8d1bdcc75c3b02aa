package ort

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// onnxruntime_go does not expose ONNX Runtime's symbolic dimension names
// (SessionGetInputTypeInfo + GetSymbolicDimensions), so this file reads them
// from the ModelProto itself. It walks the file through an io.ReaderAt and
// skips every field it does not need by its length, so large initializers
// are never read: the cost is a few small reads per graph node.

// Field numbers in onnx.proto.
const (
	modelGraph        = 7  // ModelProto.graph
	graphInput        = 11 // GraphProto.input
	graphOutput       = 12 // GraphProto.output
	valueInfoName     = 1  // ValueInfoProto.name
	valueInfoType     = 2  // ValueInfoProto.type
	typeTensor        = 1  // TypeProto.tensor_type
	tensorTypeShape   = 2  // TypeProto.Tensor.shape
	shapeDim          = 1  // TensorShapeProto.dim
	dimParam          = 2  // TensorShapeProto.Dimension.dim_param
	maxValueInfoBytes = 1 << 20
)

// pbField is one field of a message being scanned.
type pbField struct {
	num protowire.Number
	typ protowire.Type
	off int64  // start of the value, for BytesType
	n   int64  // length of the value, for BytesType
	v   uint64 // the value, for VarintType
}

var errTruncated = errors.New("truncated protobuf")

// readVarint reads the varint at off (before end).
func readVarint(r io.ReaderAt, off, end int64) (uint64, int64, error) {
	var buf [binaryMaxVarintLen]byte
	n := min(int64(len(buf)), end-off)
	if n <= 0 {
		return 0, 0, errTruncated
	}
	got, err := r.ReadAt(buf[:n], off)
	if int64(got) < n {
		if err == nil {
			err = errTruncated
		}
		return 0, 0, err
	}
	v, k := protowire.ConsumeVarint(buf[:n])
	if k < 0 {
		return 0, 0, protowire.ParseError(k)
	}
	return v, int64(k), nil
}

const binaryMaxVarintLen = 10

// scanMessage calls fn for each field of the message in [off, end).
func scanMessage(r io.ReaderAt, off, end int64, fn func(pbField) error) error {
	for off < end {
		tag, k, err := readVarint(r, off, end)
		if err != nil {
			return err
		}
		off += k
		num, typ := protowire.DecodeTag(tag)
		if num <= 0 {
			return fmt.Errorf("invalid field number %d at offset %d", num, off-k)
		}
		f := pbField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			v, k, err := readVarint(r, off, end)
			if err != nil {
				return err
			}
			f.v = v
			off += k
		case protowire.Fixed32Type:
			off += 4
		case protowire.Fixed64Type:
			off += 8
		case protowire.BytesType:
			l, k, err := readVarint(r, off, end)
			if err != nil {
				return err
			}
			off += k
			if l > uint64(end-off) {
				return errTruncated
			}
			f.off, f.n = off, int64(l)
			off += int64(l)
		default:
			return fmt.Errorf("unsupported wire type %d at offset %d", typ, off-k)
		}
		if off > end {
			return errTruncated
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// declaredShape is what the ModelProto says about one value's shape.
type declaredShape struct {
	// ranked is false when the value has no TypeProto.Tensor.shape: the
	// model does not declare its rank.
	ranked bool
	// params holds the dim_param of each dim ("" where a dim has none).
	params []string
}

// readDimNames returns the declared shape of every graph input and output
// of the ModelProto in r, keyed by name.
func readDimNames(r io.ReaderAt, size int64) (map[string]declaredShape, error) {
	names := map[string]declaredShape{}
	err := scanMessage(r, 0, size, func(f pbField) error {
		if f.num != modelGraph || f.typ != protowire.BytesType {
			return nil
		}
		return scanMessage(r, f.off, f.off+f.n, func(g pbField) error {
			if (g.num != graphInput && g.num != graphOutput) || g.typ != protowire.BytesType {
				return nil
			}
			if g.n > maxValueInfoBytes {
				return fmt.Errorf("graph value info of %d bytes", g.n)
			}
			buf := make([]byte, g.n)
			if _, err := r.ReadAt(buf, g.off); err != nil {
				return err
			}
			name, shape, err := parseValueInfo(buf)
			if err != nil {
				return err
			}
			names[name] = shape
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}

// eachField calls fn with each field of the in-memory message b; v is the
// content of a BytesType field and nil otherwise.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}

// parseValueInfo returns the name and declared shape of a ValueInfoProto.
func parseValueInfo(b []byte) (string, declaredShape, error) {
	var name string
	var shape declaredShape
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case valueInfoName:
			name = string(v)
		case valueInfoType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num != typeTensor || typ != protowire.BytesType {
					return nil
				}
				return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
					if num != tensorTypeShape || typ != protowire.BytesType {
						return nil
					}
					shape.ranked = true
					return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
						if num != shapeDim || typ != protowire.BytesType {
							return nil
						}
						param := ""
						err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
							if num == dimParam && typ == protowire.BytesType {
								param = string(v)
							}
							return nil
						})
						shape.params = append(shape.params, param)
						return err
					})
				})
			})
		}
		return nil
	})
	return name, shape, err
}
