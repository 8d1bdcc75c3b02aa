package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// Schedules of NonAutoregressiveWrapper: how many positions stay masked
// after step i of n, as a fraction of the sequence at time t = i/n.
const (
	ScheduleLinear = "linear" // 1 - t
	ScheduleCosine = "cosine" // cos(t·π/2)
)

// NAROptions configure one NonAutoregressive.Generate call; zero values
// take 1.9.2's defaults where it has them.
type NAROptions struct {
	// Batch is the number of sequences (1.9.2's batch_size; 0 means 1).
	Batch int
	// MaskID is the token every position starts as (1.9.2's mask_id,
	// required: a token of the vocabulary).
	MaskID int64
	// Steps is the number of demasking steps (0 means 18).
	Steps int
	// Schedule is ScheduleLinear (the default) or ScheduleCosine.
	Schedule string
	// StartTemperature is the temperature of the first step, annealed
	// linearly to 0 at the last one (1.9.2's start_temperature; see Greedy).
	StartTemperature float64
	// Greedy picks the most likely token at every step: the limit of
	// StartTemperature → 0 (1.9.2 at start_temperature 0 still adds
	// Gumbel noise scaled by 1e-3, which only matters at near ties).
	Greedy bool
	// FilterThres is the top-k filter's thres (0 means 0.7, 1.9.2's
	// default; k = ceil((1 - thres) · vocab)); NoFilter turns it off
	// (1.9.2's filter_thres=None).
	FilterThres float64
	NoFilter    bool
	// CanMaskPrevUnmasked lets a step mask again positions an earlier step
	// unmasked (1.9.2's can_mask_prev_unmasked).
	CanMaskPrevUnmasked bool
	// Seed seeds the Gumbel noise (a PCG generator; PyTorch's RNG is not
	// reproduced, so sampled sequences differ from 1.9.2's for any seed).
	Seed uint64
}

// NonAutoregressive generates with a non-causal TransformerWrapper by
// iterative demasking, as 1.9.2's NonAutoregressiveWrapper.generate does
// without self-conditioning and without a token critic (those need the
// wrapper's own parameters, which a TransformerWrapper export does not
// hold): all max_seq_len positions start as MaskID; at step i of Steps the
// model predicts every position, masked positions take a token drawn by
// Gumbel-max sampling from the top-k filtered logits at temperature
// StartTemperature·(Steps-1-i)/Steps (floored at 1e-3), and the
// schedule(t_{i+1})·max_seq_len positions whose drawn token has the lowest
// probability (among the still-masked ones unless CanMaskPrevUnmasked) are
// masked again.
type NonAutoregressive struct {
	sess   runtime.Session
	meta   Meta
	logits string
	mask   bool
}

// NewNonAutoregressive returns a NonAutoregressive over sess, a non-causal
// TransformerWrapper (an Encoder) built by xt2onnx with a max_seq_len.
func NewNonAutoregressive(sess runtime.Session, meta Meta) (*NonAutoregressive, error) {
	switch {
	case sess == nil:
		return nil, errors.New("generate: nil session")
	case meta.Kind == "":
		return nil, errors.New("generate: the model carries no xt2onnx metadata (" + runtime.MetaConfig + "): export it with xt2onnx export")
	case meta.Kind != KindTransformerWrapper:
		return nil, fmt.Errorf("generate: the model is a %s; NonAutoregressiveWrapper generates with a TransformerWrapper", meta.Kind)
	case meta.Causal:
		return nil, errors.New("generate: the model is causal (a Decoder): NonAutoregressiveWrapper demasks with a non-causal encoder; a decoder generates with New (AutoregressiveWrapper)")
	case meta.MaxSeqLen <= 0:
		return nil, errors.New("generate: the model has no max_seq_len: NonAutoregressiveWrapper generates sequences of exactly max_seq_len tokens")
	}
	n := &NonAutoregressive{sess: sess, meta: meta}
	for _, in := range sess.Inputs() {
		switch {
		case in.Name == inputTokens && in.DType == runtime.Int64 && len(in.Shape) == 2:
		case in.Name == inputMask && in.DType == runtime.Bool:
			n.mask = true
		default:
			return nil, fmt.Errorf("generate: the model takes %s, which generation cannot fill (want x int64 [batch seq], optionally mask)", in)
		}
	}
	for _, o := range sess.Outputs() {
		if o.Name == outputLogits {
			n.logits = o.Name
		}
	}
	if n.logits == "" {
		return nil, fmt.Errorf("generate: the model has no output %q (export without --return-embeddings)", outputLogits)
	}
	return n, nil
}

// maskCounts returns, per step, how many positions stay masked: 1.9.2's
// (schedule(linspace(0, 1, steps+1)[1:]) · seqLen).long(), in float32 as
// PyTorch computes it.
func maskCounts(schedule string, steps, seqLen int) ([]int, error) {
	points := steps + 1
	step := float32(1) / float32(points-1)
	counts := make([]int, steps)
	for i := 1; i < points; i++ {
		// torch.linspace fills the first half from the start and the
		// second half from the end.
		t := step * float32(i)
		if i >= points/2 {
			t = 1 - step*float32(points-1-i)
		}
		var f float32
		switch schedule {
		case ScheduleLinear, "":
			f = 1 - t
		case ScheduleCosine:
			f = float32(math.Cos(float64(t * float32(math.Pi) / 2)))
		default:
			return nil, fmt.Errorf("generate: unknown schedule %q (want %q or %q)", schedule, ScheduleLinear, ScheduleCosine)
		}
		counts[i-1] = int(f * float32(seqLen)) // .long() truncates
	}
	return counts, nil
}

