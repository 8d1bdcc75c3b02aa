package builder_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/fuzzutil"
)

// FuzzConfig parses mutated configs (every fixture's, the presets'), and
// builds, exports and reads back those that are valid and small: parsing
// and validation never panic, a config that validates builds (or is
// refused as unsupported or too large), what builds passes the graph check
// and exports, and the file reads back with the same nodes and config.
func FuzzConfig(f *testing.F) {
	paths, _ := filepath.Glob("../fixtures/*/*/config.json")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, name := range builder.Presets() {
		cfg, _ := builder.Preset(name)
		if b, err := cfg.JSON(); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fuzzutil.Watchdog(20*time.Second, "parse, build and export")()
		cfg, err := builder.ParseConfig(data)
		if err != nil {
			return
		}
		// Round trip of the JSON form.
		js, err := cfg.JSON()
		if err != nil {
			t.Fatalf("a parsed config does not encode: %v", err)
		}
		if _, err := builder.ParseConfig(js); err != nil {
			t.Fatalf("the JSON form of a parsed config does not parse: %v\n%s", err, js)
		}
		size, err := builder.EstimateSize(cfg, builder.Options{})
		if err != nil || size.Params > 200_000 || size.Params < 0 {
			return // invalid, unsupported, or too slow to build here
		}
		m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{})
		if err != nil {
			if strings.Contains(err.Error(), "panic") {
				t.Fatal(err)
			}
			return
		}
		b, err := export.Marshal(m, export.Options{})
		if err != nil {
			t.Fatalf("a built model does not export: %v", err)
		}
		back, err := onnximport.Read(b)
		if err != nil {
			t.Fatalf("an exported model does not read back: %v", err)
		}
		if len(back.Graph.Nodes) != len(m.Graph.Nodes) || len(back.Graph.Initializers) != len(m.Graph.Initializers) {
			t.Fatalf("read back %d nodes, %d initializers; built %d, %d",
				len(back.Graph.Nodes), len(back.Graph.Initializers), len(m.Graph.Nodes), len(m.Graph.Initializers))
		}
		if v, _ := back.MetadataValue(builder.MetaConfig); v == "" {
			t.Fatal("the exported model lost its config")
		}
	})
}
