// Command precisionreport measures what each export precision costs, the
// way users judge it, and prints docs/precision.md's tables (markdown):
//
//   - on every reference fixture: the max abs logit error against
//     PyTorch's float64 output, the max elementwise relative error (over
//     reference values ≠ 0, as verify reports it) and the max abs error
//     relative to the largest |logit|, per backend;
//
//   - on preset base (random weights, seed 1): the same against the model
//     run in float64 (natively), and greedy-token agreement with float32
//     over 256 generated tokens: teacher-forced (each precision predicts
//     the next token of float32's greedy sequence; the share of the 256
//     positions where its argmax is float32's) and free-running (its own
//     greedy generation: the tokens before the first difference).
//
// Run it as
//
//	go run ./tools/precisionreport [-fixtures DIR] [-backends ort,native] > table.md
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/verify"
	"github.com/xt2onnx/xt2onnx/precision"
	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/generate"
	_ "github.com/xt2onnx/xt2onnx/runtime/native"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"
)

var (
	fixtures = flag.String("fixtures", "fixtures/xtransformers-1.9.2", "reference fixtures")
	backends = flag.String("backends", "ort,native", "backends to measure")
	only     = flag.String("only", "", "comma-separated fixture names (default all)")
	skipBase = flag.Bool("skip-base", false, "skip preset base")
	block    = flag.Int64("block-size", precision.DefaultBlockSize, "block size of int8 and int4")
)

// precisions are the export precisions measured.
var precisions = []string{"float32", "float16", "bfloat16", "int8", "int4"}

// prepare converts a float32 build to precision p; quantized models are
// built for opset 23.
func prepare(m *graph.Model, p string) error {
	switch p {
	case "float16":
		return precision.Convert(m, graph.Float16)
	case "bfloat16":
		return precision.Convert(m, graph.BFloat16)
	case "float64":
		return precision.Convert(m, graph.Double)
	case "int8", "int4":
		bits := map[string]int{"int8": 8, "int4": 4}[p]
		_, err := precision.Quantize(m, precision.QuantizeOptions{Bits: bits, BlockSize: *block})
		return err
	}
	return nil
}

func opsetFor(p string) int64 {
	if p == "int8" || p == "int4" {
		return 23
	}
	return builder.DefaultOpset
}

func buildModel(cfg *builder.Config, w builder.Weights, p string, kv bool) ([]byte, error) {
	opset := opsetFor(p)
	m, err := builder.Build(cfg, w, "weights", builder.Options{Opset: opset, KVCache: kv})
	if err != nil {
		return nil, err
	}
	if err := prepare(m, p); err != nil {
		return nil, err
	}
	return export.Marshal(m, export.Options{Opset: opset})
}

func main() {
	flag.Parse()
	ctx := context.Background()
	bs := strings.Split(*backends, ",")
	if err := fixtureTable(ctx, bs); err != nil {
		fmt.Fprintln(os.Stderr, "precisionreport:", err)
		os.Exit(1)
	}
	if !*skipBase {
		if err := baseTable(ctx, bs); err != nil {
			fmt.Fprintln(os.Stderr, "precisionreport:", err)
			os.Exit(1)
		}
	}
}

func fixtureTable(ctx context.Context, bs []string) error {
	dirs, err := filepath.Glob(filepath.Join(*fixtures, "*", "config.json"))
	if err != nil {
		return err
	}
	sort.Strings(dirs)
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	fmt.Printf("Fixtures (%s): max abs logit error against PyTorch float64 / max elementwise relative error / max abs error relative to the largest |logit|, per backend.\n\n", *fixtures)
	fmt.Printf("| fixture | backend | %s |\n|---|---|%s\n", strings.Join(precisions, " | "), strings.Repeat("---|", len(precisions)))
	worst := map[string]float64{}
	for _, c := range dirs {
		dir := filepath.Dir(c)
		name := filepath.Base(dir)
		if len(want) > 0 && !want[name] {
			continue
		}
		cfg, err := builder.LoadConfig(c)
		if err != nil {
			return err
		}
		w, err := builder.OpenWeights(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			return err
		}
		ref, err := verify.OpenReference(dir)
		if err != nil {
			return err
		}
		var maxRef float64
		for _, v := range ref.Want {
			maxRef = max(maxRef, math.Abs(v))
		}
		ref.Close()
		cells := map[string][]string{}
		for _, p := range precisions {
			data, err := buildModel(cfg, w, p, false)
			if err != nil {
				for _, b := range bs {
					cells[b] = append(cells[b], "error: "+short(err))
				}
				continue
			}
			r, err := verify.Check(ctx, name, dir, verify.ModelSource{Bytes: data}, verify.Options{Backends: bs, Tol: 1})
			if err != nil {
				return err
			}
			for _, b := range bs {
				cell := "–"
				for _, d := range r.Outputs {
					if d.Backend == b && d.Check == "forward" {
						cell = fmt.Sprintf("%.2g / %.2g / %.2g", d.MaxAbsDiff, d.MaxRelDiff, d.MaxAbsDiff/maxRef)
						worst[p+" "+b] = max(worst[p+" "+b], d.MaxAbsDiff/maxRef)
					}
				}
				if cell == "–" && r.Reason != "" {
					cell = "error: " + short(fmt.Errorf("%s", r.Reason))
				}
				cells[b] = append(cells[b], cell)
			}
		}
		w.Close()
		for _, b := range bs {
			fmt.Printf("| %s | %s | %s |\n", name, b, strings.Join(cells[b], " | "))
		}
	}
	fmt.Printf("\nLargest max abs error relative to the largest |logit| over the fixtures:")
	for _, p := range precisions {
		for _, b := range bs {
			fmt.Printf(" %s %s %.2g;", p, b, worst[p+" "+b])
		}
	}
	fmt.Println()
	return nil
}

