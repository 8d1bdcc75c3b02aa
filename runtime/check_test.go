package runtime

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustT(t *testing.T) func(*Tensor, error) *Tensor {
	return func(x *Tensor, err error) *Tensor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
}

func TestCheckInputs(t *testing.T) {
	must := mustT(t)
	infos := []ValueInfo{
		{Name: "x", DType: Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}},
		{Name: "mask", DType: Bool, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}},
		{Name: "pos", DType: Float32, Shape: []int64{-1, 5}, DimNames: []string{"", ""}},
		{Name: "any", DType: Float32}, // rank not declared
	}
	anyT := must(NewFloat32([]int64{1, 2, 3}, make([]float32, 6)))
	x23 := must(NewInt64([]int64{2, 3}, make([]int64, 6)))
	m23 := must(NewBool([]int64{2, 3}, make([]bool, 6)))
	m33 := must(NewBool([]int64{3, 3}, make([]bool, 9)))
	p5 := must(NewFloat32([]int64{4, 5}, make([]float32, 20)))
	p7 := must(NewFloat32([]int64{4, 7}, make([]float32, 28)))
	f23 := must(NewFloat32([]int64{2, 3}, make([]float32, 6)))
	x3 := must(NewInt64([]int64{2, 3, 1}, make([]int64, 6)))

	type prob struct {
		kind ProblemKind
		msg  string
	}
	tests := []struct {
		name   string
		inputs map[string]*Tensor
		want   []prob
	}{
		{"ok", map[string]*Tensor{"any": anyT, "x": x23, "mask": m23, "pos": p5}, nil},
		{"unnamed dynamic dim may differ", map[string]*Tensor{"any": anyT, "x": x23, "mask": m23, "pos": must(NewFloat32([]int64{9, 5}, make([]float32, 45)))}, nil},
		{"unranked input: any shape, dtype checked", map[string]*Tensor{"any": x3, "x": x23, "mask": m23, "pos": p5},
			[]prob{{DTypeMismatch, `input "any": got int64, model expects float32`}}},
		{"missing", map[string]*Tensor{"any": anyT, "x": x23, "pos": p5},
			[]prob{{MissingInput, `missing input "mask" (bool[batch seq])`}}},
		{"unknown with suggestion", map[string]*Tensor{"any": anyT, "x": x23, "mask": m23, "pos": p5, "Mask_": m23},
			[]prob{{UnknownInput, `unknown input "Mask_"; did you mean "mask"? (model inputs: x, mask, pos, any)`}}},
		{"unknown without suggestion", map[string]*Tensor{"any": anyT, "x": x23, "mask": m23, "pos": p5, "attention_bias": m23},
			[]prob{{UnknownInput, `unknown input "attention_bias" (model inputs: x, mask, pos, any)`}}},
		{"nil", map[string]*Tensor{"any": anyT, "x": nil, "mask": m23, "pos": p5},
			[]prob{{NilInput, `input "x" is a nil tensor`}}},
		{"dtype", map[string]*Tensor{"any": anyT, "x": f23, "mask": m23, "pos": p5},
			[]prob{{DTypeMismatch, `input "x": got float32, model expects int64`}}},
		{"rank", map[string]*Tensor{"any": anyT, "x": x3, "mask": m23, "pos": p5},
			[]prob{{RankMismatch, `input "x": got rank 3 (shape [2 3 1]), model expects rank 2 [batch seq]`}}},
		{"fixed dim", map[string]*Tensor{"any": anyT, "x": x23, "mask": m23, "pos": p7},
			[]prob{{DimMismatch, `input "pos": dim 1 is 7, model expects 5`}}},
		{"symbolic conflict", map[string]*Tensor{"any": anyT, "x": x23, "mask": m33, "pos": p5},
			[]prob{{DimConflict, `input "mask": dim 0 ("batch") is 3, but "batch" is 2 in input "x" (dim 0)`}}},
		{"all problems collected", map[string]*Tensor{"any": anyT, "x": f23, "mask": m33, "pos": p7, "y": x23},
			[]prob{
				{DTypeMismatch, `input "x": got float32, model expects int64`},
				{DimConflict, `input "mask": dim 0 ("batch") is 3, but "batch" is 2 in input "x" (dim 0)`},
				{DimMismatch, `input "pos": dim 1 is 7, model expects 5`},
				{UnknownInput, `unknown input "y"; did you mean "x"? (model inputs: x, mask, pos, any)`},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckInputs(infos, tc.inputs)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T) is not an *InputError", err, err)
			}
			var got []prob
			for _, p := range ie.Problems {
				got = append(got, prob{p.Kind, p.Message})
				if !ie.Has(p.Kind) {
					t.Errorf("Has(%v) = false", p.Kind)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n got %+v\nwant %+v", got, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "runtime: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if len(tc.want) == 1 && err.Error() != "runtime: "+tc.want[0].msg {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestInputErrorMessageJoinsProblems(t *testing.T) {
	e := &InputError{Problems: []InputProblem{{Message: "a"}, {Message: "b"}}}
	if got, want := e.Error(), "runtime: 2 input problems: a; b"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if e.Has(DimConflict) {
		t.Error("Has(DimConflict) = true")
	}
}

func TestSelectOutputs(t *testing.T) {
	all := []ValueInfo{
		{Name: "logits", DType: Float32, Shape: []int64{-1, -1, 64}},
		{Name: "hidden", DType: Float32, Shape: []int64{-1, -1, 32}},
	}
	tests := []struct {
		names   []string
		want    []string
		wantErr string
	}{
		{nil, []string{"logits", "hidden"}, ""},
		{[]string{"hidden"}, []string{"hidden"}, ""},
		{[]string{"hidden", "logits"}, []string{"logits", "hidden"}, ""},
		{[]string{"logit"}, nil, `runtime: Options.OutputNames: unknown output "logit"; did you mean "logits"? (model outputs: logits, hidden)`},
		{[]string{"hidden", "hidden"}, nil, `runtime: Options.OutputNames: output "hidden" requested twice`},
	}
	for _, tc := range tests {
		got, err := SelectOutputs(all, tc.names)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("SelectOutputs(%q) error = %v, want %q", tc.names, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("SelectOutputs(%q): %v", tc.names, err)
			continue
		}
		var names []string
		for _, v := range got {
			names = append(names, v.Name)
		}
		if !reflect.DeepEqual(names, tc.want) {
			t.Errorf("SelectOutputs(%q) = %q, want %q", tc.names, names, tc.want)
		}
	}
	// The result is a deep copy.
	got, _ := SelectOutputs(all, nil)
	got[0].Shape[2] = 1
	if all[0].Shape[2] != 64 {
		t.Error("SelectOutputs shares Shape with its argument")
	}
}

func TestValueInfoString(t *testing.T) {
	tests := []struct {
		v    ValueInfo
		want string
	}{
		{ValueInfo{Name: "x", DType: Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}, "x: int64[batch seq]"},
		{ValueInfo{Name: "img", DType: Float32, Shape: []int64{-1, 3, 32, 32}}, "img: float32[? 3 32 32]"},
		{ValueInfo{Name: "s", DType: Float64, Shape: []int64{}}, "s: float64[]"},
		{ValueInfo{Name: "u", DType: Float64}, "u: float64[...]"},
	}
	for _, tc := range tests {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// TestCheckInputsTokenRange checks that token ids outside the model's
// vocabulary are refused with their position, as nn.Embedding refuses them,
// instead of a negative id silently becoming the last token.
func TestCheckInputsTokenRange(t *testing.T) {
	must := mustT(t)
	tests := []struct {
		name  string
		info  ValueInfo
		input *Tensor
		want  string // "" means accepted
	}{
		{name: "in range", info: ValueInfo{Name: "x", DType: Int64, Shape: []int64{-1, -1}, NumTokens: 10},
			input: must(NewInt64([]int64{1, 3}, []int64{0, 5, 9}))},
		{name: "negative", info: ValueInfo{Name: "x", DType: Int64, Shape: []int64{-1, -1}, NumTokens: 10},
			input: must(NewInt64([]int64{2, 2}, []int64{0, 1, 2, -1})), want: `input "x": token id -1 at row 1, position 1 is outside the vocabulary [0, 10)`},
		{name: "too large, several", info: ValueInfo{Name: "x", DType: Int64, Shape: []int64{-1, -1}, NumTokens: 10},
			input: must(NewInt64([]int64{1, 4}, []int64{10, 1, 11, 3})), want: `token id 10 at row 0, position 0 is outside the vocabulary [0, 10); 2 of the 4 ids are`},
		{name: "int32 rank 1", info: ValueInfo{Name: "t", DType: Int32, Shape: []int64{-1}, NumTokens: 4},
			input: must(NewInt32([]int64{3}, []int32{1, 4, 0})), want: `token id 4 at index [1] is outside the vocabulary [0, 4)`},
		{name: "no vocabulary: not checked", info: ValueInfo{Name: "x", DType: Int64, Shape: []int64{-1}},
			input: must(NewInt64([]int64{1}, []int64{-7}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckInputs([]ValueInfo{tt.info}, map[string]*Tensor{tt.info.Name: tt.input})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) || !ie.Has(TokenOutOfRange) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want a TokenOutOfRange problem containing %q", err, tt.want)
			}
		})
	}
}

func TestTokenRanges(t *testing.T) {
	tests := []struct {
		config string
		want   map[string]int64
	}{
		{`{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 256, "max_seq_len": 128}}`, map[string]int64{"x": 256}},
		{`{"kind": "XTransformer", "wrapper": {"enc_num_tokens": 64, "dec_num_tokens": 32}}`, map[string]int64{"src": 64, "tgt": 32}},
		{`{"kind": "ContinuousTransformerWrapper", "wrapper": {"dim_in": 4}}`, nil},
		{`not json`, nil},
		{``, nil},
	}
	for _, tt := range tests {
		if got := TokenRanges(tt.config); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("TokenRanges(%s) = %v, want %v", tt.config, got, tt.want)
		}
	}
	infos := []ValueInfo{{Name: "x", DType: Int64}, {Name: "mask", DType: Bool}, {Name: "src", DType: Float32}}
	SetTokenRanges(infos, map[string]int64{"x": 5, "mask": 3, "src": 9})
	if infos[0].NumTokens != 5 || infos[1].NumTokens != 0 || infos[2].NumTokens != 0 {
		t.Errorf("SetTokenRanges set %d, %d, %d; want 5 on the integer input only", infos[0].NumTokens, infos[1].NumTokens, infos[2].NumTokens)
	}
}
