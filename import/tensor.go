package onnximport

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/extdata"
	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
	"github.com/xt2onnx/xt2onnx/internal/sysmem"
)

// tensor converts a TensorProto, whatever field holds its data, into a
// tensor with little-endian raw data.
func (r *reader) tensor(tp *onnxpb.TensorProto, where string) (*graph.Tensor, error) {
	if tp.GetSegment() != nil {
		return nil, r.unsupported(where, "segmented tensors are not supported")
	}
	dt := graph.DType(tp.GetDataType())
	size := dt.Size()
	if dt.Bits() == 0 {
		return nil, r.unsupported(where, "element type %s (%d) is not supported", onnxpb.TensorProto_DataType(dt), int32(dt))
	}
	if size == 0 {
		size = 1 // int4, uint4: packed, the bound below is loose by 2
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
	nbytes := dt.ByteSize(n)

	var raw []byte
	switch {
	case tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL:
		if r.skipExt {
			// Checked as if read (confinement, kind, size), never read.
			if _, _, err := r.externalRef(tp, where, nbytes); err != nil {
				return nil, err
			}
			return t, nil
		}
		var err error
		if raw, err = r.external(tp, where, nbytes); err != nil {
			return nil, err
		}
	case tp.RawData != nil:
		raw = tp.RawData
	case r.skipData && !hasTypedData(tp):
		return t, nil // raw_data stripped (ReadOptions.SkipTensorData)
	case dt.Size() == 0:
		return nil, r.unsupported(where, "%s data outside raw_data (int32_data) is not supported; store it as raw_data", dt)
	default:
		// Count before converting: the dims, not the data, could be the lie.
		field, count := typedLen(tp, dt)
		if int64(count) != n {
			return nil, r.formatErr(where, "shape %v of %s needs %d elements, %s holds %d (and raw_data is absent)", tp.GetDims(), dt, n, field, count)
		}
		raw, _, _ = typedData(tp, dt, size)
	}
	if int64(len(raw)) != nbytes {
		return nil, r.formatErr(where, "shape %v of %s needs %d bytes of data, found %d", tp.GetDims(), dt, nbytes, len(raw))
	}
	if len(raw) > 0 {
		t.Raw = raw
	}
	return t, nil
}

// typedLen returns the name and element count of the typed data field
// that the format uses for dt.
func typedLen(tp *onnxpb.TensorProto, dt graph.DType) (field string, count int) {
	switch dt {
	case graph.Float:
		return "float_data", len(tp.GetFloatData())
	case graph.Double:
		return "double_data", len(tp.GetDoubleData())
	case graph.Int64:
		return "int64_data", len(tp.GetInt64Data())
	case graph.Uint32, graph.Uint64:
		return "uint64_data", len(tp.GetUint64Data())
	}
	return "int32_data", len(tp.GetInt32Data())
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
// entries, inside the model's directory. The location, the file's kind and
// the range offset+length are checked against the file's real size
// (externalRef), and the length against the tensor budget, before any
// memory is allocated; a mapped read aliases the mapping instead.
func (r *reader) external(tp *onnxpb.TensorProto, where string, nbytes int64) ([]byte, error) {
	ef, offset, err := r.externalRef(tp, where, nbytes)
	if err != nil {
		return nil, err
	}
	length := nbytes
	location := externalLocation(tp)
	if lim := r.limit(); length > lim {
		return nil, r.formatErr(where, "external data of %s exceeds the tensor budget of %s", sysmem.FormatBytes(length), sysmem.FormatBytes(lim))
	}
	if r.mapped {
		data, err := ef.Map()
		if err != nil {
			return nil, r.ioErr(where, fmt.Sprintf("mapping external data %q", location), err)
		}
		if int64(len(data)) < offset+length {
			return nil, r.formatErr(where, "external data file %q shrank to %d bytes, the tensor needs offset %d + length %d", location, len(data), offset, length)
		}
		return data[offset : offset+length : offset+length], nil
	}
	buf := make([]byte, length)
	if err := ef.ReadAt(buf, offset); err != nil {
		return nil, r.ioErr(where, fmt.Sprintf("reading external data %q", location), err)
	}
	return buf, nil
}

func (r *reader) ioErr(where, what string, err error) error {
	return fmt.Errorf("onnximport: %s: %s: %s: %w", r.file, where, what, err)
}

// hasTypedData reports whether tp holds data in one of the typed fields.
func hasTypedData(tp *onnxpb.TensorProto) bool {
	return len(tp.GetFloatData())+len(tp.GetDoubleData())+len(tp.GetInt32Data())+len(tp.GetInt64Data())+len(tp.GetUint64Data())+len(tp.GetStringData()) > 0
}

// externalRef checks a tensor's external data reference (location inside
// the model's directory, a regular file, holding offset + length bytes
// that match the tensor) and returns the opened file and the offset.
func (r *reader) externalRef(tp *onnxpb.TensorProto, where string, nbytes int64) (*extdata.File, int64, error) {
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
			return nil, 0, r.formatErr(where, "external data %s %q is not a non-negative integer", e.GetKey(), e.GetValue())
		}
	}
	if location == "" {
		return nil, 0, r.formatErr(where, "external data has no location")
	}
	if r.ext == nil {
		return nil, 0, fmt.Errorf("onnximport: %s: data is in external file %q, which Read cannot resolve: use ReadFile, which looks for it next to the model file", where, location)
	}
	if length < 0 {
		length = nbytes
	}
	if length != nbytes {
		return nil, 0, r.formatErr(where, "external data length %d does not match shape %v of %s (%d bytes)", length, tp.GetDims(), graph.DType(tp.GetDataType()), nbytes)
	}
	ef, problem, err := r.ext.Open(location)
	if err != nil {
		return nil, 0, r.ioErr(where, fmt.Sprintf("external data %q", location), err)
	}
	if problem != "" {
		return nil, 0, &ExternalDataError{File: r.file, Where: where, Location: location, Problem: problem}
	}
	if offset > ef.Size || length > ef.Size-offset {
		return nil, 0, r.formatErr(where, "external data file %q holds %d bytes, the tensor needs offset %d + length %d", location, ef.Size, offset, length)
	}
	return ef, offset, nil
}

// externalLocation returns the location entry of tp's external data.
func externalLocation(tp *onnxpb.TensorProto) string {
	for _, e := range tp.GetExternalData() {
		if e.GetKey() == "location" {
			return e.GetValue()
		}
	}
	return ""
}
