package native

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// TestRunInto checks that RunInto copies an output into the caller's
// tensor (the values Run returns, in the given memory) and refuses an
// unknown output, a non-float32 tensor and a wrong shape.
func TestRunInto(t *testing.T) {
	cfg, err := builder.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := export.Marshal(m, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.OpenBytes(data, runtime.Options{Backend: "native"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x, _ := runtime.NewInt64([]int64{1, 3}, []int64{1, 2, 3})
	in := map[string]*runtime.Tensor{"x": x}
	want, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	wantVals, _ := want["logits"].Float32s()
	buf := make([]float32, len(wantVals))
	dst, _ := runtime.NewFloat32([]int64{1, 3, 256}, buf)
	got, err := s.(runtime.IntoRunner).RunInto(context.Background(), in, map[string]*runtime.Tensor{"logits": dst})
	if err != nil {
		t.Fatal(err)
	}
	if got["logits"] != dst || !slices.Equal(buf, wantVals) {
		t.Errorf("RunInto did not write Run's logits into the given buffer")
	}
	i64, _ := runtime.NewInt64([]int64{1, 3, 256}, make([]int64, 768))
	small, _ := runtime.NewFloat32([]int64{1, 2, 256}, make([]float32, 512))
	for _, tc := range []struct {
		name string
		into map[string]*runtime.Tensor
		want string
	}{
		{"unknown", map[string]*runtime.Tensor{"out": dst}, `RunInto names output "out"`},
		{"dtype", map[string]*runtime.Tensor{"logits": i64}, "RunInto writes float32 outputs only"},
		{"shape", map[string]*runtime.Tensor{"logits": small}, "does not fit the given"},
	} {
		if _, err := s.(runtime.IntoRunner).RunInto(context.Background(), in, tc.into); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
