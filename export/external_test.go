package export_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
)

const fixtures = "../fixtures/xtransformers-1.9.2"

// buildFor builds a model from a preset (random weights) or a fixture
// directory (its config and safetensors weights), streamed or not.
func buildFor(t *testing.T, preset, fixture string, opts builder.Options) *graph.Model {
	t.Helper()
	if preset != "" {
		cfg, err := builder.Preset(preset)
		if err != nil {
			t.Fatal(err)
		}
		m, err := builder.Build(cfg, builder.RandomWeights{Seed: 3}, "random", opts)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	cfg, err := builder.LoadConfig(filepath.Join(fixture, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := builder.OpenWeights(filepath.Join(fixture, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	m, err := builder.Build(cfg, w, "weights", opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A streamed build writes exactly the bytes of an in-memory build, and a
// model under the external-data threshold is one file, byte-identical to
// Marshal's output.
func TestStreamedBuildIsByteIdentical(t *testing.T) {
	for _, tc := range []struct {
		name, preset, fixture string
		kv                    bool
	}{
		{name: "preset tiny", preset: "tiny"},
		{name: "preset small kv", preset: "small", kv: true},
		{name: "dec_basic", fixture: filepath.Join(fixtures, "dec_basic")},
		{name: "enc_dec", fixture: filepath.Join(fixtures, "enc_dec")},
		{name: "vit", fixture: filepath.Join(fixtures, "vit")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := export.Marshal(buildFor(t, tc.preset, tc.fixture, builder.Options{KVCache: tc.kv}), export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			streamed := buildFor(t, tc.preset, tc.fixture, builder.Options{KVCache: tc.kv, Stream: true})
			var deferred int
			for _, it := range streamed.Graph.Initializers {
				if it.Source != nil {
					deferred++
				}
			}
			if deferred == 0 {
				t.Fatal("a streamed build deferred no initializer")
			}
			got, err := export.Marshal(streamed, export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("streamed build: %d bytes (sha256 %s), in-memory build: %d bytes (sha256 %s)", len(got), sum(got), len(want), sum(want))
			}
			path := filepath.Join(t.TempDir(), "m.onnx")
			if err := export.WriteFile(path, streamed, export.Options{}); err != nil {
				t.Fatal(err)
			}
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(file, want) {
				t.Fatalf("WriteFile under the threshold wrote %d bytes (sha256 %s), Marshal %d (sha256 %s)", len(file), sum(file), len(want), sum(want))
			}
			if _, err := os.Stat(export.ExternalDataPath(path)); !os.IsNotExist(err) {
				t.Fatalf("a model under the threshold got a data file (%v)", err)
			}
		})
	}
}

// The tiny preset's file is what it was before external data existed (the
// hash of xt2onnx export --preset tiny --seed 3 at commit ab14ca9).
func TestTinyPresetGoldenHash(t *testing.T) {
	data, err := export.Marshal(buildFor(t, "tiny", "", builder.Options{Stream: true}), export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// export --preset tiny --seed 3 of main before external data landed
	// (5376d72). The builder of issue 12 emits each attention's q before its
	// k, so the hash differs from the one before that (c3860dbc…), which
	// had the same nodes in another order.
	const want = "a962f9606794070e2a467665fd7c754e6d9f35316c301fd00078f5379990a594"
	if got := sum(data); got != want {
		t.Fatalf("preset tiny (seed 3) sha256 %s, want %s", got, want)
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// External data: large initializers in <model>.data at 64-byte aligned
// offsets, small ones inline, the same tensors read back (copied or
// mapped), and the automatic threshold.
func TestWriteExternalData(t *testing.T) {
	inMemory := buildFor(t, "small", "", builder.Options{})
	for _, tc := range []struct {
		name     string
		opts     export.Options
		external bool
	}{
		{"requested", export.Options{ExternalData: true}, true},
		{"over the threshold", export.Options{ExternalDataThreshold: 1 << 20}, true},
		{"under the threshold", export.Options{ExternalDataThreshold: 1 << 30}, false},
		{"never", export.Options{ExternalDataThreshold: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := buildFor(t, "small", "", builder.Options{Stream: true})
			if got := export.UsesExternalData(m, tc.opts); got != tc.external {
				t.Fatalf("UsesExternalData = %v, want %v", got, tc.external)
			}
			path := filepath.Join(t.TempDir(), "small.onnx")
			if err := export.WriteFile(path, m, tc.opts); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			di, derr := os.Stat(export.ExternalDataPath(path))
			if !tc.external {
				if !os.IsNotExist(derr) {
					t.Fatalf("data file written without external data (%v)", derr)
				}
				return
			}
			if derr != nil {
				t.Fatal(derr)
			}
			if fi.Size() > 64<<10 || di.Size() < export.InitializerBytes(m)*9/10 {
				t.Fatalf("model %d bytes, data %d bytes of %d initializer bytes: the weights are not in the data file", fi.Size(), di.Size(), export.InitializerBytes(m))
			}
			checkLayout(t, path)
			for _, read := range []struct {
				name string
				read func() (*graph.Model, func() error, error)
			}{
				{"copied", func() (*graph.Model, func() error, error) {
					m, err := onnximport.ReadFile(path)
					return m, func() error { return nil }, err
				}},
				{"mapped", func() (*graph.Model, func() error, error) {
					return onnximport.ReadFileMapped(path, onnximport.ReadOptions{})
				}},
			} {
				back, release, err := read.read()
				if err != nil {
					t.Fatalf("%s: %v", read.name, err)
				}
				if len(back.Graph.Initializers) != len(inMemory.Graph.Initializers) {
					t.Fatalf("%s: %d initializers read back, %d written", read.name, len(back.Graph.Initializers), len(inMemory.Graph.Initializers))
				}
				for i, want := range inMemory.Graph.Initializers {
					got := back.Graph.Initializers[i]
					if got.Name != want.Name || !bytes.Equal(got.Raw, want.Raw) {
						t.Fatalf("%s: initializer %d: %q (%d bytes) read back, %q (%d bytes) written", read.name, i, got.Name, len(got.Raw), want.Name, len(want.Raw))
					}
				}
				if err := release(); err != nil {
					t.Fatal(err)
				}
			}
			skipped, err := onnximport.ReadFileWith(path, onnximport.ReadOptions{SkipExternalData: true})
			if err != nil {
				t.Fatal(err)
			}
			var without int
			for _, it := range skipped.Graph.Initializers {
				if it.Raw == nil {
					without++
				}
			}
			if without == 0 {
				t.Fatal("SkipExternalData read the external tensors")
			}
		})
	}
}

// checkLayout reads the raw TensorProtos: every external tensor names the
// data file by its base name, at a 64-byte aligned offset, and none
// overlap.
func checkLayout(t *testing.T, path string) {
	t.Helper()
	refs, err := onnximport.ExternalRefs(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) == 0 {
		t.Fatal("no external tensor")
	}
	var end int64
	for _, r := range refs {
		if r.Location != filepath.Base(path)+".data" {
			t.Errorf("%s: location %q", r.Name, r.Location)
		}
		if r.Offset%export.ExternalDataAlign != 0 || r.Offset < end {
			t.Errorf("%s: offset %d (previous tensor ends at %d): want a multiple of %d after it", r.Name, r.Offset, end, export.ExternalDataAlign)
		}
		if r.Length < export.ExternalDataMinBytes {
			t.Errorf("%s: %d bytes went external, the minimum is %d", r.Name, r.Length, export.ExternalDataMinBytes)
		}
		end = r.Offset + r.Length
	}
}

// SkipTensorData reads names, types and shapes, no weight, inline or
// external: the model equals a full read but for the initializers' data.
func TestReadSkipTensorData(t *testing.T) {
	m := buildFor(t, "small", "", builder.Options{Stream: true, KVCache: true})
	for _, opts := range []export.Options{{}, {ExternalData: true}} {
		path := filepath.Join(t.TempDir(), "small.onnx")
		if err := export.WriteFile(path, m, opts); err != nil {
			t.Fatal(err)
		}
		full, err := onnximport.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		skipped, err := onnximport.ReadFileWith(path, onnximport.ReadOptions{SkipTensorData: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(skipped.Graph.Initializers) != len(full.Graph.Initializers) {
			t.Fatalf("external %v: %d initializers, want %d", opts.ExternalData, len(skipped.Graph.Initializers), len(full.Graph.Initializers))
		}
		for i, it := range skipped.Graph.Initializers {
			if it.Raw != nil {
				t.Fatalf("external %v: initializer %q was read (%d bytes)", opts.ExternalData, it.Name, len(it.Raw))
			}
			it.Raw = full.Graph.Initializers[i].Raw
		}
		if !reflect.DeepEqual(skipped, full) {
			t.Fatalf("external %v: the model read without tensor data differs from the full read beyond the data", opts.ExternalData)
		}
	}
}
