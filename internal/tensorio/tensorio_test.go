package tensorio

import (
	"bytes"
	"testing"

	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Outputs are written in their own dtype, bit for bit, never up-cast.
func TestToSafetensorsKeepsDType(t *testing.T) {
	mk := func(t *runtime.Tensor, err error) *runtime.Tensor {
		if err != nil {
			panic(err)
		}
		return t
	}
	for _, tc := range []struct {
		name string
		t    *runtime.Tensor
		want safetensors.DType
		raw  []byte
	}{
		{"float16", mk(runtime.NewFloat16([]int64{2}, []uint16{0x3c00, 0xc000})), safetensors.DTypeF16, []byte{0x00, 0x3c, 0x00, 0xc0}},
		{"bfloat16", mk(runtime.NewBFloat16([]int64{2}, []uint16{0x3f80, 0x4049})), safetensors.DTypeBF16, []byte{0x80, 0x3f, 0x49, 0x40}},
		{"float32", mk(runtime.NewFloat32([]int64{1}, []float32{1})), safetensors.DTypeF32, []byte{0, 0, 0x80, 0x3f}},
		{"float64", mk(runtime.NewFloat64([]int64{1}, []float64{1})), safetensors.DTypeF64, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
		{"int32", mk(runtime.NewInt32([]int64{1}, []int32{-2})), safetensors.DTypeI32, []byte{0xfe, 0xff, 0xff, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := ToSafetensors("out.", map[string]*runtime.Tensor{"y": tc.t})
			if err != nil {
				t.Fatal(err)
			}
			data, err := safetensors.Encode(ts, nil)
			if err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Parse(data, "out.safetensors")
			if err != nil {
				t.Fatal(err)
			}
			info, ok := f.Info("out.y")
			if !ok || info.DType != tc.want {
				t.Fatalf("out.y: %+v (found %v), want dtype %v", info, ok, tc.want)
			}
			raw, _ := f.Bytes("out.y")
			if !bytes.Equal(raw, tc.raw) {
				t.Fatalf("bytes % x, want % x", raw, tc.raw)
			}
		})
	}
}
