package builder_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/ort"
)

const fixtures = "../fixtures/xtransformers-1.9.2"

// requireORT loads ONNX Runtime or fails the test: ORT tests never skip
// because the library is missing.
func requireORT(t testing.TB) {
	t.Helper()
	if err := ort.Init(""); err != nil {
		t.Fatalf("ONNX Runtime is required for this test (run `make ort` or set ONNXRUNTIME_LIB): %v", err)
	}
}

// build builds cfg with random weights and returns the ONNX bytes.
func build(t testing.TB, cfg *builder.Config, w builder.Weights, opts builder.Options, eo export.Options) []byte {
	t.Helper()
	m, err := builder.Build(cfg, w, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := export.Marshal(m, eo)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func preset(t testing.TB, name string) *builder.Config {
	t.Helper()
	cfg, err := builder.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// rewriteWeights copies the dec_basic weights into a temporary file,
// applying edit to the tensor list first.
func rewriteWeights(t *testing.T, edit func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	src, err := safetensors.Open(filepath.Join(fixtures, "dec_basic", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ts []safetensors.Tensor
	for _, n := range src.Names() {
		info, _ := src.Info(n)
		raw, err := src.Bytes(n)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: bytes.Clone(raw)})
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := safetensors.Write(path, edit(ts), nil); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	dropped  = "attn_layers.layers.2.1.to_q.weight"   // [32 32]
	reshaped = "attn_layers.layers.1.1.ff.0.0.weight" // [128 32]
	added    = "extra.weight"
)

func drop(ts []safetensors.Tensor) []safetensors.Tensor {
	var out []safetensors.Tensor
	for _, t := range ts {
		if t.Name != dropped {
			out = append(out, t)
		}
	}
	return out
}

func reshape(ts []safetensors.Tensor) []safetensors.Tensor {
	for i := range ts {
		if ts[i].Name == reshaped {
			ts[i].Shape = []int64{32, 128}
		}
	}
	return ts
}

func add(ts []safetensors.Tensor) []safetensors.Tensor {
	return append(ts, safetensors.F32(added, []int64{3}, []float32{1, 2, 3}))
}

func TestBuildWeightsErrors(t *testing.T) {
	cfg, err := builder.LoadConfig(filepath.Join(fixtures, "dec_basic", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	missing := dropped + " [32 32]"
	mismatched := reshaped + ": file has [32 128], model needs [128 32]"
	unexpected := added + " [3]"
	tests := []struct {
		name       string
		edit       func([]safetensors.Tensor) []safetensors.Tensor
		missing    []string
		mismatched []string
		unexpected []string
	}{
		{name: "unchanged copy builds", edit: func(ts []safetensors.Tensor) []safetensors.Tensor { return ts }},
		{name: "dropped", edit: drop, missing: []string{missing}},
		{name: "reshaped", edit: reshape, mismatched: []string{mismatched}},
		{name: "added", edit: add, unexpected: []string{unexpected}},
		{
			name:       "all three in one error",
			edit:       func(ts []safetensors.Tensor) []safetensors.Tensor { return add(reshape(drop(ts))) },
			missing:    []string{missing},
			mismatched: []string{mismatched},
			unexpected: []string{unexpected},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := rewriteWeights(t, tt.edit)
			w, err := builder.OpenWeights(path)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			m, err := builder.Build(cfg, w, path, builder.Options{})
			if tt.missing == nil && tt.mismatched == nil && tt.unexpected == nil {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := export.Marshal(m, export.Options{}); err != nil {
					t.Fatal(err)
				}
				return
			}
			if m != nil {
				t.Error("Build returned a model along with the error")
			}
			var we *builder.WeightsError
			if !errors.As(err, &we) {
				t.Fatalf("err = %T %v, want *builder.WeightsError", err, err)
			}
			if we.Source != path {
				t.Errorf("Source = %q, want %q", we.Source, path)
			}
			if !reflect.DeepEqual(we.Missing, tt.missing) || !reflect.DeepEqual(we.Mismatched, tt.mismatched) ||
				!reflect.DeepEqual(we.Unexpected, tt.unexpected) || len(we.Other) != 0 {
				t.Errorf("missing %q mismatched %q unexpected %q other %q\nwant missing %q mismatched %q unexpected %q",
					we.Missing, we.Mismatched, we.Unexpected, we.Other, tt.missing, tt.mismatched, tt.unexpected)
			}
			msg := err.Error()
			for _, s := range append(append(append([]string{path}, tt.missing...), tt.mismatched...), tt.unexpected...) {
				if !strings.Contains(msg, s) {
					t.Errorf("error text lacks %q:\n%s", s, msg)
				}
			}
		})
	}
}

func TestBuildUnsupported(t *testing.T) {
	tests := []struct {
		name   string
		json   string
		opts   builder.Options
		option string // must appear in UnsupportedError.Options
	}{
		{
			name: "learned alibi with fewer alibi heads",
			json: `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 64},
			  "attn_layers": {"type": "Decoder", "dim": 32, "depth": 1, "heads": 4,
			                  "alibi_pos_bias": true, "alibi_num_heads": 2, "alibi_learned": true}}`,
			option: "attn_layers.alibi_learned",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := builder.ParseConfig([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			m, err := builder.Build(cfg, builder.RandomWeights{}, "", tt.opts)
			var ue *builder.UnsupportedError
			if !errors.As(err, &ue) || m != nil {
				t.Fatalf("err = %T %v, want *builder.UnsupportedError", err, err)
			}
			found := false
			for _, o := range ue.Options {
				found = found || strings.HasPrefix(o, tt.option)
			}
			if !found || !strings.Contains(err.Error(), tt.option) {
				t.Errorf("options %q / error %q do not name %s", ue.Options, err, tt.option)
			}
		})
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	if _, err := builder.Build(nil, builder.RandomWeights{}, "", builder.Options{}); err == nil {
		t.Error("nil config accepted")
	}
	cfg := preset(t, "tiny")
	cfg.Layers.Heads = 0
	if _, err := builder.Build(cfg, builder.RandomWeights{}, "", builder.Options{}); err == nil {
		t.Error("invalid config (heads 0) accepted")
	}
	if _, err := builder.Build(preset(t, "tiny"), builder.RandomWeights{}, "", builder.Options{Opset: 16}); err == nil ||
		!strings.Contains(err.Error(), "16") || !strings.Contains(err.Error(), "17") {
		t.Errorf("opset 16: %v", err)
	}
}

func TestRandomWeightsDeterministic(t *testing.T) {
	cfg := preset(t, "tiny")
	a := build(t, cfg, builder.RandomWeights{Seed: 1}, builder.Options{}, export.Options{})
	b := build(t, cfg, builder.RandomWeights{Seed: 1}, builder.Options{}, export.Options{})
	p := build(t, cfg, &builder.RandomWeights{Seed: 1}, builder.Options{}, export.Options{})
	c := build(t, cfg, builder.RandomWeights{Seed: 2}, builder.Options{}, export.Options{})
	if !bytes.Equal(a, b) {
		t.Error("two builds with seed 1 differ")
	}
	if !bytes.Equal(a, p) {
		t.Error("*RandomWeights and RandomWeights with the same seed differ")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 1 and 2 give identical models")
	}
	if len(a) != len(c) {
		t.Errorf("seed changes the model size: %d vs %d bytes (only weight values should change)", len(a), len(c))
	}
	// Different structure: the names and nodes are also deterministic.
	m1, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := builder.Build(cfg, builder.RandomWeights{Seed: 9}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if names(m1) != names(m2) {
		t.Error("node names depend on the seed")
	}
	if v, ok := m1.MetadataValue(builder.MetaXTransformers); !ok || v != "1.9.2" {
		t.Errorf("metadata %s = %q", builder.MetaXTransformers, v)
	}
	js, ok := m1.MetadataValue(builder.MetaConfig)
	if !ok {
		t.Fatal("no config metadata")
	}
	back, err := builder.ParseConfig([]byte(js))
	if err != nil {
		t.Fatalf("config metadata does not parse: %v", err)
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("config metadata round trip differs:\n%s", js)
	}
}

func names(m *graph.Model) string {
	var b strings.Builder
	for _, n := range m.Graph.Nodes {
		fmt.Fprintln(&b, n.Name, n.OpType, n.Inputs, n.Outputs)
	}
	for _, t := range m.Graph.Initializers {
		fmt.Fprintln(&b, t.Name, t.Dims)
	}
	return b.String()
}

func TestRandomWeightsInit(t *testing.T) {
	m, err := builder.Build(preset(t, "tiny"), builder.RandomWeights{Seed: 4}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stats := map[string][2]float64{} // name -> min, max
	for _, init := range m.Graph.Initializers {
		v, err := init.Float32s()
		if err != nil {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range v {
			lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
		}
		stats[init.Name] = [2]float64{lo, hi}
	}
	for _, tt := range []struct {
		name   string
		lo, hi float64
	}{
		{"norm.weight", 1, 1},
		{"norm.bias", 0, 0},
		{"to_logits.bias", 0, 0},
		{"attn_layers.layers.0.0.0.weight", 1, 1},
	} {
		s, ok := stats[tt.name]
		if !ok {
			t.Errorf("no initializer %s", tt.name)
			continue
		}
		if s[0] != tt.lo || s[1] != tt.hi {
			t.Errorf("%s in [%g, %g], want [%g, %g]", tt.name, s[0], s[1], tt.lo, tt.hi)
		}
	}
	// Linear weights: uniform in ±1/√fan_in (fan_in 64), spread out.
	for name, s := range stats {
		if strings.HasSuffix(name, "to_q.weight_t") {
			if bound := 1 / math.Sqrt(64); s[0] < -bound || s[1] > bound || s[1]-s[0] < bound {
				t.Errorf("%s in [%g, %g], want within ±%g", name, s[0], s[1], bound)
			}
		}
	}
	if s := stats["token_emb.emb.weight"]; s[1]-s[0] < 4 {
		t.Errorf("token embedding range [%g, %g] is not N(0,1)-like", s[0], s[1])
	}
}

// session opens model with ONNX Runtime.
func session(t testing.TB, model []byte) runtime.Session {
	t.Helper()
	requireORT(t)
	sess, err := runtime.OpenBytes(model, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

func tokens(r *rand.Rand, n, vocab int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = r.Int64N(int64(vocab))
	}
	return out
}

// logits runs the model on tokens [b, s] (and mask, when not nil) and returns
// the output, checking its shape [b, s, vocab] and that it has no NaN.
func logits(t *testing.T, sess runtime.Session, b, s int, x []int64, mask []bool, vocab int) []float32 {
	t.Helper()
	xt, err := runtime.NewInt64([]int64{int64(b), int64(s)}, x)
	if err != nil {
		t.Fatal(err)
	}
	feeds := map[string]*runtime.Tensor{builder.InputTokens: xt}
	if mask != nil {
		mt, err := runtime.NewBool([]int64{int64(b), int64(s)}, mask)
		if err != nil {
			t.Fatal(err)
		}
		feeds[builder.InputMask] = mt
	}
	outs, err := sess.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	out := outs[sess.Outputs()[0].Name]
	if want := []int64{int64(b), int64(s), int64(vocab)}; !reflect.DeepEqual(out.Shape(), want) {
		t.Fatalf("output shape %v, want %v", out.Shape(), want)
	}
	v, err := out.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("output %d is %v", i, x)
		}
	}
	return v
}

// maxDiff returns the largest |a-b| over positions [from, to) of every
// batch row, a and b being [rows, seq, vocab].
func maxDiff(a, b []float32, rows, seqA, seqB, from, to, vocab int) float64 {
	d := 0.0
	for r := 0; r < rows; r++ {
		for p := from; p < to; p++ {
			for v := 0; v < vocab; v++ {
				d = max(d, math.Abs(float64(a[(r*seqA+p)*vocab+v])-float64(b[(r*seqB+p)*vocab+v])))
			}
		}
	}
	return d
}

// TestDecoderShapesBatchAndCausality runs the tiny preset decoder at
// different batch and sequence sizes: shapes follow the input, batch rows
// are independent and no position sees later tokens.
func TestDecoderShapesBatchAndCausality(t *testing.T) {
	const vocab = 256
	cfg := preset(t, "tiny")
	r := rand.New(rand.NewPCG(5, 6))
	x3 := tokens(r, 3*40, vocab)
	var ref []float32
	for _, v := range []struct {
		opset  int64
		inline bool
	}{{18, false}, {18, true}, {17, false}, {17, true}} {
		t.Run(fmt.Sprintf("opset%d_inline%v", v.opset, v.inline), func(t *testing.T) {
			model := build(t, cfg, builder.RandomWeights{Seed: 11}, builder.Options{Opset: v.opset}, export.Options{Opset: v.opset, InlineFunctions: v.inline})
			sess := session(t, model)
			if in := sess.Inputs(); len(in) != 1 || in[0].Name != builder.InputTokens {
				t.Fatalf("inputs %v, want just %s", in, builder.InputTokens)
			}
			if out := sess.Outputs(); len(out) != 1 || out[0].Name != builder.OutputLogits {
				t.Fatalf("outputs %v, want just %s", out, builder.OutputLogits)
			}
			full := logits(t, sess, 3, 40, x3, nil, vocab)
			if ref == nil {
				ref = full
			} else if d := maxDiff(full, ref, 3, 40, 40, 0, 40, vocab); d > 1e-5 {
				t.Errorf("differs from opset 18 with functions by %.3g", d)
			}
			for _, row := range []int{0, 2} {
				one := logits(t, sess, 1, 40, x3[row*40:(row+1)*40], nil, vocab)
				if d := maxDiff(full[row*40*vocab:], one, 1, 40, 40, 0, 40, vocab); d > 1e-5 {
					t.Errorf("batch row %d of [3,40] differs from a [1,40] run by %.3g", row, d)
				}
				prefix := logits(t, sess, 1, 7, x3[row*40:row*40+7], nil, vocab)
				if d := maxDiff(one, prefix, 1, 40, 7, 0, 7, vocab); d > 1e-5 {
					t.Errorf("row %d: positions < 7 of a 40-long run differ from the 7-long prefix run by %.3g", row, d)
				}
			}
			// Changing token 10 changes positions ≥ 10 only.
			changed := append([]int64(nil), x3[:40]...)
			changed[10] = (changed[10] + 1) % vocab
			a := logits(t, sess, 1, 40, x3[:40], nil, vocab)
			b := logits(t, sess, 1, 40, changed, nil, vocab)
			if d := maxDiff(a, b, 1, 40, 40, 0, 10, vocab); d > 1e-5 {
				t.Errorf("changing token 10 changed earlier positions by %.3g", d)
			}
			if d := maxDiff(a, b, 1, 40, 40, 10, 40, vocab); d < 1e-3 {
				t.Errorf("changing token 10 changed later positions by only %.3g: the model ignores its input", d)
			}
		})
	}
}

func TestMaskInputs(t *testing.T) {
	enc := `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 64},
	  "attn_layers": {"type": "Encoder", "dim": 32, "depth": 1, "heads": 4, "attn_dim_head": 8}}`
	basic, err := builder.LoadConfig(filepath.Join(fixtures, "dec_basic", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	encCfg, err := builder.ParseConfig([]byte(enc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  *builder.Config
		mode builder.MaskMode
		want []string
	}{
		{"decoder auto", preset(t, "tiny"), builder.MaskAuto, []string{"x"}},
		{"decoder on", preset(t, "tiny"), builder.MaskOn, []string{"x", "mask"}},
		{"encoder auto", encCfg, builder.MaskAuto, []string{"x", "mask"}},
		{"encoder off", encCfg, builder.MaskOff, []string{"x"}},
		{"config inputs without mask", basic, builder.MaskAuto, []string{"x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := builder.Build(tt.cfg, builder.RandomWeights{}, "", builder.Options{Mask: tt.mode})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, in := range m.Graph.Inputs {
				got = append(got, in.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("inputs %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMaskSemantics checks that tokens at masked positions cannot influence
// the outputs at unmasked positions.
func TestMaskSemantics(t *testing.T) {
	const (
		vocab = 64
		seq   = 12
	)
	for _, tt := range []struct {
		name string
		json string
	}{
		{"encoder", `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 64},
		  "attn_layers": {"type": "Encoder", "dim": 32, "depth": 2, "heads": 4, "attn_dim_head": 8}}`},
		{"encoder qk-norm", `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 64},
		  "attn_layers": {"type": "Encoder", "dim": 32, "depth": 2, "heads": 4, "attn_dim_head": 8,
		                  "attn_qk_norm": true, "attn_qk_norm_groups": 2, "attn_qk_norm_dim_scale": true}}`},
		{"decoder", `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 64},
		  "attn_layers": {"type": "Decoder", "dim": 32, "depth": 2, "heads": 4, "attn_dim_head": 8}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := builder.ParseConfig([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			sess := session(t, build(t, cfg, builder.RandomWeights{Seed: 3}, builder.Options{Mask: builder.MaskOn}, export.Options{}))
			r := rand.New(rand.NewPCG(7, 8))
			x := tokens(r, 2*seq, vocab)
			mask := make([]bool, 2*seq)
			for i := range mask {
				p := i % seq
				// row 0: right padding from 9; row 1: holes at 0 and 5
				mask[i] = (i < seq && p < 9) || (i >= seq && p != 0 && p != 5)
			}
			changed := append([]int64(nil), x...)
			for i, keep := range mask {
				if !keep {
					changed[i] = (changed[i] + 17) % vocab
				}
			}
			a := logits(t, sess, 2, seq, x, mask, vocab)
			b := logits(t, sess, 2, seq, changed, mask, vocab)
			var kept, masked float64
			for i, keep := range mask {
				for v := 0; v < vocab; v++ {
					d := math.Abs(float64(a[i*vocab+v]) - float64(b[i*vocab+v]))
					if keep {
						kept = max(kept, d)
					} else {
						masked = max(masked, d)
					}
				}
			}
			if kept > 1e-6 {
				t.Errorf("tokens at masked positions changed unmasked outputs by %.3g", kept)
			}
			if masked < 1e-3 {
				t.Errorf("masked positions' own outputs changed by only %.3g: the test does not exercise the tokens", masked)
			}
			// Control: without the mask the same change does reach other positions.
			all := make([]bool, len(mask))
			for i := range all {
				all[i] = true
			}
			a = logits(t, sess, 2, seq, x, all, vocab)
			b = logits(t, sess, 2, seq, changed, all, vocab)
			reach := 0.0
			for i, keep := range mask {
				for v := 0; keep && v < vocab; v++ {
					reach = max(reach, math.Abs(float64(a[i*vocab+v])-float64(b[i*vocab+v])))
				}
			}
			if reach < 1e-3 {
				t.Errorf("without a mask the changed tokens affect other positions by only %.3g", reach)
			}
		})
	}
}

func TestPresets(t *testing.T) {
	if got := builder.Presets(); !reflect.DeepEqual(got, []string{"base", "small", "tiny"}) {
		t.Errorf("Presets() = %v", got)
	}
	for _, tt := range []struct {
		name                        string
		vocab, seq, dim, depth, hds int
	}{
		{"tiny", 256, 128, 64, 2, 4},
		{"small", 1024, 256, 256, 4, 8},
		{"base", 1024, 512, 512, 6, 8},
	} {
		cfg := preset(t, tt.name)
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		w, l := cfg.Wrapper, cfg.Layers
		if cfg.Kind != builder.KindTransformerWrapper || l.Type != builder.LayersDecoder || w.NumTokens != tt.vocab ||
			w.MaxSeqLen != tt.seq || l.Dim != tt.dim || l.Depth != tt.depth || l.Heads != tt.hds {
			t.Errorf("%s: %+v %+v", tt.name, w, l)
		}
	}
	// Each call returns a fresh copy.
	a, b := preset(t, "tiny"), preset(t, "tiny")
	a.Layers.Depth = 99
	if b.Layers.Depth == 99 {
		t.Error("Preset returns shared configs")
	}
	if _, err := builder.Preset("huge"); err == nil || !strings.Contains(err.Error(), `"huge"`) || !strings.Contains(err.Error(), "tiny") {
		t.Errorf("unknown preset: %v", err)
	}
}
