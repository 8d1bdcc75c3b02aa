package safetensors

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/xt2onnx/xt2onnx/internal/atomicfile"
)

// Tensor is a tensor to be written: its raw little-endian, row-major Data
// must hold exactly the bytes its DType and Shape call for.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64 // empty for a scalar
	Data  []byte
}

// F32 returns an F32 tensor holding a little-endian copy of data.
func F32(name string, shape []int64, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: DTypeF32, Shape: shape, Data: b}
}

// F64 returns an F64 tensor holding a little-endian copy of data.
func F64(name string, shape []int64, data []float64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return Tensor{Name: name, DType: DTypeF64, Shape: shape, Data: b}
}

// I64 returns an I64 tensor holding a little-endian copy of data.
func I64(name string, shape []int64, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: DTypeI64, Shape: shape, Data: b}
}

// U8 returns a U8 tensor whose Data is data itself (not a copy).
func U8(name string, shape []int64, data []uint8) Tensor {
	return Tensor{Name: name, DType: DTypeU8, Shape: shape, Data: data}
}

// Bool returns a BOOL tensor storing each element as one byte, 0 or 1.
func Bool(name string, shape []int64, data []bool) Tensor {
	b := make([]byte, len(data))
	for i, v := range data {
		if v {
			b[i] = 1
		}
	}
	return Tensor{Name: name, DType: DTypeBool, Shape: shape, Data: b}
}

// Encode returns the safetensors file holding tensors and metadata (which
// may be nil; an empty map writes no "__metadata__"). Its output is
// byte-identical to the reference implementation's: tensors are laid out by
// decreasing dtype alignment, then by name, and the header is padded with
// spaces to a multiple of 8 bytes. Invalid tensors give an *Error naming them.
func Encode(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	p, err := prepare("", tensors, metadata)
	if err != nil {
		return nil, err
	}
	total := 8 + int64(len(p.header)) + p.dataLen
	if total > math.MaxInt {
		return nil, formatErr("", "", ErrShape, "encoded file would be %d bytes, too large for memory on this platform; use Write", total)
	}
	out := make([]byte, 0, total)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(p.header)))
	out = append(out, p.header...)
	for _, i := range p.order {
		out = append(out, tensors[i].Data...)
	}
	return out, nil
}

// Write writes tensors and metadata to path in the format Encode produces,
// atomically: the data goes to a temporary file in the same directory, which
// is synced and then renamed over path, and the directory is synced (see
// internal/atomicfile). On any error, or when the process is interrupted
// (atomicfile.Abort), no output is left behind and an existing file at
// path is untouched. The file gets mode 0644.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	p, err := prepare(path, tensors, metadata)
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		var prefix [8]byte
		binary.LittleEndian.PutUint64(prefix[:], uint64(len(p.header)))
		if _, err := w.Write(prefix[:]); err != nil {
			return err
		}
		if _, err := w.Write(p.header); err != nil {
			return err
		}
		for _, i := range p.order {
			if _, err := w.Write(tensors[i].Data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	return nil
}

// prepared is a validated header plus the order tensors' data follows it in.
type prepared struct {
	header  []byte // JSON, space-padded to a multiple of 8 bytes
	order   []int  // indices into the tensors slice, in data order
	dataLen int64
}

// prepare validates tensors and metadata and builds the header; file names
// the output in errors.
func prepare(file string, tensors []Tensor, metadata map[string]string) (*prepared, error) {
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		if err := checkTensor(file, i, t); err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, formatErr(file, t.Name, ErrName, "tensor name used twice; names must be unique")
		}
		seen[t.Name] = true
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, formatErr(file, "", ErrHeader, "metadata entry %q is not valid UTF-8", k)
		}
	}

	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	// The reference sorts by decreasing dtype (its enum is in increasing
	// alignment order), then by name, so every tensor is naturally aligned.
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(tensors[b].DType, tensors[a].DType), cmp.Compare(tensors[a].Name, tensors[b].Name))
	})

	h := []byte{'{'}
	if len(metadata) > 0 {
		h = appendJSONString(h, metadataKey)
		h = append(h, ":{"...)
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendJSONString(h, k)
			h = append(h, ':')
			h = appendJSONString(h, metadata[k])
		}
		h = append(h, '}')
	}
	var off int64
	for n, i := range order {
		t := tensors[i]
		if n > 0 || len(metadata) > 0 {
			h = append(h, ',')
		}
		h = appendJSONString(h, t.Name)
		h = append(h, `:{"dtype":"`...)
		h = append(h, t.DType.String()...)
		h = append(h, `","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, d, 10)
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendInt(h, off, 10)
		h = append(h, ',')
		off += int64(len(t.Data))
		h = strconv.AppendInt(h, off, 10)
		h = append(h, "]}"...)
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > maxHeaderSize {
		return nil, formatErr(file, "", ErrHeader, "header would be %d bytes, over the %d-byte limit readers accept", len(h), maxHeaderSize)
	}
	return &prepared{header: h, order: order, dataLen: off}, nil
}

// checkTensor validates the i-th tensor given to the writer.
func checkTensor(file string, i int, t Tensor) error {
	switch {
	case t.Name == "":
		return formatErr(file, "", ErrName, "tensor #%d has an empty name", i)
	case t.Name == metadataKey:
		return formatErr(file, t.Name, ErrName, "name is reserved for the header's metadata")
	case !utf8.ValidString(t.Name):
		return formatErr(file, t.Name, ErrName, "name is not valid UTF-8")
	case !t.DType.valid():
		return formatErr(file, t.Name, ErrDType, "invalid dtype %s (use one of the DType constants)", t.DType)
	}
	size, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return &Error{File: file, Tensor: t.Name, Kind: ErrShape, Msg: err.Error()}
	}
	if int64(len(t.Data)) != size {
		msg := fmt.Sprintf("shape %v of %s needs %d bytes but Data has %d", t.Shape, t.DType, size, len(t.Data))
		if es := t.DType.Size(); es > 0 && len(t.Data)%es == 0 {
			msg += fmt.Sprintf(" (%d elements)", len(t.Data)/es)
		}
		return formatErr(file, t.Name, ErrShape, "%s", msg)
	}
	return nil
}

// appendJSONString appends s as a JSON string escaped exactly as serde_json
// (the reference writer) does: only '"', '\\' and control characters.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
