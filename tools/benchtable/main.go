// Command benchtable runs the native backend and ONNX Runtime side by side
// on the same model files, at the same thread counts, each measurement in
// a process of its own (so peak memory is the run's), interleaved and
// repeated, and prints a markdown table of the medians: forward latency,
// throughput, their ratio, peak RSS and Go allocations per run, then
// generation speed with the KV cache and whether both backends generated
// the same tokens. `make bench` runs it.
//
//	go run ./tools/benchtable [-bin bin/xt2onnx] [-repeat 3] [-quick]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

var (
	bin    = flag.String("bin", "bin/xt2onnx", "the xt2onnx binary")
	dir    = flag.String("dir", "out/bench", "where the model files go")
	repeat = flag.Int("repeat", 3, "measurements per cell (the median is shown)")
	quick  = flag.Bool("quick", false, "fewer iterations and tokens (a smoke test, not a measurement)")
)

type forward struct {
	TokensPerSecond float64 `json:"tokens_per_second"`
	LatencyMS       struct {
		P50 float64 `json:"p50"`
	} `json:"latency_ms"`
	AllocsPerRun int64   `json:"allocs_per_run"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
}

type generated struct {
	Tokens          [][]int64 `json:"tokens"`
	TokensPerSecond float64   `json:"tokens_per_second"`
}

func run(args ...string) []byte {
	cmd := exec.Command(*bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %s %s: %v\n%s", *bin, strings.Join(args, " "), err, errOut.String())
		os.Exit(1)
	}
	return out.Bytes()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func main() {
	flag.Parse()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	models := map[string]string{}
	for _, p := range []string{"base", "small"} {
		models[p] = filepath.Join(*dir, p+".onnx")
		run("export", "--preset", p, "--seed", "1", "-o", models[p])
		run("export", "--preset", p, "--seed", "1", "--kv-cache", "-o", filepath.Join(*dir, p+"-kv.onnx"))
	}
	type cell struct {
		preset      string
		batch, seq  int
		iters, warm int
	}
	cells := []cell{{"base", 1, 128, 20, 3}, {"base", 8, 512, 3, 1}, {"small", 1, 128, 50, 5}}
	if *quick {
		cells = []cell{{"small", 1, 128, 3, 1}}
	}
	fmt.Println("## Forward pass (median of", *repeat, "processes each; latency is the p50 of its runs)")
	fmt.Println()
	fmt.Println("| model | batch × seq | threads | native ms | ORT ms | native/ORT | native tok/s | ORT tok/s | native RSS MB | ORT RSS MB | RSS ratio | native allocs/run |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range cells {
		for _, threads := range []int{1, 2} {
			res := map[string]map[string][]float64{"native": {}, "ort": {}}
			for r := 0; r < *repeat; r++ {
				for _, b := range []string{"native", "ort"} {
					var f forward
					out := run("bench", models[c.preset], "--backend", b, "--threads", strconv.Itoa(threads), "--batch", strconv.Itoa(c.batch),
						"--seq", strconv.Itoa(c.seq), "--iters", strconv.Itoa(c.iters), "--warmup", strconv.Itoa(c.warm), "--json")
					if err := json.Unmarshal(out, &f); err != nil {
						fmt.Fprintln(os.Stderr, "benchtable:", err)
						os.Exit(1)
					}
					res[b]["ms"] = append(res[b]["ms"], f.LatencyMS.P50)
					res[b]["tps"] = append(res[b]["tps"], f.TokensPerSecond)
					res[b]["rss"] = append(res[b]["rss"], f.PeakRSSMB)
					res[b]["allocs"] = append(res[b]["allocs"], float64(f.AllocsPerRun))
				}
			}
			n, o := res["native"], res["ort"]
			fmt.Printf("| %s | %d × %d | %d | %.1f | %.1f | **%.2f×** | %.0f | %.0f | %.0f | %.0f | %.2f× | %.0f |\n",
				c.preset, c.batch, c.seq, threads, median(n["ms"]), median(o["ms"]), median(n["ms"])/median(o["ms"]),
				median(n["tps"]), median(o["tps"]), median(n["rss"]), median(o["rss"]), median(n["rss"])/median(o["rss"]), median(n["allocs"]))
		}
	}
	newTokens := "256"
	if *quick {
		newTokens = "16"
	}
	fmt.Println()
	fmt.Printf("## Generation with the KV cache (32-token prompt, %s new tokens, greedy; median of %d processes)\n\n", newTokens, *repeat)
	fmt.Println("| model | threads | native tok/s | ORT tok/s | native/ORT | tokens identical |")
	fmt.Println("|---|---:|---:|---:|---:|---|")
	prompt := make([]string, 32)
	for i := range prompt {
		prompt[i] = strconv.Itoa((i*37 + 11) % 1000)
	}
	for _, p := range []string{"small", "base"} {
		kv := filepath.Join(*dir, p+"-kv.onnx")
		for _, threads := range []int{1, 2} {
			tps := map[string][]float64{}
			toks := map[string]string{}
			for r := 0; r < *repeat; r++ {
				for _, b := range []string{"native", "ort"} {
					var g generated
					out := run("generate", "--model", kv, "--backend", b, "--threads", strconv.Itoa(threads), "--prompt-tokens", strings.Join(prompt, ","),
						"--max-new", newTokens, "--greedy", "--json")
					if err := json.Unmarshal(out, &g); err != nil {
						fmt.Fprintln(os.Stderr, "benchtable:", err)
						os.Exit(1)
					}
					tps[b] = append(tps[b], g.TokensPerSecond)
					toks[b] = fmt.Sprint(g.Tokens)
				}
			}
			same := toks["native"] == toks["ort"] && toks["native"] != ""
			fmt.Printf("| %s | %d | %.0f | %.0f | **%.2f×** | %v |\n", p, threads, median(tps["native"]), median(tps["ort"]), median(tps["native"])/median(tps["ort"]), same)
		}
	}
}
