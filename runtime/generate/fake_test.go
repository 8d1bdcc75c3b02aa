package generate

import (
	"context"
	"fmt"
	"sync"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// fakeLM is a toy language model session. Its logits at a position depend
// on the whole context up to it (the past tokens and x up to the position):
// with s = 3·sum(context) + len(context), token i gets the logit
// -((i - s) mod vocab), so token s mod vocab is the most likely.
//
// With cache set it is a KV-cache model: past_key_0 [batch 1 past_seq 1]
// holds the earlier tokens as floats, past_shift_1 [batch 1 1] the last of
// them (zero when there are none), and present_* return the extended
// values.
type fakeLM struct {
	vocab int
	cache bool
	mask  bool

	mu    sync.Mutex
	calls []fakeCall
}

// fakeCall records one Run: the number of new tokens and of cached ones.
type fakeCall struct{ seq, past int }

func (f *fakeLM) Inputs() []runtime.ValueInfo {
	in := []runtime.ValueInfo{{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}}
	if f.mask {
		in = append(in, runtime.ValueInfo{Name: "mask", DType: runtime.Bool, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}})
	}
	if f.cache {
		in = append(in,
			runtime.ValueInfo{Name: "past_key_0", DType: runtime.Float32, Shape: []int64{-1, 1, -1, 1}, DimNames: []string{"batch", "", "past_seq", ""}},
			runtime.ValueInfo{Name: "past_shift_1", DType: runtime.Float32, Shape: []int64{-1, 1, 1}, DimNames: []string{"batch", "", ""}})
	}
	return in
}

func (f *fakeLM) Outputs() []runtime.ValueInfo {
	out := []runtime.ValueInfo{{Name: "logits", DType: runtime.Float32, Shape: []int64{-1, -1, int64(f.vocab)}, DimNames: []string{"batch", "seq", ""}}}
	if f.cache {
		out = append(out,
			runtime.ValueInfo{Name: "present_key_0", DType: runtime.Float32, Shape: []int64{-1, 1, -1, 1}},
			runtime.ValueInfo{Name: "present_shift_1", DType: runtime.Float32, Shape: []int64{-1, 1, 1}})
	}
	return out
}

func (f *fakeLM) Close() error { return nil }

