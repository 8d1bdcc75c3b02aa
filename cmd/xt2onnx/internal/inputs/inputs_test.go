package inputs

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/runtime"
)

func TestRandomInputs(t *testing.T) {
	infos := []runtime.ValueInfo{
		{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}},
		{Name: "mask", DType: runtime.Bool, Shape: []int64{-1, -1}},
		{Name: "emb", DType: runtime.Float32, Shape: []int64{-1, -1, 8}, DimNames: []string{"batch", "seq", ""}},
	}
	seven := func(string) int64 { return 7 }
	got, err := Random(infos, 3, 5, 1, seven, 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"x": "int64[3 5]", "mask": "bool[3 5]", "emb": "float32[3 5 8]"} {
		if s := got[name].String(); s != want {
			t.Errorf("%s = %s, want %s", name, s, want)
		}
	}
	ids, _ := got["x"].Int64s()
	seen := map[int64]bool{}
	for _, id := range ids {
		if id < 0 || id >= 7 {
			t.Fatalf("token id %d outside [0, 7)", id)
		}
		seen[id] = true
	}
	if len(seen) < 3 {
		t.Errorf("15 ids drawn from [0, 7) hold only %d distinct values: %v", len(seen), ids)
	}
	mask, _ := got["mask"].Bools()
	for i, m := range mask {
		if !m {
			t.Fatalf("mask[%d] is false; --random masks are all true", i)
		}
	}
	again, _ := Random(infos, 3, 5, 1, seven, 0)
	if !reflect.DeepEqual(got["emb"].Data(), again["emb"].Data()) {
		t.Error("same seed gave different floats")
	}
	other, _ := Random(infos, 3, 5, 2, seven, 0)
	if reflect.DeepEqual(got["emb"].Data(), other["emb"].Data()) {
		t.Error("seeds 1 and 2 gave the same floats")
	}
}

// TestRandomInputsXTransformer checks per-input token ranges and *_seq dims.
func TestRandomInputsXTransformer(t *testing.T) {
	infos := []runtime.ValueInfo{
		{Name: "src", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "src_seq"}},
		{Name: "tgt", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "tgt_seq"}},
		{Name: "img", DType: runtime.Float32, Shape: []int64{-1, 3, 8, 8}, DimNames: []string{"batch", "", "", ""}},
	}
	l := Limits{Vocab: map[string]int64{"src": 1, "tgt": 2}}
	got, err := Random(infos, 2, 4, 0, l.Tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"src": "int64[2 4]", "tgt": "int64[2 4]", "img": "float32[2 3 8 8]"} {
		if s := got[name].String(); s != want {
			t.Errorf("%s = %s, want %s", name, s, want)
		}
	}
	src, _ := got["src"].Int64s()
	for _, id := range src {
		if id != 0 {
			t.Fatalf("src ids %v, want all 0 (num_tokens 1)", src)
		}
	}
	tgt, _ := got["tgt"].Int64s()
	for _, id := range tgt {
		if id < 0 || id > 1 {
			t.Fatalf("tgt ids %v, want them in [0, 2)", tgt)
		}
	}
	if l.Tokens("other") != DefaultVocab {
		t.Errorf("tokens of an input without num_tokens = %d, want %d", l.Tokens("other"), DefaultVocab)
	}
}

func TestRandomInputsErrors(t *testing.T) {
	tests := []struct {
		info runtime.ValueInfo
		want string
	}{
		{runtime.ValueInfo{Name: "x", DType: runtime.Int64}, `input "x" has no declared shape`},
		{runtime.ValueInfo{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1, -1}, DimNames: []string{"batch", "seq", "heads"}}, "dynamic dim 2 (heads) is neither batch nor seq"},
		{runtime.ValueInfo{Name: "s", DType: runtime.String, Shape: []int64{2}}, "--random cannot generate string values"},
		// Issue 8: a 72-byte model declaring float32[10^6, 10^6] used to
		// make --random allocate 4 TB.
		{runtime.ValueInfo{Name: "x", DType: runtime.Float32, Shape: []int64{1_000_000, 1_000_000}},
			"--random would make float32[1000000 1000000], 3.6 TiB, more than the tensor budget of"},
		{runtime.ValueInfo{Name: "x", DType: runtime.Float64, Shape: []int64{1 << 31, 1 << 31, 1 << 31}}, "element count overflows"},
	}
	for _, tt := range tests {
		_, err := Random([]runtime.ValueInfo{tt.info}, 1, 1, 0, func(string) int64 { return 2 }, 0)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.info, err, tt.want)
		}
	}
}

