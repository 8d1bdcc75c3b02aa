package onnximport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/xt2onnx/xt2onnx/internal/graph"
	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
)

// tensor converts a TensorProto, whatever field holds its data, into a
// tensor with little-endian raw data.
func (r *reader) tensor(tp *onnxpb.TensorProto, where string) (*graph.Tensor, error) {
	if tp.GetSegment() != nil {
		return nil, r.unsupported(where, "segmented tensors are not supported")
	}
	dt := graph.DType(tp.GetDataType())
	size := dt.Size()
	if size == 0 {
		return nil, r.unsupported(where, "element type %s (%d) is not supported", onnxpb.TensorProto_DataType(dt), int32(dt))
	}
	n := int64(1)
	for i, d := range tp.GetDims() {
		if d < 0 {
			return nil, r.formatErr(where, "dim %d is negative (%d)", i, d)
		}
		if d > 0 && n > math.MaxInt64/int64(size)/d {
			return nil, r.formatErr(where, "shape %v is too large", tp.GetDims())
		}
		n *= d
	}
	t := &graph.Tensor{Name: tp.GetName(), DType: dt, Dims: tp.GetDims(), Doc: tp.GetDocString()}
	nbytes := n * int64(size)

	var raw []byte
	switch {
	case tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL:
		var err error
		if raw, err = r.external(tp, where, nbytes); err != nil {
			return nil, err
		}
	case tp.RawData != nil:
		raw = tp.RawData
	default:
		var field string
		var count int
		raw, field, count = typedData(tp, dt, size)
		if int64(count) != n {
			return nil, r.formatErr(where, "shape %v of %s needs %d elements, %s holds %d (and raw_data is absent)", tp.GetDims(), dt, n, field, count)
		}
	}
	if int64(len(raw)) != nbytes {
		return nil, r.formatErr(where, "shape %v of %s needs %d bytes of data, found %d", tp.GetDims(), dt, nbytes, len(raw))
	}
	if len(raw) > 0 {
		t.Raw = raw
	}
	return t, nil
}

// typedData encodes the typed data field that the format uses for dt as
// little-endian bytes. It returns the field's name and element count.
func typedData(tp *onnxpb.TensorProto, dt graph.DType, size int) (raw []byte, field string, count int) {
	le := binary.LittleEndian
	switch dt {
	case graph.Float:
		v := tp.GetFloatData()
		raw = make([]byte, 0, 4*len(v))
		for _, x := range v {
			raw = le.AppendUint32(raw, math.Float32bits(x))
		}
		return raw, "float_data", len(v)
	case graph.Double:
		v := tp.GetDoubleData()
		raw = make([]byte, 0, 8*len(v))
		for _, x := range v {
			raw = le.AppendUint64(raw, math.Float64bits(x))
		}
		return raw, "double_data", len(v)
	case graph.Int64:
		v := tp.GetInt64Data()
		raw = make([]byte, 0, 8*len(v))
		for _, x := range v {
			raw = le.AppendUint64(raw, uint64(x))
		}
		return raw, "int64_data", len(v)
	case graph.Uint32, graph.Uint64:
		v := tp.GetUint64Data()
		raw = make([]byte, 0, size*len(v))
		for _, x := range v {
			if size == 4 {
				raw = le.AppendUint32(raw, uint32(x))
			} else {
				raw = le.AppendUint64(raw, x)
			}
		}
		return raw, "uint64_data", len(v)
	}
	// int32 and every narrower type (int8/16, uint8/16, bool, float16,
	// bfloat16) are stored one element per int32_data entry; the narrow
	// types keep their bit pattern in the low bits.
	v := tp.GetInt32Data()
	raw = make([]byte, 0, size*len(v))
	for _, x := range v {
		switch {
		case dt == graph.Bool:
			if x != 0 {
				raw = append(raw, 1)
			} else {
				raw = append(raw, 0)
			}
		case size == 1:
			raw = append(raw, byte(x))
		case size == 2:
			raw = le.AppendUint16(raw, uint16(x))
		default:
			raw = le.AppendUint32(raw, uint32(x))
		}
	}
	return raw, "int32_data", len(v)
}

// external loads a tensor's data from the file named by its external_data
// entries, relative to the model's directory.
func (r *reader) external(tp *onnxpb.TensorProto, where string, nbytes int64) ([]byte, error) {
	var location string
	offset, length := int64(0), int64(-1)
	for _, e := range tp.GetExternalData() {
		var err error
		switch e.GetKey() {
		case "location":
			location = e.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(e.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(e.GetValue(), 10, 64)
		}
		if err != nil || offset < 0 || (e.GetKey() == "length" && length < 0) {
			return nil, r.formatErr(where, "external data %s %q is not a non-negative integer", e.GetKey(), e.GetValue())
		}
	}
	if location == "" {
		return nil, r.formatErr(where, "external data has no location")
	}
	if r.dir == "" {
		return nil, fmt.Errorf("onnximport: %s: data is in external file %q, which Read cannot resolve: use ReadFile, which looks for it next to the model file", where, location)
	}
	if !filepath.IsLocal(filepath.FromSlash(location)) {
		return nil, r.formatErr(where, "external data location %q must be a relative path inside the model's directory", location)
	}
	if length < 0 {
		length = nbytes
	}
	if length != nbytes {
		return nil, r.formatErr(where, "external data length %d does not match shape %v of %s (%d bytes)", length, tp.GetDims(), graph.DType(tp.GetDataType()), nbytes)
	}
	path := filepath.Join(r.dir, filepath.FromSlash(location))
	f := r.files[path]
	if f == nil {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, r.ioErr(where, "opening external data", err)
		}
		if r.files == nil {
			r.files = map[string]*os.File{}
		}
		r.files[path] = f
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, r.formatErr(where, "external data file %q ends before offset %d + length %d", location, offset, length)
		}
		return nil, r.ioErr(where, "reading external data", err)
	}
	return buf, nil
}

func (r *reader) ioErr(where, what string, err error) error {
	return fmt.Errorf("onnximport: %s: %s: %s: %w", r.file, where, what, err)
}
