package builder_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime"
	_ "github.com/xt2onnx/xt2onnx/runtime/native"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"
)

// openBuilt builds a fixture's model (or a config with random weights) and
// opens it in ONNX Runtime.
func openBuilt(t *testing.T, cfg *builder.Config, w builder.Weights, opts builder.Options) runtime.Session {
	t.Helper()
	return openBackend(t, cfg, w, opts, "")
}

// cacheableFixtures returns the decoder fixtures a KV cache can export
// (all but dec_rotary_xpos, which TestKVCacheRejects covers).
func cacheableFixtures(t *testing.T) []string {
	t.Helper()
	dirs, _ := filepath.Glob("../fixtures/xtransformers-1.9.2/dec_*")
	if len(dirs) != 19 {
		t.Fatalf("found %d decoder fixtures, want 19", len(dirs))
	}
	return slices.DeleteFunc(dirs, func(d string) bool { return strings.HasSuffix(d, "dec_rotary_xpos") })
}

// loadFixture reads a fixture's config and opens its weights until the
// test ends.
func loadFixture(t *testing.T, dir string) (*builder.Config, builder.Weights) {
	t.Helper()
	cfg, err := builder.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := builder.OpenWeights(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return cfg, w
}

// compareLast compares the logits of the last of step positions of each
// of 2 rows (got, [2, step, vocab]) with position end-1 of a full run
// (want, [2, end, vocab]), within 2e-5.
func compareLast(t *testing.T, what string, got, want []float32, step, end int) {
	t.Helper()
	vocab := len(got) / (2 * step)
	for b := 0; b < 2; b++ {
		for v := 0; v < vocab; v++ {
			g := got[(b*step+step-1)*vocab+v]
			e := want[(b*end+end-1)*vocab+v]
			if d := math.Abs(float64(g - e)); d > 2e-5 {
				t.Fatalf("position %d row %d token %d: %s %g, full %g (diff %.3g)", end-1, b, v, what, g, e, d)
			}
		}
	}
}

func tokenTensor(t *testing.T, rows [][]int64) *runtime.Tensor {
	t.Helper()
	var flat []int64
	for _, r := range rows {
		flat = append(flat, r...)
	}
	x, err := runtime.NewInt64([]int64{int64(len(rows)), int64(len(rows[0]))}, flat)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// emptyPast returns the initial cache inputs: zero-length keys and values,
// zero shift buffers.
func emptyPast(t *testing.T, s runtime.Session, batch int64) map[string]*runtime.Tensor {
	t.Helper()
	in := map[string]*runtime.Tensor{}
	for _, info := range s.Inputs() {
		if !strings.HasPrefix(info.Name, "past_") {
			continue
		}
		shape := info.Shape
		shape = append([]int64{batch}, shape[1:]...)
		if strings.HasPrefix(info.Name, builder.PastKeyPrefix) || strings.HasPrefix(info.Name, builder.PastValuePrefix) {
			shape[2] = 0
		}
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		v, err := runtime.NewFloat32(shape, make([]float32, n))
		if err != nil {
			t.Fatal(err)
		}
		in[info.Name] = v
	}
	return in
}

// TestKVCacheMatchesFullRun checks, for every decoder fixture, that
// prefilling 5 tokens and then feeding one token at a time through the
// cache gives the same logits as one run over the whole sequence.
func TestKVCacheMatchesFullRun(t *testing.T) {
	for _, dir := range cacheableFixtures(t) {
		for _, opset := range []int64{18, 23} {
			t.Run(fmt.Sprintf("%s/opset%d", filepath.Base(dir), opset), func(t *testing.T) {
				cfg, w := loadFixture(t, dir)
				full := openBuilt(t, cfg, w, builder.Options{Opset: opset, Mask: builder.MaskOff})
				cached := openBuilt(t, cfg, w, builder.Options{Opset: opset, KVCache: true})
				seq := [][]int64{{3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 32}, {2, 7, 18, 28, 18, 28, 4, 59, 0, 45, 23, 53}}
				const prefill = 5
				in := emptyPast(t, cached, 2)
				pos := 0
				for pos < len(seq[0]) {
					step := 1
					if pos == 0 {
						step = prefill
					}
					chunk := [][]int64{seq[0][pos : pos+step], seq[1][pos : pos+step]}
					in["x"] = tokenTensor(t, chunk)
					out, err := cached.Run(context.Background(), in)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := out["logits"].Float32s()
					// The no-cache path re-runs the whole prefix; compare
					// the logits of its last position, the one generation
					// samples from (with xpos the others depend on the
					// prefix length, as in x-transformers).
					end := pos + step
					prefix := [][]int64{seq[0][:end], seq[1][:end]}
					compareLast(t, "cached", got, runLogits(t, full, map[string]*runtime.Tensor{"x": tokenTensor(t, prefix)}), step, end)
					for name, v := range out {
						if p, ok := strings.CutPrefix(name, "present_"); ok {
							in["past_"+p] = v
						}
					}
					pos += step
				}
			})
		}
	}
}

// TestKVBufferMatchesFullRun is TestKVCacheMatchesFullRun for the buffer
// layout on both backends: the test keeps the buffers (capacity 8, grown to
// 16 after the eighth position), fills the slots past cache_len with
// garbage the model must ignore, and writes each step's new_* outputs in.
func TestKVBufferMatchesFullRun(t *testing.T) {
	for _, dir := range cacheableFixtures(t) {
		for _, backend := range []string{"ort", "native"} {
			t.Run(filepath.Base(dir)+"/"+backend, func(t *testing.T) {
				cfg, w := loadFixture(t, dir)
				full := openBackend(t, cfg, w, builder.Options{Mask: builder.MaskOff}, backend)
				cached := openBackend(t, cfg, w, builder.Options{KVCache: true, KVLayout: builder.KVLayoutBuffer}, backend)
				seq := [][]int64{{3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 32}, {2, 7, 18, 28, 18, 28, 4, 59, 0, 45, 23, 53}}
				bufs := newTestBuffers(t, cached, 2, 8)
				const prefill = 5
				for pos := 0; pos < len(seq[0]); {
					step := 1
					if pos == 0 {
						step = prefill
					}
					if bufs.n+step+cfg.NumMemoryTokens() > bufs.capacity {
						bufs.grow(16 + cfg.NumMemoryTokens())
					}
					in := bufs.inputs()
					in["x"] = tokenTensor(t, [][]int64{seq[0][pos : pos+step], seq[1][pos : pos+step]})
					out, err := cached.Run(context.Background(), in)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := out["logits"].Float32s()
					end := pos + step
					compareLast(t, "buffered", got, runLogits(t, full, map[string]*runtime.Tensor{"x": tokenTensor(t, [][]int64{seq[0][:end], seq[1][:end]})}), step, end)
					bufs.write(out)
					pos += step
				}
			})
		}
	}
}

// openBackend is openBuilt on the given backend.
func openBackend(t *testing.T, cfg *builder.Config, w builder.Weights, opts builder.Options, backend string) runtime.Session {
	t.Helper()
	m, err := builder.Build(cfg, w, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := export.Marshal(m, export.Options{Opset: opts.Opset})
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.OpenBytes(data, runtime.Options{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testBuffers is a minimal owner of a buffer-layout cache: [b, h, d, cap]
// keys, [b, h, cap, d] values, n valid positions, shift caches fed back.
type testBuffers struct {
	t           *testing.T
	s           runtime.Session
	batch       int64
	n, capacity int
	keys, vals  map[string][]int64 // name → [h, d]
	data        map[string][]float32
	shift       map[string]*runtime.Tensor
}

func newTestBuffers(t *testing.T, s runtime.Session, batch int64, capacity int) *testBuffers {
	b := &testBuffers{t: t, s: s, batch: batch, keys: map[string][]int64{}, vals: map[string][]int64{}, data: map[string][]float32{}, shift: map[string]*runtime.Tensor{}}
	for _, info := range s.Inputs() {
		switch {
		case strings.HasPrefix(info.Name, builder.CacheKeyPrefix):
			b.keys[info.Name] = []int64{info.Shape[1], info.Shape[2]}
		case strings.HasPrefix(info.Name, builder.CacheValuePrefix):
			b.vals[info.Name] = []int64{info.Shape[1], info.Shape[3]}
		case strings.HasPrefix(info.Name, builder.PastShiftPrefix):
			b.shift[info.Name] = zeros(t, append([]int64{batch}, info.Shape[1:]...))
		}
	}
	if len(b.keys) == 0 || len(b.keys) != len(b.vals) {
		t.Fatalf("buffer-layout model has %d cache_key and %d cache_value inputs", len(b.keys), len(b.vals))
	}
	b.grow(capacity)
	return b
}

func zeros(t *testing.T, shape []int64) *runtime.Tensor {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	v, err := runtime.NewFloat32(shape, make([]float32, n))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// grow moves the cache into buffers of the given capacity whose unused
// slots hold garbage.
func (b *testBuffers) grow(capacity int) {
	for name, hd := range b.keys {
		rows := int(b.batch * hd[0] * hd[1])
		next := make([]float32, rows*capacity)
		for i := range next {
			next[i] = float32(1000 + i%13)
		}
		for r := range rows {
			if old := b.data[name]; old != nil {
				copy(next[r*capacity:r*capacity+b.n], old[r*b.capacity:r*b.capacity+b.n])
			}
		}
		b.data[name] = next
	}
	for name, hd := range b.vals {
		rows, d := int(b.batch*hd[0]), int(hd[1])
		next := make([]float32, rows*capacity*d)
		for i := range next {
			next[i] = float32(-1000 - i%11)
		}
		for r := range rows {
			if old := b.data[name]; old != nil {
				copy(next[r*capacity*d:(r*capacity+b.n)*d], old[r*b.capacity*d:(r*b.capacity+b.n)*d])
			}
		}
		b.data[name] = next
	}
	b.capacity = capacity
}

func (b *testBuffers) inputs() map[string]*runtime.Tensor {
	in := map[string]*runtime.Tensor{}
	var err error
	if in[builder.CacheLenInput], err = runtime.NewInt64([]int64{1}, []int64{int64(b.n)}); err != nil {
		b.t.Fatal(err)
	}
	for name, hd := range b.keys {
		if in[name], err = runtime.NewFloat32([]int64{b.batch, hd[0], hd[1], int64(b.capacity)}, b.data[name]); err != nil {
			b.t.Fatal(err)
		}
	}
	for name, hd := range b.vals {
		if in[name], err = runtime.NewFloat32([]int64{b.batch, hd[0], int64(b.capacity), hd[1]}, b.data[name]); err != nil {
			b.t.Fatal(err)
		}
	}
	for name, v := range b.shift {
		in[name] = v
	}
	return in
}

// write stores a step's new_* outputs at position n and feeds the shift
// caches back.
func (b *testBuffers) write(out map[string]*runtime.Tensor) {
	seq := 0
	for name, hd := range b.keys {
		nk, err := out[builder.NewKeyPrefix+strings.TrimPrefix(name, builder.CacheKeyPrefix)].Float32s()
		if err != nil {
			b.t.Fatal(err)
		}
		rows := int(b.batch * hd[0] * hd[1])
		seq = len(nk) / rows
		for r := range rows {
			copy(b.data[name][r*b.capacity+b.n:r*b.capacity+b.n+seq], nk[r*seq:(r+1)*seq])
		}
	}
	for name, hd := range b.vals {
		nv, err := out[builder.NewValuePrefix+strings.TrimPrefix(name, builder.CacheValuePrefix)].Float32s()
		if err != nil {
			b.t.Fatal(err)
		}
		rows, d := int(b.batch*hd[0]), int(hd[1])
		for r := range rows {
			copy(b.data[name][(r*b.capacity+b.n)*d:(r*b.capacity+b.n+seq)*d], nv[r*seq*d:(r+1)*seq*d])
		}
	}
	for name := range b.shift {
		b.shift[name] = out[builder.PresentShiftPrefix+strings.TrimPrefix(name, builder.PastShiftPrefix)]
	}
	b.n += seq
}

func runLogits(t *testing.T, s runtime.Session, in map[string]*runtime.Tensor) []float32 {
	t.Helper()
	out, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	v, err := out["logits"].Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestKVCacheRejects(t *testing.T) {
	tests := []struct {
		name, config, want string
		opts               builder.Options
	}{
		{"xpos", "dec_rotary_xpos", "rotary_xpos", builder.Options{KVCache: true}},
		{"encoder", "enc_rmsnorm_glu", "non-causal", builder.Options{KVCache: true, Mask: builder.MaskOff}},
		{"mask", "dec_basic", "mask input", builder.Options{KVCache: true, Mask: builder.MaskOn}},
		{"xtransformer", "enc_dec", "KV cache for a whole XTransformer (export its decoder part with the cache", builder.Options{KVCache: true}},
		{"xtransformer encoder part", "enc_dec", "KV cache for the encoder part", builder.Options{KVCache: true, Part: builder.PartEncoder}},
		{"part of a decoder", "dec_basic", `part "decoder" of kind TransformerWrapper`, builder.Options{Part: builder.PartDecoder}},
		{"vit", "vit", "KV cache for kind ViTransformerWrapper", builder.Options{KVCache: true}},
		{"unknown layout", "dec_basic", `KV layout "ring" (want KVLayoutConcat, the zero value, or "buffer")`, builder.Options{KVCache: true, KVLayout: "ring"}},
		{"layout without the cache", "dec_basic", "KV layout buffer without the KV cache", builder.Options{KVLayout: builder.KVLayoutBuffer}},
		// found by the oracle: cross-attention queries sit at the end of the
		// context, counted over the whole sequence
		{"cross max_attend_past", `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 13},
			"attn_layers": {"type": "Decoder", "dim": 16, "depth": 1, "heads": 2, "attn_dim_head": 8, "cross_attend": true, "attn_max_attend_past": 2}}`,
			"attn_max_attend_past on cross-attention layers", builder.Options{KVCache: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg *builder.Config
			var err error
			if strings.HasPrefix(tt.config, "{") {
				cfg, err = builder.ParseConfig([]byte(tt.config))
			} else {
				cfg, err = builder.LoadConfig(filepath.Join("../fixtures/xtransformers-1.9.2", tt.config, "config.json"))
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", tt.opts)
			var ue *builder.UnsupportedError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an UnsupportedError mentioning %q", err, tt.want)
			}
		})
	}
}

// TestCacheSlides checks which decoders may slide the window on the KV
// cache: one self-attention layer with relative positions only.
func TestCacheSlides(t *testing.T) {
	base := func(edit func(c *builder.Config)) *builder.Config {
		c, err := builder.ParseConfig([]byte(`{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 16, "max_seq_len": 8, "use_abs_pos_emb": false},
			"attn_layers": {"type": "Decoder", "dim": 16, "depth": 1, "heads": 2, "alibi_pos_bias": true}}`))
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	for _, tt := range []struct {
		name string
		cfg  *builder.Config
		want bool
	}{
		{"alibi, one layer", base(nil), true},
		{"t5 bias", base(func(c *builder.Config) { c.Layers.AlibiPosBias, c.Layers.RelPosBias = false, true }), true},
		{"dynamic bias", base(func(c *builder.Config) { c.Layers.AlibiPosBias, c.Layers.DynamicPosBias = false, true }), true},
		{"no position information", base(func(c *builder.Config) { c.Layers.AlibiPosBias = false }), true},
		{"two layers", base(func(c *builder.Config) { c.Layers.Depth = 2 }), false},
		{"absolute positions", base(func(c *builder.Config) { c.Wrapper.UseAbsPosEmb = true }), false},
		{"rotary", base(func(c *builder.Config) { c.Layers.AlibiPosBias, c.Layers.RotaryPosEmb = false, true }), false},
		{"token shift", base(func(c *builder.Config) { c.Layers.ShiftTokens = builder.IntOrTuple{Int: 1} }), false},
		{"memory tokens", base(func(c *builder.Config) { n := 2; c.Wrapper.NumMemoryTokens = &n }), false},
		{"memory keys", base(func(c *builder.Config) { c.Layers.Attn.NumMemKV = 2 }), false},
		{"encoder", base(func(c *builder.Config) { c.Layers.Type = builder.LayersEncoder }), false},
		{"nil", nil, false},
	} {
		if got := tt.cfg.CacheSlides(); got != tt.want {
			t.Errorf("%s: CacheSlides() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestKVBufferHostileLength runs a buffer-layout model with cache_len
// outside [0, capacity] and with empty buffers on both backends: the
// length is clamped in-graph, so each run either gives the logits of the
// clamped cache or an error, never a crash; a clamped run equals the run
// with the clamped length.
func TestKVBufferHostileLength(t *testing.T) {
	cfg, w := loadFixture(t, "../fixtures/xtransformers-1.9.2/dec_alibi")
	for _, backend := range []string{"ort", "native"} {
		s := openBackend(t, cfg, w, builder.Options{KVCache: true, KVLayout: builder.KVLayoutBuffer}, backend)
		run := func(capacity int, n int64) ([]float32, error) {
			bufs := newTestBuffers(t, s, 1, capacity)
			in := bufs.inputs()
			var err error
			if in[builder.CacheLenInput], err = runtime.NewInt64([]int64{1}, []int64{n}); err != nil {
				t.Fatal(err)
			}
			in["x"] = tokenTensor(t, [][]int64{{3, 1}})
			out, err := s.Run(context.Background(), in)
			if err != nil {
				return nil, err
			}
			return out["logits"].Float32s()
		}
		for _, tt := range []struct {
			name      string
			capacity  int
			n, sameAs int64
		}{
			{"negative", 4, -5, 0},
			{"beyond the capacity", 4, 1 << 40, 4},
			{"max int64", 4, math.MaxInt64, 4},
		} {
			t.Run(backend+"/"+tt.name, func(t *testing.T) {
				got, err := run(tt.capacity, tt.n)
				if err != nil {
					t.Fatalf("cache_len %d: %v", tt.n, err)
				}
				want, err := run(tt.capacity, tt.sameAs)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("cache_len %d differs from cache_len %d", tt.n, tt.sameAs)
				}
			})
		}
		t.Run(backend+"/capacity 0", func(t *testing.T) {
			// Zero-length buffers are a valid empty cache.
			got, err := run(0, 0)
			if err != nil {
				t.Fatalf("capacity 0: %v", err)
			}
			want, err := run(1, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-6 {
					t.Fatalf("capacity 0 and 1 (both empty) differ at %d by %g", i, d)
				}
			}
		})
	}
}

// TestKVLayoutNames checks which inputs each spelling of a layout gives.
func TestKVLayoutNames(t *testing.T) {
	cfg, err := builder.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		layout     builder.KVLayout
		input, out string
	}{
		{builder.KVLayoutConcat, "past_key_0", "present_key_0"},
		{"concat", "past_key_0", "present_key_0"},
		{builder.KVLayoutBuffer, "cache_key_0", "new_key_0"},
	} {
		m, err := builder.Build(cfg, builder.RandomWeights{}, "", builder.Options{KVCache: true, KVLayout: tt.layout})
		if err != nil {
			t.Fatal(err)
		}
		hasIn := slices.ContainsFunc(m.Graph.Inputs, func(v graph.ValueInfo) bool { return v.Name == tt.input })
		hasOut := slices.ContainsFunc(m.Graph.Outputs, func(v graph.ValueInfo) bool { return v.Name == tt.out })
		if !hasIn || !hasOut {
			t.Errorf("layout %q: input %s %v, output %s %v", tt.layout, tt.input, hasIn, tt.out, hasOut)
		}
		if got, _ := m.MetadataValue(builder.MetaKVLayout); (tt.layout == builder.KVLayoutBuffer) != (got == "buffer") {
			t.Errorf("layout %q: metadata %s = %q", tt.layout, builder.MetaKVLayout, got)
		}
	}
}
