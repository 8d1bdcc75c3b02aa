package export

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/atomicfile"
	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
)

// externalLayout places the external initializers in the data file: each
// at the next 64-byte aligned offset, in graph order.
type externalLayout struct {
	location string // the data file's name, relative to the model
	size     int64
	tensors  []externalTensor
}

type externalTensor struct {
	t      *graph.Tensor
	offset int64
}

// add places t and returns its TensorProto, an external reference.
func (l *externalLayout) add(t *graph.Tensor) (*onnxpb.TensorProto, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	off := (l.size + ExternalDataAlign - 1) / ExternalDataAlign * ExternalDataAlign
	n := t.ByteSize()
	l.tensors = append(l.tensors, externalTensor{t: t, offset: off})
	l.size = off + n
	entry := func(k, v string) *onnxpb.StringStringEntryProto {
		return &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)}
	}
	return &onnxpb.TensorProto{
		Dims:         t.Dims,
		DataType:     proto.Int32(int32(t.DType)),
		Name:         optString(t.Name),
		DocString:    optString(t.Doc),
		DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
		ExternalData: []*onnxpb.StringStringEntryProto{
			entry("location", l.location),
			entry("offset", strconv.FormatInt(off, 10)),
			entry("length", strconv.FormatInt(n, 10)),
		},
	}, nil
}

// writeData streams every placed tensor to w, zero padding between them.
func (l *externalLayout) writeData(w io.Writer) error {
	var pos int64
	var pad [ExternalDataAlign]byte
	for _, et := range l.tensors {
		if gap := et.offset - pos; gap > 0 {
			if _, err := w.Write(pad[:gap]); err != nil {
				return err
			}
		}
		if err := et.t.WriteData(w); err != nil {
			return err
		}
		pos = et.offset + et.t.ByteSize()
	}
	return nil
}

// writeExternal writes m to path with its large initializers in
// ExternalDataPath(path): the data file first, then the model, each
// atomically.
func writeExternal(path string, m *graph.Model, opts Options) error {
	dataPath := ExternalDataPath(path)
	l := &externalLayout{location: filepath.Base(dataPath)}
	mp, err := toProto(m, opts, l)
	if err != nil {
		return err
	}
	mo := proto.MarshalOptions{Deterministic: true}
	if size := int64(mo.Size(mp)); size > maxBytes {
		return fmt.Errorf("%w: without its external data it still serialises to %d bytes (%.2f GiB)",
			ErrTooLarge, size, float64(size)/(1<<30))
	}
	data, err := mo.Marshal(mp)
	if err != nil {
		return fmt.Errorf("export: encoding ModelProto: %w", err)
	}
	if err := atomicfile.Write(dataPath, l.writeData); err != nil {
		return fmt.Errorf("export: writing external data %s: %w", dataPath, err)
	}
	return writeAtomic(path, data)
}