func (f *fakeLM) Run(ctx context.Context, in map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := runtime.CheckInputs(f.Inputs(), in); err != nil {
		return nil, err
	}
	shape := in["x"].Shape()
	b, n := int(shape[0]), int(shape[1])
	x, _ := in["x"].Int64s()
	var past, shift []float32
	pastLen := 0
	if f.cache {
		past, _ = in["past_key_0"].Float32s()
		shift, _ = in["past_shift_1"].Float32s()
		pastLen = int(in["past_key_0"].Shape()[2])
	}
	if f.mask {
		keep, _ := in["mask"].Bools()
		for _, k := range keep {
			if !k {
				return nil, fmt.Errorf("fakeLM: mask has a false entry")
			}
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{seq: n, past: pastLen})
	f.mu.Unlock()

	logits := make([]float32, b*n*f.vocab)
	present := make([]float32, 0, b*(pastLen+n))
	lastTok := make([]float32, b)
	for r := range b {
		ctxTokens := make([]int64, 0, pastLen+n)
		for j := range pastLen {
			ctxTokens = append(ctxTokens, int64(past[r*pastLen+j]))
		}
		wantShift := float32(0)
		if pastLen > 0 {
			wantShift = past[r*pastLen+pastLen-1]
		}
		if f.cache && shift[r] != wantShift {
			return nil, fmt.Errorf("fakeLM: row %d: past_shift_1 is %v, want the last cached token %v", r, shift[r], wantShift)
		}
		for p := range n {
			ctxTokens = append(ctxTokens, x[r*n+p])
			best := fakeBest(ctxTokens, f.vocab)
			for i := range f.vocab {
				logits[(r*n+p)*f.vocab+i] = -float32((i - best + f.vocab) % f.vocab)
			}
		}
		for _, t := range ctxTokens {
			present = append(present, float32(t))
		}
		lastTok[r] = float32(ctxTokens[len(ctxTokens)-1])
	}
	lt, _ := runtime.NewFloat32([]int64{int64(b), int64(n), int64(f.vocab)}, logits)
	out := map[string]*runtime.Tensor{"logits": lt}
	if f.cache {
		out["present_key_0"], _ = runtime.NewFloat32([]int64{int64(b), 1, int64(pastLen + n), 1}, present)
		out["present_shift_1"], _ = runtime.NewFloat32([]int64{int64(b), 1, 1}, lastTok)
	}
	return out, nil
}

// fakeBest is fakeLM's most likely next token after context.
func fakeBest(context []int64, vocab int) int {
	s := len(context)
	for _, t := range context {
		s += 3 * int(t)
	}
	return s % vocab
}

var _ runtime.Session = (*fakeLM)(nil)

// funcLM is a model without cache whose logits at a position are
// next(row, context up to the position).
type funcLM struct {
	vocab int
	next  func(row int, context []int64) []float32
}

func (f *funcLM) Inputs() []runtime.ValueInfo {
	return []runtime.ValueInfo{{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}}
}

func (f *funcLM) Outputs() []runtime.ValueInfo {
	return []runtime.ValueInfo{{Name: "logits", DType: runtime.Float32, Shape: []int64{-1, -1, int64(f.vocab)}, DimNames: []string{"batch", "seq", ""}}}
}

func (f *funcLM) Close() error { return nil }

func (f *funcLM) Run(ctx context.Context, in map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	if err := runtime.CheckInputs(f.Inputs(), in); err != nil {
		return nil, err
	}
	shape := in["x"].Shape()
	b, n := int(shape[0]), int(shape[1])
	x, _ := in["x"].Int64s()
	logits := make([]float32, 0, b*n*f.vocab)
	for r := range b {
		for p := range n {
			logits = append(logits, f.next(r, x[r*n:r*n+p+1])...)
		}
	}
	t, err := runtime.NewFloat32([]int64{int64(b), int64(n), int64(f.vocab)}, logits)
	return map[string]*runtime.Tensor{"logits": t}, err
}

// fixedSession gives every position the same logits.
func fixedSession(logits []float32) *funcLM {
	return &funcLM{vocab: len(logits), next: func(int, []int64) []float32 { return logits }}
}

// rowSession gives every position of row r the logits rows[r].
func rowSession(rows [][]float32) *funcLM {
	return &funcLM{vocab: len(rows[0]), next: func(r int, _ []int64) []float32 { return rows[r] }}
}

// succSession makes token t+1 mod vocab the most likely after t.
func succSession(vocab int) *funcLM {
	return &funcLM{vocab: vocab, next: func(_ int, c []int64) []float32 {
		l := make([]float32, vocab)
		l[(c[len(c)-1]+1)%int64(vocab)] = 1
		return l
	}}
}

// ioSession has inputs and outputs of the given names (float32 [batch seq],
// "x" int64) and never runs.
type ioSession struct{ in, out []string }

func (s *ioSession) infos(names []string) []runtime.ValueInfo {
	var v []runtime.ValueInfo
	for _, n := range names {
		dt := runtime.Float32
		if n == "x" {
			dt = runtime.Int64
		}
		v = append(v, runtime.ValueInfo{Name: n, DType: dt, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}})
	}
	return v
}

func (s *ioSession) Inputs() []runtime.ValueInfo  { return s.infos(s.in) }
func (s *ioSession) Outputs() []runtime.ValueInfo { return s.infos(s.out) }
func (s *ioSession) Close() error                 { return nil }
func (s *ioSession) Run(context.Context, map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	return nil, fmt.Errorf("ioSession: not runnable")
}
