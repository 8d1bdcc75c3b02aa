package generate

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdtest"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
)

const corners = "../../../../../fixtures/corners-1.9.2"

func TestNewCmdGenerateDemask(t *testing.T) {
	steps, thres, noise, remask := 6, 0.5, 0.0, true
	schedule := "cosine"
	for _, tt := range []struct {
		name    string
		args    []string
		want    NARFlags
		critic  string
		wantErr string
	}{
		{name: "defaults from the model", args: []string{"m.onnx", "--demask"}, want: NARFlags{BatchSize: 1}},
		{name: "every option", args: []string{"m.onnx", "--demask", "--batch-size", "3", "--steps", "6", "--schedule", "cosine", "--top-k-thres", "0.5", "--can-mask-prev-unmasked", "--noise-level-scale", "0", "--critic", "c.onnx", "--seed", "4"},
			want: NARFlags{BatchSize: 3, Steps: &steps, Schedule: &schedule, FilterThres: &thres, Remask: &remask, NoiseLevelScale: &noise, Seed: 4}, critic: "c.onnx"},
		{name: "prompt with demask", args: []string{"m.onnx", "--demask", "--prompt-tokens", "1"}, wantErr: "--prompt-tokens does not apply to --demask (which fills all max_seq_len positions of --batch-size rows from the mask token)"},
		{name: "critic without demask", args: []string{"m.onnx", "--prompt-tokens", "1", "--critic", "c.onnx"}, wantErr: "--critic applies with --demask only (iterative demasking with a non-causal model)"},
		{name: "greedy with start temperature", args: []string{"m.onnx", "--demask", "--greedy", "--start-temperature", "0.5"}, wantErr: "--start-temperature does not apply to --greedy (its zero-temperature limit)"},
		{name: "zero rows", args: []string{"m.onnx", "--demask", "--batch-size", "0"}, wantErr: "--batch-size 0: must be 1 or more"},
		{name: "negative noise", args: []string{"m.onnx", "--demask", "--noise-level-scale", "-1"}, wantErr: "--noise-level-scale -1: must be 0 or more"},
		{name: "unknown schedule", args: []string{"m.onnx", "--demask", "--schedule", "square"}, wantErr: `invalid argument "square" for "--schedule" flag: want linear or cosine`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := cmdtest.Parse(t, NewCmdGenerate, tt.args, tt.wantErr, tt.wantErr != "" && !strings.HasPrefix(tt.wantErr, "invalid argument")) // cobra reports a bad enum value itself
			if got == nil {
				return
			}
			if !got.Demask || got.CriticPath != tt.critic || !reflect.DeepEqual(got.NAR, tt.want) {
				t.Errorf("options %+v %+v, want %+v", *got, got.NAR, tt.want)
			}
		})
	}
}

// narFiles exports a NonAutoregressiveWrapper corner's generator and, when
// it has one, its critic part.
func narFiles(t *testing.T, name string) (genPath, criticPath string) {
	t.Helper()
	dir := filepath.Join(corners, name)
	cfg, err := builder.LoadConfig(filepath.Join(dir, "nar.json"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := builder.OpenWeights(filepath.Join(dir, "nar.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	tmp := t.TempDir()
	for _, p := range []struct {
		part builder.Part
		path *string
	}{{builder.PartWhole, &genPath}, {builder.PartCritic, &criticPath}} {
		if p.part == builder.PartCritic && !cfg.NAR.HasCritic() {
			continue
		}
		m, err := builder.Build(cfg, w, "", builder.Options{Part: p.part})
		if err != nil {
			t.Fatal(err)
		}
		*p.path = filepath.Join(tmp, "nar_"+string(p.part)+".onnx")
		if err := xtexport.WriteFile(*p.path, m, xtexport.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return genPath, criticPath
}

// TestGenerateDemask runs --demask on the NonAutoregressiveWrapper corners
// (greedy, no critic noise: 1.9.2's deterministic limit, see
// runtime/generate's TestNonAutoregressiveWrapperFixtures) and compares
// with the oracle's gen.nar, in text and JSON.
func TestGenerateDemask(t *testing.T) {
	for _, name := range []string{"nar_self_cond", "nar_token_critic", "nar_self_critic"} {
		t.Run(name, func(t *testing.T) {
			io, err := safetensors.Open(filepath.Join(corners, name, "io.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			flat, err := io.Int64s("gen.nar")
			io.Close()
			if err != nil {
				t.Fatal(err)
			}
			want := [][]int64{flat[:12], flat[12:]}
			genPath, criticPath := narFiles(t, name)
			args := []string{genPath, "--demask", "--batch-size", "2", "--greedy", "--noise-level-scale", "0"}
			if criticPath != "" {
				args = append(args, "--critic", criticPath)
			}
			stdout, stderr, err := run(t, false, args...)
			if err != nil {
				t.Fatal(err)
			}
			var got [][]int64
			for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
				var row []int64
				for _, f := range strings.Fields(line) {
					v, _ := strconv.ParseInt(f, 10, 64)
					row = append(row, v)
				}
				got = append(got, row)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("stdout %q, want %v (x-transformers 1.9.2)", stdout, want)
			}
			if !strings.Contains(stderr, "generated 2 × 12 tokens in ") || !strings.Contains(stderr, "(ort, 6 demasking steps") {
				t.Errorf("stderr %q", stderr)
			}
			stdout, _, err = run(t, false, append(args, "--json")...)
			if err != nil {
				t.Fatal(err)
			}
			var r result
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("%v\n%s", err, stdout)
			}
			if !reflect.DeepEqual(r.Tokens, want) || r.NewTokens != 12 || r.KVCache || len(r.Prompt) != 0 || r.Backend != "ort" || r.TokensPerSecond <= 0 {
				t.Errorf("json %+v", r)
			}
			if criticPath != "" {
				_, _, err := run(t, false, genPath, "--demask")
				if err == nil || !strings.Contains(err.Error(), "give its critic part (xt2onnx export --part critic) with SetCritic") {
					t.Errorf("without --critic: %v", err)
				}
			}
		})
	}
	_, _, err := run(t, false, tinyFile(t), "--demask")
	if err == nil || !strings.Contains(err.Error(), "the model is causal (a Decoder)") {
		t.Errorf("--demask with a decoder: %v", err)
	}
}
