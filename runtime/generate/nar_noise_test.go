package generate

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// fakeNAR is a toy non-causal model for NonAutoregressive: every position
// prefers token 0 (logits 0, -1, -2, …). It records the tokens of every
// call.
type fakeNAR struct {
	vocab int
	mu    sync.Mutex
	calls [][]int64
}

func (f *fakeNAR) Inputs() []runtime.ValueInfo {
	return []runtime.ValueInfo{{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}}}
}

func (f *fakeNAR) Outputs() []runtime.ValueInfo {
	return []runtime.ValueInfo{{Name: "logits", DType: runtime.Float32, Shape: []int64{-1, -1, int64(f.vocab)}}}
}

func (f *fakeNAR) Close() error { return nil }

func (f *fakeNAR) Run(_ context.Context, in map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	shape := in["x"].Shape()
	x, _ := in["x"].Int64s()
	f.mu.Lock()
	f.calls = append(f.calls, append([]int64(nil), x...))
	f.mu.Unlock()
	logits := make([]float32, len(x)*f.vocab)
	for i := range logits {
		logits[i] = -float32(i % f.vocab)
	}
	t, err := runtime.NewFloat32([]int64{shape[0], shape[1], int64(f.vocab)}, logits)
	return map[string]*runtime.Tensor{"logits": t}, err
}

// fakeCritic scores position j of every row scores[j].
type fakeCritic struct{ scores []float32 }

func (f *fakeCritic) Inputs() []runtime.ValueInfo {
	return []runtime.ValueInfo{{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}}}
}

func (f *fakeCritic) Outputs() []runtime.ValueInfo {
	return []runtime.ValueInfo{{Name: "critic", DType: runtime.Float32, Shape: []int64{-1, -1}}}
}

func (f *fakeCritic) Close() error { return nil }

func (f *fakeCritic) Run(_ context.Context, in map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	shape := in["x"].Shape()
	out := make([]float32, shape[0]*shape[1])
	for i := range out {
		out[i] = f.scores[i%int(shape[1])]
	}
	t, err := runtime.NewFloat32(shape, out)
	return map[string]*runtime.Tensor{"critic": t}, err
}

// TestCriticNoiseDistribution checks the critic's noise as 1.9.2 adds it,
// statistically (PyTorch's RNG is not reproduced): two positions with
// critic scores 0 and Δ, two linear steps, so that step 1 (annealing
// scale (2-1-0)/2 = 1/2) masks one of them again. With Gumbel noise of
// scale c = noise_level_scale/2 on each score, position 1 is masked with
// probability P(Δ + c·g₁ > c·g₀) = sigmoid(Δ/c) (the difference of two
// Gumbels is logistic). 40,000 independent rows per case; the frequency
// must lie within 5 standard errors. Without noise position 1 always wins.
func TestCriticNoiseDistribution(t *testing.T) {
	nar := &NARMeta{MaskID: 3, Steps: 2, Schedule: ScheduleLinear, Critic: CriticToken}
	for _, tt := range []struct {
		delta, scale float64
		noNoise      bool
	}{{0.5, 1, false}, {0.5, 2, false}, {0, 1, false}, {-1, 0, false}, {0.5, 1, true}} {
		lm := &fakeNAR{vocab: 4}
		n, err := NewNonAutoregressive(lm, Meta{Kind: KindTransformerWrapper, MaxSeqLen: 2, NumTokens: 4, NAR: nar})
		if err != nil {
			t.Fatal(err)
		}
		cm := *nar
		if err := n.SetCritic(&fakeCritic{scores: []float32{0, float32(tt.delta)}}, Meta{Kind: KindTransformerWrapper, MaxSeqLen: 2, NumTokens: 4, Part: PartCritic, NAR: &cm}); err != nil {
			t.Fatal(err)
		}
		const rows = 40000
		o := n.Defaults()
		o.Batch, o.Greedy, o.NoiseLevelScale, o.NoCriticNoise, o.Seed = rows, true, tt.scale, tt.noNoise, 7
		out, err := n.Generate(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(lm.calls) != 2 || out[0][0] != 0 || out[0][1] != 0 {
			t.Fatalf("%d calls, first row %v: want 2 steps ending in token 0", len(lm.calls), out[0])
		}
		second := lm.calls[1]
		masked1 := 0
		for r := range rows {
			m0, m1 := second[2*r] == 3, second[2*r+1] == 3
			if m0 == m1 {
				t.Fatalf("row %d: step 2 got %v: want exactly one position masked", r, second[2*r:2*r+2])
			}
			if m1 {
				masked1++
			}
		}
		scale := tt.scale
		if scale == 0 {
			scale = 1 // NoiseLevelScale 0 means 1.9.2's default 1
		}
		c := scale / 2
		p := 1 / (1 + math.Exp(-tt.delta/c))
		if tt.noNoise {
			p = 1
		}
		se := math.Sqrt(p * (1 - p) / rows)
		if f := float64(masked1) / rows; math.Abs(f-p) > 5*se+1e-12 {
			t.Errorf("Δ=%g noise_level_scale=%g noise=%v: position 1 masked in %.4f of rows, want %.4f ± %.4f", tt.delta, tt.scale, !tt.noNoise, f, p, 5*se)
		}
	}
}
