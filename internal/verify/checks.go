package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/internal/tensorio"
	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/generate"
)

// tolerance returns the forward tolerance and its rule for a reference.
func tolerance(opts Options, ref *Reference) (float64, string) {
	switch {
	case opts.Tol > 0:
		return opts.Tol, TolGiven
	case 2*ref.TorchF32MaxAbsDiff > DefaultTol:
		return 2 * ref.TorchF32MaxAbsDiff, TolTorch
	}
	return DefaultTol, TolDefault
}

// checkModel runs m with every backend and adds its rows to r. label
// prefixes the check names ("kv-cache ").
func checkModel(ctx context.Context, ref *Reference, m ModelSource, label string, opts Options, r *Result) error {
	tol, rule := tolerance(opts, ref)
	r.Tol, r.TolRule, r.TorchF32MaxAbsDiff = tol, rule, ref.TorchF32MaxAbsDiff
	var meta generate.Meta
	if opts.Generate {
		var err error
		if m.Path != "" {
			meta, err = generate.ReadMeta(m.Path) // external data stays unread
		} else {
			meta, err = generate.ParseMeta(m.Bytes)
		}
		if err != nil {
			return err
		}
	}
	for _, backend := range backends(opts) {
		ro := opts.Runtime
		ro.Backend = backend
		sess, err := m.open(ro)
		if err != nil {
			return err
		}
		c := &checker{ctx: ctx, ref: ref, sess: sess, backend: backend, tol: tol, rtol: opts.Rtol, rule: rule}
		err = c.run(label, opts.Generate, meta, r)
		sess.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// checker checks one session against a reference.
type checker struct {
	ctx     context.Context
	ref     *Reference
	sess    runtime.Session
	backend string
	tol     float64
	rtol    float64
	rule    string
}

func (c *checker) run(label string, gen bool, meta generate.Meta, r *Result) error {
	var plain []runtime.ValueInfo
	cached := false
	for _, in := range c.sess.Inputs() {
		if generate.IsCacheInput(in.Name) {
			cached = true
		} else {
			plain = append(plain, in)
		}
	}
	main, err := c.mainOutput()
	if err != nil {
		return err
	}
	if cached && label == "" {
		label = "kv-cache "
	}
	masked := c.ref.HasInput(builder.InputMask) && cached
	if masked {
		r.Notes = append(r.Notes, label+"forward: not checked: the reference has a mask input and a KV-cache model takes none")
	} else {
		inputs, err := tensorio.ReadInputs(c.ref.f, c.ref.Path, "input.", plain)
		if err != nil {
			return err
		}
		if cached {
			empty, err := generate.NewCache(c.sess, int(c.ref.WantShape[0]))
			if err != nil {
				return err
			}
			if err := empty.Inputs(inputs); err != nil {
				return err
			}
		}
		outs, err := c.sess.Run(c.ctx, inputs)
		if err != nil {
			return err
		}
		d, err := c.compare(main, outs[main], label+"forward")
		if err != nil {
			return err
		}
		r.Outputs = append(r.Outputs, d)
		if cached {
			d, err := c.steps(main, plain, inputs, label+"steps")
			if err != nil {
				return err
			}
			r.Outputs = append(r.Outputs, d)
		}
	}
	if gen && c.ref.GenVecStart != nil {
		d, note := c.continuousGeneration(meta, label+"continuous generate")
		if note != "" {
			r.Notes = append(r.Notes, note)
		} else {
			r.Outputs = append(r.Outputs, d)
		}
	} else if gen {
		d, note := c.generation(meta, "generate"+strings.TrimSuffix(" "+label, " "))
		if note != "" {
			r.Notes = append(r.Notes, note)
		} else {
			r.Outputs = append(r.Outputs, d)
		}
	}
	return nil
}

// mainOutput is the model output the reference holds: the one output
// that is not a KV-cache output (present_*, new_*).
func (c *checker) mainOutput() (string, error) {
	var names []string
	for _, o := range c.sess.Outputs() {
		if !generate.IsCacheOutput(o.Name) {
			names = append(names, o.Name)
		}
	}
	if len(names) != 1 {
		return "", fmt.Errorf("model has %d outputs (%s); the reference holds one", len(names), strings.Join(names, ", "))
	}
	return names[0], nil
}

// compare compares a model output with the reference.
func (c *checker) compare(name string, got *runtime.Tensor, check string) (OutputDiff, error) {
	d := OutputDiff{Name: name, Check: check, Backend: c.backend, TorchF32MaxAbsDiff: c.ref.TorchF32MaxAbsDiff, Tol: c.tol, Rtol: c.rtol, TolRule: c.rule}
	if got == nil {
		return d, fmt.Errorf("the model returned no %q", name)
	}
	d.Shape = got.Shape()
	if !slices.Equal(d.Shape, c.ref.WantShape) {
		return d, fmt.Errorf("output %q has shape %s, reference has %s", name, runtime.FormatShape(d.Shape), runtime.FormatShape(c.ref.WantShape))
	}
	vals, err := got.Float32s()
	if err != nil {
		return d, fmt.Errorf("output %q: %w", name, err)
	}
	d.diff(vals, c.ref.Want)
	return d, nil
}

// diff fills the differences of got from want and the verdict: every
// element within Tol + Rtol·|want|, no NaN.
func (d *OutputDiff) diff(got []float32, want []float64) {
	over := false
	for i, v := range got {
		if math.IsNaN(float64(v)) {
			d.NaNs++
			continue
		}
		e := math.Abs(float64(v) - want[i])
		d.MaxAbsDiff = max(d.MaxAbsDiff, e)
		if want[i] != 0 {
			d.MaxRelDiff = max(d.MaxRelDiff, e/math.Abs(want[i]))
		}
		if e > d.Tol+d.Rtol*math.Abs(want[i]) {
			over = true
		}
	}
	d.Pass = d.NaNs == 0 && !over
}

// steps runs a KV-cache model on the reference tokens the way generation
// does, the first half at once and then one token per run, feeding each
// run's cache outputs back (generate.Cache, either layout), and compares
// the logits of every position with the reference.
func (c *checker) steps(main string, plain []runtime.ValueInfo, full map[string]*runtime.Tensor, check string) (OutputDiff, error) {
	x := full[builder.InputTokens]
	d := OutputDiff{Name: main, Check: check, Backend: c.backend, TorchF32MaxAbsDiff: c.ref.TorchF32MaxAbsDiff, Tol: c.tol, Rtol: c.rtol, TolRule: c.rule, Shape: c.ref.WantShape}
	if x == nil || (x.DType() != runtime.Int64 && x.DType() != runtime.Float32) || len(c.ref.WantShape) != 3 {
		return d, fmt.Errorf("KV-cache model: want int64 tokens or float32 vectors %q and [batch seq dim] outputs", builder.InputTokens)
	}
	xs := x.Shape()
	width := 1 // elements of x per position
	if len(xs) == 3 {
		width = int(xs[2])
	}
	b, n, vocab := int(c.ref.WantShape[0]), int(c.ref.WantShape[1]), int(c.ref.WantShape[2])
	got := make([]float32, b*n*vocab)
	cache, err := generate.NewCache(c.sess, b)
	if err != nil {
		return d, err
	}
	for from := 0; from < n; {
		to := from + 1
		if from == 0 {
			to = max(1, n/2)
		}
		in := map[string]*runtime.Tensor{}
		for _, p := range plain {
			in[p.Name] = full[p.Name]
		}
		var err error
		if in[builder.InputTokens], err = positions(x, b, n, width, from, to); err != nil {
			return d, err
		}
		if err := cache.Inputs(in); err != nil {
			return d, err
		}
		outs, err := c.sess.Run(c.ctx, in)
		if err != nil {
			return d, fmt.Errorf("KV-cache run at positions %d–%d: %w", from, to-1, err)
		}
		vals, err := outs[main].Float32s()
		if err != nil {
			return d, err
		}
		if want := b * (to - from) * vocab; len(vals) != want {
			return d, fmt.Errorf("KV-cache run at positions %d–%d gave %d values, want %d", from, to-1, len(vals), want)
		}
		for r := range b {
			copy(got[(r*n+from)*vocab:(r*n+to)*vocab], vals[r*(to-from)*vocab:(r+1)*(to-from)*vocab])
		}
		if err := cache.Update(outs); err != nil {
			return d, fmt.Errorf("KV-cache run at positions %d–%d: %w", from, to-1, err)
		}
		from = to
	}
	d.diff(got, c.ref.Want)
	return d, nil
}

// positions returns positions from … to-1 of every row of x ([b, n] or
// [b, n, width]).
func positions(x *runtime.Tensor, b, n, width, from, to int) (*runtime.Tensor, error) {
	shape := x.Shape()
	shape[1] = int64(to - from)
	switch data := x.Data().(type) {
	case []int64:
		chunk := make([]int64, 0, b*(to-from)*width)
		for r := range b {
			chunk = append(chunk, data[(r*n+from)*width:(r*n+to)*width]...)
		}
		return runtime.NewInt64(shape, chunk)
	case []float32:
		chunk := make([]float32, 0, b*(to-from)*width)
		for r := range b {
			chunk = append(chunk, data[(r*n+from)*width:(r*n+to)*width]...)
		}
		return runtime.NewFloat32(shape, chunk)
	}
	return nil, fmt.Errorf("input %q is %s, want int64 or float32", builder.InputTokens, x.DType())
}

// continuousGeneration runs ContinuousAutoregressiveWrapper generation
// from gen.start and compares the vectors with gen.out_f64, within the
// tolerance or twice PyTorch's own float32 error on the generation when
// that is larger.
func (c *checker) continuousGeneration(meta generate.Meta, check string) (OutputDiff, string) {
	ref := c.ref
	d := OutputDiff{Name: "out", Check: check, Backend: c.backend, Tol: c.tol, Rtol: c.rtol, TolRule: c.rule, Shape: ref.GenOutShape}
	for i, v := range ref.GenVecOut {
		d.TorchF32MaxAbsDiff = max(d.TorchF32MaxAbsDiff, math.Abs(v-ref.GenVecOut64[i]))
	}
	if d.TolRule != TolGiven && 2*d.TorchF32MaxAbsDiff > d.Tol {
		d.Tol, d.TolRule = 2*d.TorchF32MaxAbsDiff, TolTorch
	}
	g, err := generate.NewContinuous(c.sess, meta)
	if err != nil {
		return d, check + ": not checked: " + strings.TrimPrefix(err.Error(), "generate: ")
	}
	b, t, w := int(ref.GenVecShape[0]), int(ref.GenVecShape[1]), int(ref.GenVecShape[2])
	start := make([][][]float32, b)
	for r := range start {
		for j := range t {
			start[r] = append(start[r], ref.GenVecStart[(r*t+j)*w:(r*t+j+1)*w])
		}
	}
	steps, wo := int(ref.GenOutShape[1]), int(ref.GenOutShape[2])
	got, err := g.Generate(c.ctx, start, steps, false)
	if err != nil {
		d.Note = err.Error()
		return d, ""
	}
	flat := make([]float32, 0, b*steps*wo)
	for _, row := range got {
		for _, v := range row {
			flat = append(flat, v...)
		}
	}
	if len(flat) != len(ref.GenVecOut64) {
		d.Note = fmt.Sprintf("generated %d values, the reference %d", len(flat), len(ref.GenVecOut64))
		return d, ""
	}
	d.diff(flat, ref.GenVecOut64)
	return d, ""
}

// checkSeq2Seq exports an XTransformer fixture as its encoder and decoder
// parts (the decoder with its KV cache when kv is set) and compares greedy
// generation from gen.src, gen.src_mask and gen.start with gen.out
// (XTransformer.generate of x-transformers), with every backend.
func checkSeq2Seq(ctx context.Context, dir string, ref *Reference, opts Options, kv bool, r *Result) error {
	encBytes, err := modelPart(dir, opts, false, builder.PartEncoder)
	if err != nil {
		return fmt.Errorf("encoder part: %w", err)
	}
	decBytes, err := modelPart(dir, opts, kv, builder.PartDecoder)
	var unsupported *builder.UnsupportedError
	if kv && errors.As(err, &unsupported) {
		r.Notes = append(r.Notes, "generate kv-cache: not checked: "+strings.TrimPrefix(err.Error(), "builder: "))
		return nil
	}
	if err != nil {
		return fmt.Errorf("decoder part: %w", err)
	}
	meta, err := generate.ParseMeta(decBytes)
	if err != nil {
		return err
	}
	check := "generate"
	if kv {
		check = "generate kv-cache"
	}
	tol, rule := tolerance(opts, ref)
	for _, backend := range backends(opts) {
		ro := opts.Runtime
		ro.Backend = backend
		enc, err := ModelSource{Bytes: encBytes}.open(ro)
		if err != nil {
			return err
		}
		dec, err := ModelSource{Bytes: decBytes}.open(ro)
		if err != nil {
			enc.Close()
			return err
		}
		c := &checker{ctx: ctx, ref: ref, sess: dec, backend: backend, tol: tol, rtol: opts.Rtol, rule: rule}
		d := c.compareTokens(check, func(steps int) ([][]int64, error) {
			s, err := generate.NewSeq2Seq(enc, dec, meta)
			if err != nil {
				return nil, err
			}
			return s.Generate(ctx, ref.GenSrc, ref.GenSrcMask, ref.GenStart, generate.Options{MaxNew: steps, Greedy: true})
		})
		enc.Close()
		dec.Close()
		r.Outputs = append(r.Outputs, d)
	}
	return nil
}

// generation runs greedy generation from gen.start and compares every
// token with gen.out. At the first differing token of a row whose float64
// margin (gen.margin) is within twice the tolerance, float32 may rightly
// pick either token: the row counts as a tie and is compared no further.
// A note instead of a row means the reference or the model has no
// generation to compare.
func (c *checker) generation(meta generate.Meta, check string) (OutputDiff, string) {
	d := OutputDiff{Name: "tokens", Check: check, Backend: c.backend, Tol: c.tol, TolRule: c.rule, TorchF32MaxAbsDiff: c.ref.TorchF32MaxAbsDiff}
	if c.ref.GenStart == nil {
		return d, check + ": not checked: the reference has no gen.start/gen.out (python/xt2onnx_ref writes them for decoder-only TransformerWrappers)"
	}
	g, err := generate.New(c.sess, meta)
	if err != nil {
		return d, check + ": not checked: " + strings.TrimPrefix(err.Error(), "generate: ")
	}
	return c.compareTokens(check, func(steps int) ([][]int64, error) {
		return g.Generate(c.ctx, c.ref.GenStart, generate.Options{MaxNew: steps, Greedy: true})
	}), ""
}

// compareTokens runs gen for the reference's number of steps and compares
// its tokens with gen.out (see generation).
func (c *checker) compareTokens(check string, gen func(steps int) ([][]int64, error)) OutputDiff {
	d := OutputDiff{Name: "tokens", Check: check, Backend: c.backend, Tol: c.tol, TolRule: c.rule, TorchF32MaxAbsDiff: c.ref.TorchF32MaxAbsDiff}
	steps := len(c.ref.GenOut[0])
	d.Shape = []int64{int64(len(c.ref.GenOut)), int64(steps)}
	got, err := gen(steps)
	if err != nil {
		d.Note = err.Error()
		return d
	}
	tie := 2 * c.tol
	for r, want := range c.ref.GenOut {
		for s, tok := range want {
			d.Tokens++
			if got[r][s] == tok {
				continue
			}
			if c.ref.GenMargin != nil && c.ref.GenMargin[r][s] <= tie {
				d.Ties++
				d.Tokens += len(want) - s - 1 // not compared: the rows diverged at a tie
				d.Mismatched += len(want) - s
				if d.Note == "" {
					d.Note = fmt.Sprintf("row %d step %d: a near tie (float64 margin %.3g ≤ %.3g): got token %d, PyTorch %d; the rest of the row is not compared", r, s, c.ref.GenMargin[r][s], tie, got[r][s], tok)
				}
				break
			}
			d.Mismatched++
			margin := ""
			if c.ref.GenMargin != nil {
				margin = fmt.Sprintf(" (float64 margin %.3g, not a tie)", c.ref.GenMargin[r][s])
			}
			d.Note = fmt.Sprintf("row %d step %d: got token %d, x-transformers generated %d%s; got %v, want %v", r, s, got[r][s], tok, margin, got[r], want)
			return d
		}
	}
	d.Pass = true
	return d
}
