package ort

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/xt2onnx/xt2onnx/internal/extdata"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// ONNX Runtime confines external data itself, but it opens a FIFO named as
// a location (and blocks), and its messages are terse. So before a file is
// handed to it, every external data reference of the main graph (its
// initializers, and tensors in node attributes, sub-graphs included) is
// checked with the rules the native reader applies (internal/extdata):
// inside the model's folder, a regular file, holding offset + length bytes
// that match the tensor's shape. The walk reads only the small fields of
// each TensorProto; weights are skipped by their length.

// More field numbers of onnx.proto.
const (
	graphNode            = 1  // GraphProto.node
	graphInitializer     = 5  // GraphProto.initializer
	nodeAttribute        = 5  // NodeProto.attribute
	attrT                = 5  // AttributeProto.t
	attrG                = 6  // AttributeProto.g
	attrTensors          = 10 // AttributeProto.tensors
	attrGraphs           = 11 // AttributeProto.graphs
	tensorDims           = 1  // TensorProto.dims
	tensorDataType       = 2  // TensorProto.data_type
	tensorName           = 8  // TensorProto.name
	tensorExternalData   = 13 // TensorProto.external_data
	tensorDataLocation   = 14 // TensorProto.data_location
	entryKey, entryValue = 1, 2
	maxEntryBytes        = 1 << 16
	maxGraphDepth        = 16
)

// externalRef is one tensor's external data reference.
type externalRef struct {
	name     string
	dims     []int64
	dtype    runtime.DType
	external bool
	kv       map[string]string
}

// checkExternalData checks every external data reference of the model file
// at path; it returns nil when there are none or all are sound.
func checkExternalData(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var refs []externalRef
	err = scanMessage(f, 0, fi.Size(), func(fl pbField) error {
		if fl.num == modelGraph && fl.typ == protowire.BytesType {
			return scanGraph(f, fl.off, fl.off+fl.n, 0, &refs)
		}
		return nil
	})
	if err != nil || len(refs) == 0 {
		return nil // an unreadable file is ONNX Runtime's to report
	}
	dir := extdata.New(filepath.Dir(path))
	defer dir.Close()
	for _, ref := range refs {
		if err := checkRef(dir, ref); err != nil {
			return fmt.Errorf("tensor %q: %w", ref.name, err)
		}
	}
	return nil
}

func scanGraph(r io.ReaderAt, off, end int64, depth int, refs *[]externalRef) error {
	if depth > maxGraphDepth {
		return fmt.Errorf("sub-graphs nest deeper than %d", maxGraphDepth)
	}
	return scanMessage(r, off, end, func(f pbField) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		switch f.num {
		case graphInitializer:
			return scanTensor(r, f.off, f.off+f.n, refs)
		case graphNode:
			return scanMessage(r, f.off, f.off+f.n, func(n pbField) error {
				if n.num != nodeAttribute || n.typ != protowire.BytesType {
					return nil
				}
				return scanMessage(r, n.off, n.off+n.n, func(a pbField) error {
					if a.typ != protowire.BytesType {
						return nil
					}
					switch a.num {
					case attrT, attrTensors:
						return scanTensor(r, a.off, a.off+a.n, refs)
					case attrG, attrGraphs:
						return scanGraph(r, a.off, a.off+a.n, depth+1, refs)
					}
					return nil
				})
			})
		}
		return nil
	})
}

func scanTensor(r io.ReaderAt, off, end int64, refs *[]externalRef) error {
	ref := externalRef{kv: map[string]string{}}
	err := scanMessage(r, off, end, func(f pbField) error {
		switch {
		case f.num == tensorDims && f.typ == protowire.VarintType:
			ref.dims = append(ref.dims, int64(f.v))
		case f.num == tensorDims && f.typ == protowire.BytesType: // packed
			b, err := readSmall(r, f)
			if err != nil {
				return err
			}
			for len(b) > 0 {
				v, k := protowire.ConsumeVarint(b)
				if k < 0 {
					return protowire.ParseError(k)
				}
				ref.dims, b = append(ref.dims, int64(v)), b[k:]
			}
		case f.num == tensorDataType && f.typ == protowire.VarintType:
			ref.dtype = runtime.DType(f.v)
		case f.num == tensorDataLocation && f.typ == protowire.VarintType:
			ref.external = f.v == 1
		case f.num == tensorName && f.typ == protowire.BytesType:
			b, err := readSmall(r, f)
			if err != nil {
				return err
			}
			ref.name = string(b)
		case f.num == tensorExternalData && f.typ == protowire.BytesType:
			b, err := readSmall(r, f)
			if err != nil {
				return err
			}
			var key, value string
			err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
				switch {
				case num == entryKey && typ == protowire.BytesType:
					key = string(v)
				case num == entryValue && typ == protowire.BytesType:
					value = string(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			ref.kv[key] = value
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ref.external {
		*refs = append(*refs, ref)
	}
	return nil
}

func readSmall(r io.ReaderAt, f pbField) ([]byte, error) {
	if f.n > maxEntryBytes {
		return nil, fmt.Errorf("a tensor field of %d bytes", f.n)
	}
	b := make([]byte, f.n)
	if _, err := r.ReadAt(b, f.off); err != nil {
		return nil, err
	}
	return b, nil
}

// checkRef applies the rules to one reference.
func checkRef(dir *extdata.Dir, ref externalRef) error {
	loc, ok := ref.kv["location"]
	if !ok || loc == "" {
		return fmt.Errorf("external data has no location")
	}
	offset, length := int64(0), int64(-1)
	for _, k := range []string{"offset", "length"} {
		s, ok := ref.kv[k]
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("external data %s %q is not a non-negative integer", k, s)
		}
		if k == "offset" {
			offset = v
		} else {
			length = v
		}
	}
	f, problem, err := dir.Open(loc)
	if err != nil {
		return err
	}
	if problem != "" {
		return fmt.Errorf("external data location %q: %s", loc, problem)
	}
	if size := ref.dtype.Size(); size > 0 && length < 0 {
		n := int64(size)
		for _, d := range ref.dims {
			if d < 0 || (d > 0 && n > (1<<62)/d) {
				n = -1
				break
			}
			n *= d
		}
		length = n
	}
	if length < 0 {
		return nil // unknown element size: ONNX Runtime checks it
	}
	if offset > f.Size || length > f.Size-offset {
		return fmt.Errorf("external data file %q holds %d bytes, the tensor needs offset %d + length %d", loc, f.Size, offset, length)
	}
	return nil
}
