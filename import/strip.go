package onnximport

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of onnx.proto that stripTensorData follows.
const (
	fieldModelGraph       = 7 // ModelProto.graph
	fieldGraphInitializer = 5 // GraphProto.initializer
	fieldTensorRawData    = 9 // TensorProto.raw_data
)

// stripTensorData returns the ModelProto bytes b without the raw_data of
// the main graph's initializers, so that decoding the rest copies no
// weight. The dropped bytes are only skipped over, never read (b may be a
// memory mapping whose weight pages are never touched).
func stripTensorData(b []byte) ([]byte, error) {
	return rewrite(b, 0)
}

// rewrite copies the fields of the message b, at depth 0 (ModelProto), 1
// (GraphProto) or 2 (TensorProto), recursing into the graph and its
// initializers and dropping raw_data.
func rewrite(b []byte, depth int) ([]byte, error) {
	out := make([]byte, 0, min(len(b), 1<<20))
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		tag := b[:n]
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		field := b[:n+m]
		b = b[n+m:]
		descend := typ == protowire.BytesType &&
			((depth == 0 && num == fieldModelGraph) || (depth == 1 && num == fieldGraphInitializer))
		switch {
		case depth == 2 && num == fieldTensorRawData:
			continue
		case descend:
			val, k := protowire.ConsumeBytes(field[len(tag):])
			if k < 0 {
				return nil, protowire.ParseError(k)
			}
			sub, err := rewrite(val, depth+1)
			if err != nil {
				return nil, fmt.Errorf("field %d: %w", num, err)
			}
			out = append(out, tag...)
			out = protowire.AppendBytes(out, sub)
		default:
			out = append(out, field...)
		}
	}
	return out, nil
}