// TestRandomBudget checks that an explicit budget refuses what the default
// allows, by bytes.
func TestRandomBudget(t *testing.T) {
	info := runtime.ValueInfo{Name: "x", DType: runtime.Float32, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}
	if _, err := Random([]runtime.ValueInfo{info}, 4, 256, 0, func(string) int64 { return 2 }, 4096); err != nil {
		t.Fatalf("4 KiB of float32 under a 4 KiB budget: %v", err)
	}
	_, err := Random([]runtime.ValueInfo{info}, 4, 257, 0, func(string) int64 { return 2 }, 4096)
	if err == nil || !strings.Contains(err.Error(), "4.0 KiB, more than the tensor budget of 4.0 KiB") {
		t.Fatalf("error %v, want the 4112-byte input refused", err)
	}
}

func TestCheckSeq(t *testing.T) {
	infos := []runtime.ValueInfo{{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}}
	x, _ := runtime.NewInt64([]int64{1, 5}, make([]int64, 5))
	in := map[string]*runtime.Tensor{"x": x}
	if err := CheckSeq(infos, in, 5, "io.safetensors"); err != nil {
		t.Errorf("seq 5, max 5: %v", err)
	}
	if err := CheckSeq(infos, in, 0, "io.safetensors"); err != nil {
		t.Errorf("unknown max: %v", err)
	}
	err := CheckSeq(infos, in, 4, "io.safetensors")
	want := `inputs io.safetensors: input "x" has sequence length 5 (dim 1), longer than the model's max_seq_len 4: truncate it to 4`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// TestReadExtraInputs checks that a tensor meant for an input the model does
// not have (a mask for a model exported without one) is an error, not
// silently dropped.
func TestReadExtraInputs(t *testing.T) {
	dir := t.TempDir()
	x := safetensors.I64("input.x", []int64{1, 2}, []int64{1, 2})
	mask := safetensors.Bool("input.mask", []int64{1, 2}, []bool{true, false})
	out := safetensors.F32("output.logits", []int64{1}, []float32{0})
	bare := safetensors.Bool("mask", []int64{1, 2}, []bool{true, true})
	infos := []runtime.ValueInfo{{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}}}
	for _, tt := range []struct {
		name    string
		tensors []safetensors.Tensor
		prefix  string
		wantErr string
	}{
		{name: "only the inputs", tensors: []safetensors.Tensor{x, out}, prefix: "input."},
		{name: "an extra mask", tensors: []safetensors.Tensor{x, mask, out}, prefix: "input.",
			wantErr: `holds "input.mask", but the model has no input "mask" (its inputs: x): export the model with --mask on to use the mask, or leave the tensor out`},
		{name: "an extra mask without a prefix", tensors: []safetensors.Tensor{safetensors.I64("x", []int64{1, 2}, []int64{1, 2}), bare}, prefix: "",
			wantErr: `holds "mask", but the model has no input "mask"`},
		{name: "other tensors without a prefix", tensors: []safetensors.Tensor{safetensors.I64("x", []int64{1, 2}, []int64{1, 2}), out}, prefix: ""},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".safetensors")
		if err := safetensors.Write(path, tt.tensors, nil); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path, tt.prefix, infos)
		if tt.wantErr == "" {
			if err != nil || len(got) != 1 {
				t.Errorf("%s: %v, %d inputs", tt.name, err, len(got))
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestLimitsCheckSeq(t *testing.T) {
	for _, tc := range []struct {
		max, seq int64
		wantErr  string
	}{
		{0, 1 << 20, ""}, // unknown limit: anything goes
		{64, 64, ""},
		{64, 65, "--seq 65 is longer than the model's max_seq_len 64: use --seq 64 or less"},
	} {
		err := Limits{MaxSeqLen: tc.max}.CheckSeq(tc.seq)
		if got := fmt.Sprint(err); (tc.wantErr == "" && err != nil) || (tc.wantErr != "" && got != tc.wantErr) {
			t.Errorf("max %d seq %d: error %v, want %q", tc.max, tc.seq, err, tc.wantErr)
		}
	}
}