func short(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strings.ReplaceAll(s, "|", "/")
}

const (
	promptLen = 32
	genLen    = 256
)

func baseTable(ctx context.Context, bs []string) error {
	cfg, err := builder.Preset("base")
	if err != nil {
		return err
	}
	w := builder.RandomWeights{Seed: 1}
	prompt := make([]int64, promptLen)
	for i := range prompt {
		prompt[i] = int64((i*7919 + 13) % 1024)
	}
	// float32's greedy sequence, and float64's logits on it.
	f32, err := buildModel(cfg, w, "float32", true)
	if err != nil {
		return err
	}
	gold, err := greedy(ctx, f32, "ort", prompt)
	if err != nil {
		return err
	}
	seq := append(append([]int64(nil), prompt...), gold[:genLen-1]...)
	f64, err := buildModel(cfg, w, "float64", true)
	if err != nil {
		return err
	}
	ref, err := logits(ctx, f64, "native", seq)
	if err != nil {
		return err
	}
	var maxRef float64
	for _, v := range ref {
		maxRef = max(maxRef, math.Abs(float64(v)))
	}
	fmt.Printf("\nPreset base (random weights, seed 1), a %d-token prompt and float32's %d greedy tokens: logit errors against the model in float64 (native) over all %d positions, and greedy agreement with float32.\n\n", promptLen, genLen, len(seq))
	fmt.Println("| precision | backend | max abs | max rel (elementwise) | max abs / max abs logit | teacher-forced agreement | free-running: same tokens before the first difference |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, p := range precisions {
		data, err := buildModel(cfg, w, p, true)
		if err != nil {
			return err
		}
		for _, b := range bs {
			got, err := logits(ctx, data, b, seq)
			if err != nil {
				return err
			}
			vocab := len(got) / len(seq)
			var maxAbs, maxRel float64
			agree := 0
			for pos := range seq {
				row, refRow := got[pos*vocab:(pos+1)*vocab], ref[pos*vocab:(pos+1)*vocab]
				for i := range row {
					d := math.Abs(float64(row[i]) - float64(refRow[i]))
					maxAbs = max(maxAbs, d)
					if refRow[i] != 0 {
						maxRel = max(maxRel, d/math.Abs(float64(refRow[i])))
					}
				}
				if pos >= promptLen-1 && pos < promptLen-1+genLen && argmax(row) == gold[pos-promptLen+1] {
					agree++
				}
			}
			own, err := greedy(ctx, data, b, prompt)
			if err != nil {
				return err
			}
			same := 0
			for same < genLen && own[same] == gold[same] {
				same++
			}
			fmt.Printf("| %s | %s | %.3g | %.3g | %.3g | %d/%d (%.1f%%) | %d/%d |\n", p, b, maxAbs, maxRel, maxAbs/maxRef, agree, genLen, 100*float64(agree)/genLen, same, genLen)
		}
	}
	return nil
}

// greedy generates genLen tokens after prompt (KV cache).
func greedy(ctx context.Context, model []byte, backend string, prompt []int64) ([]int64, error) {
	s, err := runtime.OpenBytes(model, runtime.Options{Backend: backend})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	meta, err := generate.ParseMeta(model)
	if err != nil {
		return nil, err
	}
	g, err := generate.New(s, meta)
	if err != nil {
		return nil, err
	}
	out, err := g.Generate(ctx, [][]int64{prompt}, generate.Options{MaxNew: genLen, Greedy: true})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// logits runs the whole sequence with an empty cache.
func logits(ctx context.Context, model []byte, backend string, seq []int64) ([]float32, error) {
	s, err := runtime.OpenBytes(model, runtime.Options{Backend: backend})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	in := map[string]*runtime.Tensor{}
	for _, info := range s.Inputs() {
		if info.Name == builder.InputTokens {
			in[info.Name], err = runtime.NewInt64([]int64{1, int64(len(seq))}, seq)
		} else {
			shape := append([]int64(nil), info.Shape...)
			for i := range shape {
				if shape[i] < 0 {
					shape[i] = 0
					if info.DimNames[i] == "batch" {
						shape[i] = 1
					}
				}
			}
			in[info.Name], err = runtime.NewFloat32(shape, nil)
		}
		if err != nil {
			return nil, err
		}
	}
	out, err := s.Run(ctx, in)
	if err != nil {
		return nil, err
	}
	return out[builder.OutputLogits].Float32s()
}

func argmax(v []float32) int64 {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return int64(best)
}
