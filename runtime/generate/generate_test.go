package generate

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// lm returns m as the Meta of a causal TransformerWrapper, the models the
// generator accepts.
func lm(m Meta) Meta {
	m.Kind, m.Causal = KindTransformerWrapper, true
	return m
}

// greedyReference continues each row greedily under fakeLM, on windows of
// the last maxSeqLen tokens (0: all), straight from the definition.
func greedyReference(start [][]int64, maxNew, maxSeqLen, vocab int) [][]int64 {
	out := make([][]int64, len(start))
	for r, row := range start {
		seq := slices.Clone(row)
		for range maxNew {
			w := seq
			if maxSeqLen > 0 && len(w) > maxSeqLen {
				w = w[len(w)-maxSeqLen:]
			}
			seq = append(seq, int64(fakeBest(w, vocab)))
		}
		out[r] = seq[len(row):]
	}
	return out
}

func TestGreedyCacheAndWindow(t *testing.T) {
	start := [][]int64{{1, 2, 3}, {4, 0, 6}}
	for _, tt := range []struct {
		name      string
		cache     bool
		noCache   bool
		mask      bool
		maxSeqLen int
		maxNew    int
		// wantCalls lists the (new tokens, cached tokens) of every run.
		wantCalls []fakeCall
	}{
		{name: "no cache, window fits", maxSeqLen: 16, maxNew: 4,
			wantCalls: []fakeCall{{3, 0}, {4, 0}, {5, 0}, {6, 0}}},
		{name: "no cache, mask input", mask: true, maxSeqLen: 16, maxNew: 2,
			wantCalls: []fakeCall{{3, 0}, {4, 0}}},
		{name: "no cache, window slides", maxSeqLen: 5, maxNew: 5,
			wantCalls: []fakeCall{{3, 0}, {4, 0}, {5, 0}, {5, 0}, {5, 0}}},
		{name: "no window limit", maxNew: 3,
			wantCalls: []fakeCall{{3, 0}, {4, 0}, {5, 0}}},
		{name: "cache, prefill then one token a step", cache: true, maxSeqLen: 16, maxNew: 4,
			wantCalls: []fakeCall{{3, 0}, {1, 3}, {1, 4}, {1, 5}}},
		{name: "cache forced off", cache: true, noCache: true, maxSeqLen: 16, maxNew: 3,
			wantCalls: []fakeCall{{3, 0}, {4, 0}, {5, 0}}},
		{name: "cache, window slides: re-prefill each step", cache: true, maxSeqLen: 5, maxNew: 6,
			wantCalls: []fakeCall{{3, 0}, {1, 3}, {1, 4}, {5, 0}, {5, 0}, {5, 0}}},
		{name: "cache, prompt longer than the window", cache: true, maxSeqLen: 2, maxNew: 3,
			wantCalls: []fakeCall{{2, 0}, {2, 0}, {2, 0}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeLM{vocab: 11, cache: tt.cache, mask: tt.mask}
			g, err := New(f, lm(Meta{MaxSeqLen: tt.maxSeqLen, NumTokens: 11}))
			if err != nil {
				t.Fatal(err)
			}
			if g.HasCache() != tt.cache {
				t.Errorf("HasCache() = %v, want %v", g.HasCache(), tt.cache)
			}
			var cachedSteps []bool
			got, err := g.Generate(context.Background(), start, Options{MaxNew: tt.maxNew, Greedy: true, NoCache: tt.noCache,
				OnStep: func(s Step) error { cachedSteps = append(cachedSteps, s.Cached); return nil }})
			if err != nil {
				t.Fatal(err)
			}
			if want := greedyReference(start, tt.maxNew, tt.maxSeqLen, 11); !reflect.DeepEqual(got, want) {
				t.Errorf("tokens %v, want %v", got, want)
			}
			if !reflect.DeepEqual(f.calls, tt.wantCalls) {
				t.Errorf("runs (new, cached) %v, want %v", f.calls, tt.wantCalls)
			}
			for i, c := range tt.wantCalls {
				if cachedSteps[i] != (c.past > 0) {
					t.Errorf("step %d: Step.Cached = %v, want %v", i+1, cachedSteps[i], c.past > 0)
				}
			}
		})
	}
}

