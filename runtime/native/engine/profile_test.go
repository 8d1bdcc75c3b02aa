package engine

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// TestProfilePreset prints where a forward pass of a preset spends its
// time, per operator: PROFILE=base (or small, tiny) PROFILE_SEQ=128
// PROFILE_BATCH=1 PROFILE_THREADS=1 PROFILE_RUNS=10. It does nothing
// otherwise.
func TestProfilePreset(t *testing.T) {
	name := os.Getenv("PROFILE")
	if name == "" {
		t.Skip("set PROFILE to a preset name")
	}
	seq, _ := strconv.Atoi(os.Getenv("PROFILE_SEQ"))
	if seq == 0 {
		seq = 128
	}
	batch, _ := strconv.Atoi(os.Getenv("PROFILE_BATCH"))
	if batch == 0 {
		batch = 1
	}
	runs, _ := strconv.Atoi(os.Getenv("PROFILE_RUNS"))
	if runs == 0 {
		runs = 10
	}
	threads, _ := strconv.Atoi(os.Getenv("PROFILE_THREADS"))
	cfg, _ := builder.Preset(name)
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := export.Marshal(m, export.Options{})
	mr, _ := onnximport.Read(b)
	pm, err := Prepare(mr, kernels.DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(pm, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, batch*seq)
	for i := range ids {
		ids[i] = int64(i % 200)
	}
	in := map[string]*tensor.Dense{"x": kernels.FromSlice([]int{batch, seq}, ids)}
	arena, pool := kernels.NewArena(), kernels.NewPool(threads)
	prof := &Profile{}
	for i := 0; i < runs+2; i++ {
		o := RunOptions{Workers: pool}
		if i >= 2 {
			o.Profile = prof
		}
		if _, err := p.Execute(context.Background(), arena, in, o); err != nil {
			t.Fatal(err)
		}
		arena.Reset()
	}
	fmt.Printf("%s batch %d seq %d, %d steps (%d folded), %d runs:\n%s", name, batch, seq, p.Steps(), p.Folded(), runs, prof)
}