// Generate returns Batch sequences of max_seq_len tokens.
func (n *NonAutoregressive) Generate(ctx context.Context, o NAROptions) ([][]int64, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Batch == 0 {
		o.Batch = 1
	}
	if o.Steps == 0 {
		o.Steps = 18
	}
	if o.FilterThres == 0 {
		o.FilterThres = 0.7
	}
	switch {
	case o.Batch < 0 || o.Steps < 0:
		return nil, fmt.Errorf("generate: Batch %d and Steps %d must be positive", o.Batch, o.Steps)
	case o.MaskID < 0 || (n.meta.NumTokens > 0 && o.MaskID >= int64(n.meta.NumTokens)):
		return nil, fmt.Errorf("generate: MaskID %d is outside the vocabulary [0, %d)", o.MaskID, n.meta.NumTokens)
	case !o.NoFilter && !(o.FilterThres > 0 && o.FilterThres < 1):
		return nil, fmt.Errorf("generate: FilterThres %g is outside (0, 1)", o.FilterThres)
	case o.StartTemperature < 0 || math.IsNaN(o.StartTemperature) || math.IsInf(o.StartTemperature, 0):
		return nil, fmt.Errorf("generate: StartTemperature %g must be 0 or more", o.StartTemperature)
	}
	L := n.meta.MaxSeqLen
	counts, err := maskCounts(o.Schedule, o.Steps, L)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, pcgStream))
	seq := make([]int64, o.Batch*L)
	masked := make([]bool, o.Batch*L)
	for i := range seq {
		seq[i], masked[i] = o.MaskID, true
	}
	shape := []int64{int64(o.Batch), int64(L)}
	for i, numMasked := range counts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("generate: stopped after %d of %d steps: %w", i, o.Steps, context.Cause(ctx))
		}
		x, err := runtime.NewInt64(shape, slices.Clone(seq))
		if err != nil {
			return nil, err
		}
		in := map[string]*runtime.Tensor{inputTokens: x}
		if n.mask {
			keep := make([]bool, len(seq))
			for j := range keep {
				keep[j] = true
			}
			if in[inputMask], err = runtime.NewBool(shape, keep); err != nil {
				return nil, err
			}
		}
		outs, err := n.sess.Run(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("generate: step %d: %w", i+1, err)
		}
		logits, err := outs[n.logits].Float32s()
		if err != nil {
			return nil, fmt.Errorf("generate: step %d: %w", i+1, err)
		}
		if len(logits)%(o.Batch*L) != 0 || len(logits) == 0 {
			return nil, fmt.Errorf("generate: step %d: output %q has %d values for %d positions", i+1, n.logits, len(logits), o.Batch*L)
		}
		vocab := len(logits) / (o.Batch * L)
		temperature := max(o.StartTemperature*float64(o.Steps-1-i)/float64(o.Steps), 1e-3)
		scores := make([]float64, o.Batch*L)
		row := make([]float64, vocab)
		for p := range seq {
			for v := range vocab {
				row[v] = float64(logits[p*vocab+v])
			}
			if !o.NoFilter {
				topK([][]float64{row}, o.FilterThres)
			}
			best := 0
			if o.Greedy {
				for v, l := range row {
					if l > row[best] {
						best = v
					}
				}
			} else {
				best = gumbelMax(row, temperature, rng)
			}
			if masked[p] {
				seq[p] = int64(best)
			}
			// Score: 1 - softmax(filtered logits)[drawn token] (temperature 1).
			scores[p] = 1 - softmax(row)[best]
		}
		for r := range o.Batch {
			idx := make([]int, L)
			for j := range idx {
				idx[j] = j
			}
			sc := scores[r*L : (r+1)*L]
			m := masked[r*L : (r+1)*L]
			key := func(j int) float64 {
				if !o.CanMaskPrevUnmasked && !m[j] {
					return -math.MaxFloat32
				}
				return sc[j]
			}
			sort.SliceStable(idx, func(a, b int) bool { return key(idx[a]) > key(idx[b]) })
			next := make([]bool, L)
			for _, j := range idx[:min(numMasked, L)] {
				next[j] = true
			}
			copy(m, next)
			for j := range L {
				if m[j] {
					seq[r*L+j] = o.MaskID
				}
			}
		}
	}
	out := make([][]int64, o.Batch)
	for r := range out {
		out[r] = seq[r*L : (r+1)*L]
	}
	return out, nil
}

// gumbelMax draws an index of row with probability softmax(row/T) as
// 1.9.2's gumbel_sample does: argmax(row/T + g), g = -log(-log(u + ε) + ε)
// for u uniform, ε = 1e-10.
func gumbelMax(row []float64, temperature float64, rng *rand.Rand) int {
	best, bestV := 0, math.Inf(-1)
	for v, l := range row {
		g := -math.Log(-math.Log(rng.Float64()+1e-10) + 1e-10)
		if s := l/temperature + g; s > bestV {
			best, bestV = v, s
		}
	}
	return best
}