func TestSeedReproducible(t *testing.T) {
	f := &fakeLM{vocab: 11, cache: true}
	g, err := New(f, lm(Meta{MaxSeqLen: 8}))
	if err != nil {
		t.Fatal(err)
	}
	start := [][]int64{{1, 2}, {3, 4}, {5, 6}}
	// fakeLM's probabilities are 0.632, 0.233, 0.086, 0.031, …: top-k
	// thres 0.5 keeps 6 tokens, top-p thres 0.1 keeps 3, top-a all.
	thres := map[Filter]float64{FilterTopK: 0.5, FilterTopP: 0.1}
	gen := func(seed uint64, filter Filter) [][]int64 {
		t.Helper()
		out, err := g.Generate(context.Background(), start, Options{MaxNew: 24, Seed: seed, Filter: filter, FilterThres: thres[filter], Temperature: 2})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, filter := range []Filter{FilterTopK, FilterTopP, FilterTopA} {
		a, b, c := gen(7, filter), gen(7, filter), gen(8, filter)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: seed 7 gave %v, then %v", filter, a, b)
		}
		if reflect.DeepEqual(a, c) {
			t.Errorf("%s: seeds 7 and 8 both gave %v", filter, a)
		}
	}
}

func TestTopKStaysInTopK(t *testing.T) {
	// vocab 10, thres 0.7: k = ceil(0.30000000000000004·10) = 4 as in Python.
	logits := []float32{0.5, 3, -1, 2.5, 0, 2, 1.5, -2, 1, 2.2}
	allowed := map[int64]bool{1: true, 3: true, 9: true, 5: true} // the 4 largest
	g, err := New(fixedSession(logits), lm(Meta{}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Generate(context.Background(), [][]int64{{0}, {1}, {2}, {3}}, Options{MaxNew: 200, FilterThres: 0.7, Temperature: 5, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	for _, row := range out {
		for _, tok := range row {
			if !allowed[tok] {
				t.Fatalf("top-k picked token %d, outside the 4 best %v", tok, allowed)
			}
			seen[tok]++
		}
	}
	if len(seen) != 4 {
		t.Errorf("800 draws at temperature 5 reached only %v of the 4 allowed tokens", seen)
	}
}

func TestTopKCount(t *testing.T) {
	for _, tt := range []struct {
		thres float64
		vocab int
		want  int
	}{
		{0.9, 64, 7},  // ceil(0.09999999999999998·64 = 6.3999…)
		{0.5, 10, 5},  // exact
		{0.7, 10, 4},  // (1-0.7)·10 = 3.0000000000000004 → 4, as Python
		{0.99, 10, 1}, // ceil(0.1000…009) = 1
		{0.999, 10, 1},
		{1e-9, 10, 10},
	} {
		if got := topKCount(tt.thres, tt.vocab); got != tt.want {
			t.Errorf("topKCount(%g, %d) = %d, want %d", tt.thres, tt.vocab, got, tt.want)
		}
	}
}

var negInf = math.Inf(-1)

func TestTopP(t *testing.T) {
	// logits 0, 2, -1, 1 (token ids 0..3). Sorted: token 1 (2), 3 (1), 0 (0),
	// 2 (-1); softmax e^2, e^1, e^0, e^-1 over 11.4752: 0.6439, 0.2369,
	// 0.0871, 0.0321; cumulative 0.6439, 0.8808, 0.9679, 1.
	// 1.9.2 removes sorted position j when the cumulative sum up to j-1
	// exceeds 1 - thres.
	in := []float64{0, 2, -1, 1}
	for _, tt := range []struct {
		thres float64
		want  []float64
	}{
		{0.9, []float64{negInf, 2, negInf, negInf}}, // 0.6439 > 0.1: keep token 1 only
		{0.5, []float64{negInf, 2, negInf, negInf}}, // 0.6439 > 0.5
		{0.2, []float64{negInf, 2, negInf, 1}},      // 0.6439 ≤ 0.8 < 0.8808
		{0.1, []float64{0, 2, negInf, 1}},           // 0.8808 ≤ 0.9 < 0.9679
		{0.01, []float64{0, 2, -1, 1}},              // 0.9679 ≤ 0.99
		{0.35, []float64{negInf, 2, negInf, 1}},     // 0.6439 ≤ 0.65 < 0.8808
	} {
		rows := [][]float64{slices.Clone(in)}
		topP(rows, tt.thres)
		if !reflect.DeepEqual(rows[0], tt.want) {
			t.Errorf("thres %g: %v, want %v", tt.thres, rows[0], tt.want)
		}
	}
}

func TestTopA(t *testing.T) {
	// Row A: logits 2, 1, 0, -1: p = 0.6439, 0.2369, 0.0871, 0.0321.
	// Row B: logits 1, 0, 0, 0: p = e/(e+3) = 0.4754, then 0.1749 ×3.
	// 1.9.2 takes the max over the whole batch: 0.6439, so limit =
	// 0.6439^pow · ratio for both rows.
	a := []float64{2, 1, 0, -1}
	b := []float64{1, 0, 0, 0}
	for _, tt := range []struct {
		name       string
		pow, ratio float64
		wantA      []float64
		wantB      []float64
	}{
		// limit 0.4146·0.02 = 0.0083: everything stays, at logit 1.
		{"defaults", 2, 0.02, []float64{1, 1, 1, 1}, []float64{1, 1, 1, 1}},
		// limit 0.4146·0.5 = 0.2073: A keeps 0.6439 and 0.2369; B keeps
		// only 0.4754 (with B's own max 0.4754 the limit would be 0.1130
		// and B would keep all four).
		{"batch max", 2, 0.5, []float64{1, 1, negInf, negInf}, []float64{1, negInf, negInf, negInf}},
		// pow 1, limit 0.6439·0.2 = 0.1288: A keeps 2, B keeps 1.
		{"pow 1", 1, 0.2, []float64{1, 1, negInf, negInf}, []float64{1, 1, 1, 1}},
	} {
		rows := [][]float64{slices.Clone(a), slices.Clone(b)}
		topA(rows, tt.pow, tt.ratio)
		if !reflect.DeepEqual(rows[0], tt.wantA) || !reflect.DeepEqual(rows[1], tt.wantB) {
			t.Errorf("%s: rows %v, want %v and %v", tt.name, rows, tt.wantA, tt.wantB)
		}
	}
}

func TestTopAFiltersSampling(t *testing.T) {
	// Through Generate: with ratio 0.5 row 1 (logits 1,0,0,0 but the batch
	// max from row 0) can only draw token 0, and row 0 tokens 0 and 1,
	// equally often.
	s := rowSession([][]float32{{2, 1, 0, -1}, {1, 0, 0, 0}})
	g, err := New(s, lm(Meta{}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Generate(context.Background(), [][]int64{{0}, {0}}, Options{MaxNew: 400, Filter: FilterTopA, MinPRatio: 0.5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	count := map[int64]int{}
	for _, tok := range out[0] {
		count[tok]++
	}
	if len(count) != 2 || count[0] < 150 || count[1] < 150 {
		t.Errorf("row 0 drew %v; want tokens 0 and 1 about 200 times each", count)
	}
	for _, tok := range out[1] {
		if tok != 0 {
			t.Fatalf("row 1 drew token %d; only 0 passes top-a", tok)
		}
	}
}

func TestGreedyTies(t *testing.T) {
	g, err := New(fixedSession([]float32{1, 3, 0, 3, 3}), lm(Meta{}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Generate(context.Background(), [][]int64{{0}}, Options{MaxNew: 3, Greedy: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int64{{1, 1, 1}}; !reflect.DeepEqual(out, want) {
		t.Errorf("greedy %v, want %v (lowest id among the tied maxima)", out, want)
	}
	// Top-k with k = 1 (thres 0.99 on 5 tokens) is greedy.
	out, err = g.Generate(context.Background(), [][]int64{{0}}, Options{MaxNew: 3, FilterThres: 0.99, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int64{{1, 1, 1}}; !reflect.DeepEqual(out, want) {
		t.Errorf("top-k k=1 %v, want %v", out, want)
	}
}

func TestEOS(t *testing.T) {
	eos := int64(5)
	for _, tt := range []struct {
		name   string
		start  [][]int64
		maxNew int
		want   [][]int64
	}{
		// Row 1 hits eos at step 1 and keeps going; at step 4 row 0 does
		// too: generation stops, and row 1's tokens after its eos become
		// pad.
		{"stop when all rows hold eos", [][]int64{{1}, {4}}, 10, [][]int64{{2, 3, 4, 5}, {5, -1, -1, -1}}},
		// Not every row reaches eos: nothing is padded (as 1.9.2).
		{"max reached first", [][]int64{{1}, {4}}, 3, [][]int64{{2, 3, 4}, {5, 6, 7}}},
		// eos in every prompt: 1.9.2 stops after one step and pads it.
		{"eos in the prompts", [][]int64{{5, 1}, {2, 5}}, 10, [][]int64{{-1}, {-1}}},
		{"zero steps", [][]int64{{1}}, 0, [][]int64{{}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(succSession(8), lm(Meta{NumTokens: 8}))
			if err != nil {
				t.Fatal(err)
			}
			got, err := g.Generate(context.Background(), tt.start, Options{MaxNew: tt.maxNew, Greedy: true, EOSToken: &eos, PadValue: -1})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	g, err := New(&fakeLM{vocab: 11}, lm(Meta{NumTokens: 11}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		start [][]int64
		opts  Options
		want  string
	}{
		{"no rows", nil, Options{MaxNew: 1}, "generate: no prompt rows: give at least one row of start tokens"},
		{"empty row", [][]int64{{}}, Options{MaxNew: 1}, "generate: prompt row 0 is empty"},
		{"ragged", [][]int64{{1, 2}, {3}}, Options{MaxNew: 1}, "generate: prompt row 1 has 1 tokens and row 0 has 2: all rows must have the same length"},
		{"token out of vocab", [][]int64{{1, 11}}, Options{MaxNew: 1}, "generate: prompt row 0, position 1: token 11 is outside the vocabulary [0, 11)"},
		{"negative token", [][]int64{{-1}}, Options{MaxNew: 1}, "token -1 is outside the vocabulary"},
		{"negative max", [][]int64{{1}}, Options{MaxNew: -1}, "generate: MaxNew -1 is negative"},
		{"bad temperature", [][]int64{{1}}, Options{MaxNew: 1, Temperature: -1}, "generate: temperature -1 must be positive and finite (for the most likely token use Greedy)"},
		{"bad thres", [][]int64{{1}}, Options{MaxNew: 1, FilterThres: 1}, "generate: top-k threshold 1 is outside (0, 1)"},
		{"bad top-p thres", [][]int64{{1}}, Options{MaxNew: 1, Filter: FilterTopP, FilterThres: -0.5}, "generate: top-p threshold -0.5 is outside (0, 1)"},
		{"bad filter", [][]int64{{1}}, Options{MaxNew: 1, Filter: 9}, "generate: unknown filter 9"},
	} {
		_, err := g.Generate(context.Background(), tt.start, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}

	stop := errors.New("stop")
	_, err = g.Generate(context.Background(), [][]int64{{1}}, Options{MaxNew: 5, OnStep: func(s Step) error {
		if s.N == 2 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) {
		t.Errorf("OnStep error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = g.Generate(ctx, [][]int64{{1}}, Options{MaxNew: 5}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		sess *ioSession
		want string
	}{
		{"no x", &ioSession{out: []string{"logits"}}, `generate: the model has no input "x"`},
		{"extra input", &ioSession{in: []string{"x", "context"}, out: []string{"logits"}}, "generate: the model takes inputs generation cannot fill (context: float32[batch seq])"},
		{"past without present", &ioSession{in: []string{"x", "past_key_0"}, out: []string{"logits"}}, `generate: KV-cache input "past_key_0" has no output "present_key_0" to feed it`},
		{"no logits", &ioSession{in: []string{"x"}, out: []string{"embeddings", "other"}}, `generate: the model has no output "logits"`},
	} {
		_, err := New(tt.sess, lm(Meta{}))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestNewRefusesWhatCannotGenerate checks that autoregressive generation
// refuses a model without xt2onnx metadata and every wrapper other than a
// causal TransformerWrapper, naming the wrapper that fits.
func TestNewRefusesWhatCannotGenerate(t *testing.T) {
	sess := &fakeLM{vocab: 11}
	for _, tt := range []struct {
		name string
		meta Meta
		want string // "": accepted
	}{
		{"decoder", Meta{Kind: KindTransformerWrapper, Causal: true}, ""},
		{"no metadata", Meta{MaxSeqLen: 8}, "carries no xt2onnx metadata (xt2onnx.config)"},
		{"encoder", Meta{Kind: KindTransformerWrapper}, "NonAutoregressiveWrapper"},
		{"continuous decoder", Meta{Kind: KindContinuousTransformerWrapper, Causal: true}, "ContinuousAutoregressiveWrapper"},
		{"continuous encoder", Meta{Kind: KindContinuousTransformerWrapper}, "no x-transformers wrapper generates with it"},
		{"xtransformer", Meta{Kind: KindXTransformer, Causal: true}, "XTransformer.generate"},
		{"vit", Meta{Kind: "ViTransformerWrapper"}, "ViTransformerWrapper: no x-transformers wrapper"},
		{"cross attender", Meta{Kind: "CrossAttender"}, "CrossAttender: no x-transformers wrapper"},
	} {
		_, err := New(sess, tt.meta)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestGumbelMaxDistribution checks the statistics of the
// NonAutoregressiveWrapper sampler (PyTorch's RNG cannot be reproduced, so
// sampled sequences are compared by distribution): over 200000 draws each
// token's frequency is within 5 standard errors of softmax(logits/T), and
// a filtered (-Inf) token is never drawn.
func TestGumbelMaxDistribution(t *testing.T) {
	logits := []float64{0, 1, 2, math.Inf(-1), 0.5}
	for _, temp := range []float64{0.5, 1, 2} {
		rng := rand.New(rand.NewPCG(1, 2))
		const n = 200000
		counts := make([]int, len(logits))
		for range n {
			counts[gumbelMax(logits, temp, rng)]++
		}
		scaled := make([]float64, len(logits))
		for i, l := range logits {
			scaled[i] = l / temp
		}
		p := softmax(scaled)
		for i, c := range counts {
			se := math.Sqrt(p[i] * (1 - p[i]) / n)
			if f := float64(c) / n; math.Abs(f-p[i]) > 5*se+1e-12 {
				t.Errorf("T=%g token %d: frequency %.4f, want %.4f ± %.4f", temp, i, f, p[i], 5*se)
			}
		}
		if counts[3] != 0 {
			t.Errorf("T=%g: the filtered token was drawn %d times", temp, counts[3])
		}
	}
}

// TestMaskCounts checks the demasking schedule against the counts 1.9.2
// computes (printed by PyTorch 2.x): (schedule(linspace(0, 1,
// steps+1)[1:]) * seq_len).long(), in float32.
func TestMaskCounts(t *testing.T) {
	for _, tt := range []struct {
		schedule   string
		steps, len int
		want       []int
	}{
		{ScheduleLinear, 6, 12, []int{10, 7, 6, 4, 2, 0}}, // 7: float32 (1 - 1/3) · 12 is just under 8, as in PyTorch
		{ScheduleCosine, 6, 12, []int{11, 10, 8, 6, 3, 0}},
		{ScheduleLinear, 18, 256, []int{241, 227, 213, 199, 184, 170, 156, 142, 128, 113, 99, 85, 71, 56, 42, 28, 14, 0}},
	} {
		got, err := maskCounts(tt.schedule, tt.steps, tt.len)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s %d×%d: %v %v, want %v", tt.schedule, tt.steps, tt.len, got, err, tt.want)
		}
	}
	if _, err := maskCounts("square", 4, 8); err == nil {
		t.Error("unknown schedule: no error")
	}
}
