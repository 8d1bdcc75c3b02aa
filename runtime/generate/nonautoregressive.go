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
// take 1.9.2's defaults where it has them. NonAutoregressive.Defaults
// returns them with the wrapper's own keyword arguments when the model
// carries them.
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
	// Gumbel noise scaled by 1e-3, which only matters at near ties). It
	// does not turn off the critic's noise (see NoiseLevelScale).
	Greedy bool
	// FilterThres is the top-k filter's thres (0 means 0.7, 1.9.2's
	// default; k = ceil((1 - thres) · vocab)); NoFilter turns it off
	// (1.9.2's filter_thres=None).
	FilterThres float64
	NoFilter    bool
	// CanMaskPrevUnmasked lets a step mask again positions an earlier step
	// unmasked (1.9.2's can_mask_prev_unmasked).
	CanMaskPrevUnmasked bool
	// NoiseLevelScale scales the Gumbel noise added to the critic's scores
	// (with a critic only; 1.9.2's noise_level_scale): at step i of n the
	// scores get NoiseLevelScale·(n-1-i)/n·g, g Gumbel. 0 means 1.9.2's
	// default 1; NoCriticNoise adds none (noise_level_scale=0), which makes
	// a Greedy run deterministic.
	NoiseLevelScale float64
	NoCriticNoise   bool
	// Seed seeds the Gumbel noise (a PCG generator; PyTorch's RNG is not
	// reproduced, so sampled sequences differ from 1.9.2's for any seed).
	Seed uint64
	// OnStep, when set, is called after each demasking step with the
	// number of steps done; an error stops generation with it.
	OnStep func(done int) error
}

// Critics of a NonAutoregressiveWrapper (NARMeta.Critic).
const (
	CriticToken = "token_critic"      // a separate TransformerWrapper
	CriticSelf  = "self_token_critic" // 1.9.2's SelfCritic over the net's embeddings
)

// NonAutoregressive generates with a non-causal TransformerWrapper by
// iterative demasking, as 1.9.2's NonAutoregressiveWrapper.generate does:
// all max_seq_len positions start as MaskID; at step i of Steps the model
// predicts every position, masked positions take a token drawn by
// Gumbel-max sampling from the top-k filtered logits at temperature
// StartTemperature·(Steps-1-i)/Steps (floored at 1e-3), and the
// schedule(t_{i+1})·max_seq_len positions with the highest score (among
// the still-masked ones unless CanMaskPrevUnmasked) are masked again. The
// score is 1 - softmax(filtered logits)[drawn token], or with a critic
// (SetCritic) the critic's score of the drawn sequence plus annealed
// Gumbel noise (see NAROptions.NoiseLevelScale).
//
// A model exported from a NonAutoregressiveWrapper config with self_cond
// (builder's "nonautoregressive" section) also takes the embeddings of the
// previous step (self_cond_embed, with self_cond_null true on the first
// step, where the graph uses the learned null_embed) and returns them;
// Generate feeds them back as 1.9.2 does.
type NonAutoregressive struct {
	sess     runtime.Session
	meta     Meta
	logits   string
	mask     bool
	selfCond bool // the model takes self_cond_embed and self_cond_null
	dim      int  // width of self_cond_embed

	critic     runtime.Session
	criticKind string
}

// Names of the self-conditioning and critic values (builder's
// InputSelfCondEmbed, InputSelfCondNull, OutputEmbeddings, OutputCritic).
const (
	inputSelfCondEmbed = "self_cond_embed"
	inputSelfCondNull  = "self_cond_null"
	outputEmbeddings   = "embeddings"
	outputCritic       = "critic"
)

