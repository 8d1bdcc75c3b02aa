package generate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/generate"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // registers "native"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"    // registers "ort"
)

const fixtures = "../../fixtures/xtransformers-1.9.2"

// genFixtures returns the fixture cases that hold a greedy generation
// (gen.start, gen.out in io.safetensors).
func genFixtures(t *testing.T) []string {
	t.Helper()
	dirs, err := os.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		f, err := safetensors.Open(filepath.Join(fixtures, d.Name(), "io.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.Info("gen.start"); ok {
			cases = append(cases, d.Name())
		}
		f.Close()
	}
	if len(cases) != 19 {
		t.Fatalf("found %d fixtures with gen.start, want the 19 decoders: %v", len(cases), cases)
	}
	return cases
}

// rows splits an int64 tensor of io.safetensors into rows.
func rows(t *testing.T, f *safetensors.File, name string) [][]int64 {
	t.Helper()
	info, ok := f.Info(name)
	if !ok || len(info.Shape) != 2 {
		t.Fatalf("io.safetensors has no 2-D %q", name)
	}
	v, err := f.Int64s(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]int64, info.Shape[0])
	n := int(info.Shape[1])
	for r := range out {
		out[r] = v[r*n : (r+1)*n]
	}
	return out
}

// cacheUnsupported lists the fixtures the builder cannot export with a KV
// cache, because x-transformers 1.9.2 recomputes earlier positions as the
// sequence grows.
var cacheUnsupported = map[string]bool{
	"dec_rotary_xpos": true, // xpos scales keys around n//2 of the whole sequence
}

// buildModel builds a fixture's model from config.json and
// model.safetensors and serializes it (before the weights, which the
// built graph references, are closed).
func buildModel(t *testing.T, dir string, kvCache bool) ([]byte, error) {
	t.Helper()
	cfg, err := builder.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	wpath := filepath.Join(dir, "model.safetensors")
	w, err := builder.OpenWeights(wpath)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m, err := builder.Build(cfg, w, wpath, builder.Options{KVCache: kvCache})
	if err != nil {
		return nil, err
	}
	return export.Marshal(m, export.Options{})
}

// buildFixture builds a fixture's model and opens it with ONNX Runtime.
func buildFixture(t *testing.T, dir string, kvCache bool, backend ...string) (runtime.Session, []byte) {
	t.Helper()
	model, err := buildModel(t, dir, kvCache)
	if err != nil {
		t.Fatal(err)
	}
	opts := runtime.Options{IntraOpThreads: 1}
	if len(backend) > 0 {
		opts.Backend = backend[0]
	}
	sess, err := runtime.OpenBytes(model, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess, model
}

// TestFixturesGreedy checks that greedy generation reproduces
// x-transformers 1.9.2's AutoregressiveWrapper.generate (gen.out from
// gen.start) on every decoder fixture, with and without the KV cache,
// through both backends.
func TestFixturesGreedy(t *testing.T) {
	for _, name := range genFixtures(t) {
		for _, variant := range []struct {
			kv      bool
			backend string
		}{{false, "ort"}, {true, "ort"}, {false, "native"}, {true, "native"}} {
			kv, backend := variant.kv, variant.backend
			label := backend + "/no-cache"
			if kv {
				label = backend + "/kv-cache"
			}
			t.Run(name+"/"+label, func(t *testing.T) {
				dir := filepath.Join(fixtures, name)
				io, err := safetensors.Open(filepath.Join(dir, "io.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				defer io.Close()
				start, want := rows(t, io, "gen.start"), rows(t, io, "gen.out")
				if kv && cacheUnsupported[name] {
					var unsupported *builder.UnsupportedError
					if _, err := buildModel(t, dir, true); !errors.As(err, &unsupported) {
						t.Fatalf("KV-cache build: got error %v, want a *builder.UnsupportedError", err)
					}
					return
				}
				sess, model := buildFixture(t, dir, kv, backend)
				meta, err := generate.ParseMeta(model)
				if err != nil {
					t.Fatal(err)
				}
				if meta.MaxSeqLen != 64 || meta.NumTokens != 64 || meta.KVCache != kv {
					t.Errorf("meta %+v, want max_seq_len 64, 64 tokens, kv cache %v", meta, kv)
				}
				g, err := generate.New(sess, meta)
				if err != nil {
					t.Fatal(err)
				}
				if g.HasCache() != kv {
					t.Errorf("HasCache() = %v, want %v", g.HasCache(), kv)
				}
				got, err := g.Generate(context.Background(), start, generate.Options{MaxNew: len(want[0]), Greedy: true})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("greedy from %v:\n got %v\nwant %v (x-transformers 1.9.2)", start, got, want)
				}
			})
		}
	}
}

// TestCacheMatchesNoCacheSliding generates past max_seq_len with a tiny
// window, so that the KV-cache path has to slide and re-prefill, and checks
// it gives the tokens of the no-cache path.
func TestCacheMatchesNoCacheSliding(t *testing.T) {
	for _, name := range []string{"dec_basic", "dec_rotary", "dec_shift_topk", "dec_embed_variants"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(fixtures, name)
			plain, _ := buildFixture(t, dir, false)
			cached, _ := buildFixture(t, dir, true)
			meta := generate.Meta{MaxSeqLen: 6, NumTokens: 64}
			start := [][]int64{{3, 1, 4}, {1, 5, 9}}
			var out [2][][]int64
			for i, sess := range []runtime.Session{plain, cached} {
				g, err := generate.New(sess, meta)
				if err != nil {
					t.Fatal(err)
				}
				if out[i], err = g.Generate(context.Background(), start, generate.Options{MaxNew: 10, Greedy: true}); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(out[0], out[1]) {
				t.Errorf("window 6: no cache %v, KV cache %v", out[0], out[1])
			}
		})
	}
}

func TestReadMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	cfg, err := builder.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := export.WriteFile(path, m, export.Options{}); err != nil {
		t.Fatal(err)
	}
	meta, err := generate.ReadMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (generate.Meta{MaxSeqLen: 128, NumTokens: 256}); meta != want {
		t.Errorf("ReadMeta = %+v, want %+v", meta, want)
	}
	if got, err := generate.MetaOf(m); err != nil || got != meta {
		t.Errorf("MetaOf = %+v, %v; want %+v", got, err, meta)
	}
	kv, err := builder.Build(cfg, builder.RandomWeights{}, "", builder.Options{KVCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := generate.MetaOf(kv); err != nil || got != (generate.Meta{MaxSeqLen: 128, NumTokens: 256, KVCache: true}) {
		t.Errorf("MetaOf(KV-cache model) = %+v, %v", got, err)
	}
	for _, tc := range []struct{ key, value, want string }{
		{runtime.MetaMaxSeqLen, "-3", "is not a sequence length"},
		{runtime.MetaConfig, "{", "unexpected end of JSON input"},
		{runtime.MetaConfig, `{"wrapper":{"num_tokens":-1}}`, "must not be negative"},
	} {
		bad := &graph.Model{}
		bad.SetMetadata(tc.key, tc.value)
		if _, err := generate.MetaOf(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("MetaOf(%s = %s): error %v, want one containing %q", tc.key, tc.value, err, tc.want)
		}
	}
	_, err = generate.ReadMeta(filepath.Join(t.TempDir(), "missing.onnx"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
