package generate

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// hugeCacheLM declares a buffer-layout cache whose heads and widths (read
// from a hostile model file) multiply past any memory; Run must never be
// reached.
type hugeCacheLM struct{}

func (hugeCacheLM) Inputs() []runtime.ValueInfo {
	return []runtime.ValueInfo{
		{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}},
		{Name: "cache_key_0", DType: runtime.Float32, Shape: []int64{-1, 1 << 20, 1 << 20, -1}, DimNames: []string{"batch", "", "", "cache_capacity"}},
		{Name: "cache_value_0", DType: runtime.Float32, Shape: []int64{-1, 1 << 20, -1, 1 << 20}, DimNames: []string{"batch", "", "cache_capacity", ""}},
		{Name: "cache_len", DType: runtime.Int64, Shape: []int64{1}},
	}
}

func (hugeCacheLM) Outputs() []runtime.ValueInfo {
	return []runtime.ValueInfo{
		{Name: "logits", DType: runtime.Float32, Shape: []int64{-1, -1, 8}},
		{Name: "new_key_0", DType: runtime.Float32, Shape: []int64{-1, 1 << 20, 1 << 20, -1}},
		{Name: "new_value_0", DType: runtime.Float32, Shape: []int64{-1, 1 << 20, -1, 1 << 20}},
	}
}

func (hugeCacheLM) Run(context.Context, map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	return nil, errors.New("Run must not be reached")
}

func (hugeCacheLM) Close() error { return nil }

// TestBufferCacheBudget checks that a model declaring a cache larger than
// the tensor budget is refused with an error before anything is allocated,
// by the generator and by NewCache.
func TestBufferCacheBudget(t *testing.T) {
	g, err := New(hugeCacheLM{}, Meta{Kind: KindTransformerWrapper, Causal: true, MaxSeqLen: 64, NumTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Generate(context.Background(), [][]int64{{1, 2}}, Options{MaxNew: 2, Greedy: true})
	if err == nil || !strings.Contains(err.Error(), "more than the tensor budget") {
		t.Errorf("Generate: got %v, want the tensor budget error", err)
	}
	if _, err := NewCache(hugeCacheLM{}, 1); err == nil || !strings.Contains(err.Error(), "more than the tensor budget") {
		t.Errorf("NewCache: got %v, want the tensor budget error", err)
	}
}

// TestGrownCapacity pins the growth rule: powers of two from 16, capped at
// the window while the need fits it.
func TestGrownCapacity(t *testing.T) {
	for _, tt := range []struct{ need, maxSeq, want int }{
		{1, 0, 16}, {16, 0, 16}, {17, 0, 32}, {1000, 1024, 1024}, {1000, 1000, 1000},
		{600, 1000, 1000}, {1001, 1000, 1024}, {5, 8, 8}, {33, 0, 64},
	} {
		if got := grownCapacity(tt.need, tt.maxSeq); got != tt.want {
			t.Errorf("grownCapacity(%d, %d) = %d, want %d", tt.need, tt.maxSeq, got, tt.want)
		}
	}
}