// NewNonAutoregressive returns a NonAutoregressive over sess, a non-causal
// TransformerWrapper (an Encoder) built by xt2onnx with a max_seq_len, or
// the generator exported from a NonAutoregressiveWrapper config. A model
// whose wrapper has a token critic needs it too: see SetCritic.
func NewNonAutoregressive(sess runtime.Session, meta Meta) (*NonAutoregressive, error) {
	switch {
	case sess == nil:
		return nil, errors.New("generate: nil session")
	case meta.Kind == "":
		return nil, errors.New("generate: the model carries no xt2onnx metadata (" + runtime.MetaConfig + "): export it with xt2onnx export")
	case meta.Kind != KindTransformerWrapper:
		return nil, fmt.Errorf("generate: the model is a %s; NonAutoregressiveWrapper generates with a TransformerWrapper", meta.Kind)
	case meta.Part == PartCritic:
		return nil, errors.New("generate: the model is a NonAutoregressiveWrapper's critic part: give the generator (xt2onnx export without --part) here and the critic to SetCritic")
	case meta.Causal:
		return nil, errors.New("generate: the model is causal (a Decoder): NonAutoregressiveWrapper demasks with a non-causal encoder; a decoder generates with New (AutoregressiveWrapper)")
	case meta.MaxSeqLen <= 0:
		return nil, errors.New("generate: the model has no max_seq_len: NonAutoregressiveWrapper generates sequences of exactly max_seq_len tokens")
	}
	n := &NonAutoregressive{sess: sess, meta: meta}
	var hasNull bool
	for _, in := range sess.Inputs() {
		switch {
		case in.Name == inputTokens && in.DType == runtime.Int64 && len(in.Shape) == 2:
		case in.Name == inputMask && in.DType == runtime.Bool:
			n.mask = true
		case in.Name == inputSelfCondEmbed && in.DType == runtime.Float32 && len(in.Shape) == 3 && in.Shape[2] > 0:
			n.selfCond, n.dim = true, int(in.Shape[2])
		case in.Name == inputSelfCondNull && in.DType == runtime.Bool && len(in.Shape) == 1:
			hasNull = true
		default:
			return nil, fmt.Errorf("generate: the model takes %s, which generation cannot fill (want x int64 [batch seq], optionally mask, and self_cond_embed float32 [batch seq dim] with self_cond_null bool [batch])", in)
		}
	}
	if n.selfCond != hasNull {
		return nil, fmt.Errorf("generate: the model takes only one of %s and %s: a self-conditioning generator takes both", inputSelfCondEmbed, inputSelfCondNull)
	}
	if meta.NAR != nil && meta.NAR.SelfCond != n.selfCond {
		return nil, fmt.Errorf("generate: the model's config says self_cond=%v but the model %s take %s: export it again with xt2onnx export", meta.NAR.SelfCond, map[bool]string{true: "does", false: "does not"}[n.selfCond], inputSelfCondEmbed)
	}
	var hasEmb bool
	for _, o := range sess.Outputs() {
		switch o.Name {
		case outputLogits:
			n.logits = o.Name
		case outputEmbeddings:
			hasEmb = true
		}
	}
	if n.logits == "" {
		return nil, fmt.Errorf("generate: the model has no output %q (export without --return-embeddings)", outputLogits)
	}
	if n.selfCond && !hasEmb {
		return nil, fmt.Errorf("generate: the self-conditioning model has no output %q to feed back", outputEmbeddings)
	}
	return n, nil
}

// SetCritic gives n the critic part of its NonAutoregressiveWrapper
// (xt2onnx export --part critic): after each step's draw the critic scores
// every token of the sequence, and the highest scores are masked again.
// criticMeta is the critic model's Meta; it must come from the same config.
func (n *NonAutoregressive) SetCritic(critic runtime.Session, criticMeta Meta) error {
	switch {
	case critic == nil:
		return errors.New("generate: nil critic session")
	case criticMeta.Part != PartCritic || criticMeta.NAR == nil || criticMeta.NAR.Critic == "":
		return fmt.Errorf("generate: the critic model is not a NonAutoregressiveWrapper's critic part (metadata %s = %q): export it with xt2onnx export --part critic", runtime.MetaPart, criticMeta.Part)
	case n.meta.NAR != nil && *n.meta.NAR != *criticMeta.NAR:
		return fmt.Errorf("generate: the critic was exported from another NonAutoregressiveWrapper config (%+v) than the generator (%+v)", *criticMeta.NAR, *n.meta.NAR)
	case criticMeta.MaxSeqLen != n.meta.MaxSeqLen:
		return fmt.Errorf("generate: the critic scores sequences of %d tokens, the generator makes %d", criticMeta.MaxSeqLen, n.meta.MaxSeqLen)
	}
	ins, outs := critic.Inputs(), critic.Outputs()
	if len(ins) != 1 || ins[0].Name != inputTokens || ins[0].DType != runtime.Int64 {
		return fmt.Errorf("generate: the critic takes %v; want only x int64 [batch seq]", ins)
	}
	found := false
	for _, o := range outs {
		if o.Name == outputCritic && o.DType == runtime.Float32 && len(o.Shape) == 2 {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("generate: the critic has no output %q float32 [batch seq] (has %v)", outputCritic, outs)
	}
	n.critic, n.criticKind = critic, criticMeta.NAR.Critic
	return nil
}

// Critic returns the kind of critic SetCritic gave (CriticToken or
// CriticSelf), or "" for none.
func (n *NonAutoregressive) Critic() string { return n.criticKind }

// SelfCond reports whether the model conditions each step on the previous
// step's embeddings (1.9.2's self_cond).
func (n *NonAutoregressive) SelfCond() bool { return n.selfCond }

// Defaults returns the options of 1.9.2's generate() defaults
// (start_temperature 1, filter_thres 0.7, noise_level_scale 1) with the
// wrapper's mask_id, steps, schedule and can_mask_prev_unmasked when the
// model was exported from a NonAutoregressiveWrapper config (else
// MaskID num_tokens-1 and 18 linear steps).
func (n *NonAutoregressive) Defaults() NAROptions {
	o := NAROptions{Batch: 1, Steps: 18, Schedule: ScheduleLinear, StartTemperature: 1, FilterThres: 0.7, NoiseLevelScale: 1, MaskID: int64(n.meta.NumTokens - 1)}
	if w := n.meta.NAR; w != nil {
		o.MaskID, o.Steps, o.Schedule, o.CanMaskPrevUnmasked = w.MaskID, w.Steps, w.Schedule, w.CanMaskPrevUnmasked
	}
	return o
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
	case o.NoiseLevelScale < 0 || math.IsNaN(o.NoiseLevelScale) || math.IsInf(o.NoiseLevelScale, 0):
		return nil, fmt.Errorf("generate: NoiseLevelScale %g must be 0 or more (NoCriticNoise for none)", o.NoiseLevelScale)
	case n.critic == nil && n.meta.NAR != nil && n.meta.NAR.Critic != "":
		return nil, fmt.Errorf("generate: the NonAutoregressiveWrapper has a %s, which scores every step: give its critic part (xt2onnx export --part critic) with SetCritic", n.meta.NAR.Critic)
	}
	noise := o.NoiseLevelScale
	if noise == 0 {
		noise = 1
	}
	if o.NoCriticNoise {
		noise = 0
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
	var last []float32 // the previous step's embeddings (self-conditioning)
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
		if n.selfCond {
			if err := n.selfCondInputs(in, last, o.Batch, L); err != nil {
				return nil, err
			}
		}
		outs, err := n.sess.Run(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("generate: step %d: %w", i+1, err)
		}
		if n.selfCond {
			e, err := outs[outputEmbeddings].Float32s()
			if err != nil {
				return nil, fmt.Errorf("generate: step %d: output %q: %w", i+1, outputEmbeddings, err)
			}
			if len(e) != o.Batch*L*n.dim {
				return nil, fmt.Errorf("generate: step %d: output %q has %d values, want %d × %d × %d", i+1, outputEmbeddings, len(e), o.Batch, L, n.dim)
			}
			last = slices.Clone(e)
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
			if n.critic == nil {
				// Score: 1 - softmax(filtered logits)[drawn token] (temperature 1).
				scores[p] = 1 - softmax(row)[best]
			}
		}
		if n.critic != nil {
			// 1.9.2: critic(seq) + noise_level_scale · gumbel · annealing,
			// on the sequence with this step's draws.
			annealing := float64(o.Steps-1-i) / float64(o.Steps)
			if err := n.criticScores(ctx, seq, shape, scores, noise*annealing, rng); err != nil {
				return nil, fmt.Errorf("generate: step %d: %w", i+1, err)
			}
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
		if o.OnStep != nil {
			if err := o.OnStep(i + 1); err != nil {
				return nil, fmt.Errorf("generate: stopped after %d of %d steps: %w", i+1, o.Steps, err)
			}
		}
	}
	out := make([][]int64, o.Batch)
	for r := range out {
		out[r] = seq[r*L : (r+1)*L]
	}
	return out, nil
}

// selfCondInputs sets the self-conditioning inputs of a step: the last
// step's embeddings, or on the first step (last nil) zeros with
// self_cond_null set, for which the graph takes null_embed.
func (n *NonAutoregressive) selfCondInputs(in map[string]*runtime.Tensor, last []float32, batch, L int) error {
	first := last == nil
	if first {
		last = make([]float32, batch*L*n.dim)
	}
	nulls := make([]bool, batch)
	for r := range nulls {
		nulls[r] = first
	}
	var err error
	if in[inputSelfCondEmbed], err = runtime.NewFloat32([]int64{int64(batch), int64(L), int64(n.dim)}, last); err != nil {
		return err
	}
	in[inputSelfCondNull], err = runtime.NewBool([]int64{int64(batch)}, nulls)
	return err
}

// criticScores runs the critic on seq and writes its scores plus
// scale·gumbel noise into scores.
func (n *NonAutoregressive) criticScores(ctx context.Context, seq []int64, shape []int64, scores []float64, scale float64, rng *rand.Rand) error {
	x, err := runtime.NewInt64(shape, slices.Clone(seq))
	if err != nil {
		return err
	}
	outs, err := n.critic.Run(ctx, map[string]*runtime.Tensor{inputTokens: x})
	if err != nil {
		return fmt.Errorf("critic: %w", err)
	}
	c, err := outs[outputCritic].Float32s()
	if err != nil {
		return fmt.Errorf("critic output %q: %w", outputCritic, err)
	}
	if len(c) != len(scores) {
		return fmt.Errorf("critic output %q has %d values for %d positions", outputCritic, len(c), len(scores))
	}
	for p, v := range c {
		scores[p] = float64(v)
		if scale > 0 {
			scores[p] += scale * gumbel(rng)
		}
	}
	return nil
}

// gumbel draws 1.9.2's gumbel_noise: -log(-log(u + ε) + ε), u uniform in
// [0, 1), ε = 1e-10.
func gumbel(rng *rand.Rand) float64 {
	return -math.Log(-math.Log(rng.Float64()+1e-10) + 1e-10)
}

// gumbelMax draws an index of row with probability softmax(row/T) as
// 1.9.2's gumbel_sample does: argmax(row/T + g), g = -log(-log(u + ε) + ε)
// for u uniform, ε = 1e-10.
func gumbelMax(row []float64, temperature float64, rng *rand.Rand) int {
	best, bestV := 0, math.Inf(-1)
	for v, l := range row {
		if s := l/temperature + gumbel(rng); s > bestV {
			best, bestV = v, s
		}
	}
	return best
}
