package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/graph"
)

func TestNewCmdInspect(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{name: "model", args: []string{"m.onnx"}, want: Options{ModelPath: "m.onnx"}},
		{name: "json", args: []string{"--json", "m.onnx"}, want: Options{ModelPath: "m.onnx", JSON: true}},
		{name: "--model", args: []string{"--model", "m.onnx"}, want: Options{ModelPath: "m.onnx"}},
		{name: "preset", args: []string{"--preset", "small"}, want: Options{Preset: "small"}},
		{name: "no model", args: nil, wantErr: "no model given: name a MODEL.onnx file, or use --preset base|small|tiny"},
		{name: "unknown preset", args: []string{"--preset", "huge"}, wantErr: `unknown preset "huge": want base, small or tiny`},
		{name: "two models", args: []string{"a.onnx", "b.onnx"}, wantErr: `unexpected argument "b.onnx": inspect takes one model file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdInspect(factory.New(ios, "test"), func(o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &fe) {
					t.Fatalf("error = %#v, want FlagError %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

// testModel is a small model with a function call, symbolic and fixed dims
// and a JSON metadata value.
func testModel() *graph.Model {
	return &graph.Model{
		IRVersion: 8, ProducerName: "xt2onnx", ProducerVersion: "v0.1",
		Opsets: []graph.OpsetImport{{Domain: "", Version: 18}, {Domain: "ai.xtransformers", Version: 1}},
		Graph: &graph.Graph{
			Inputs:  []graph.ValueInfo{{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), {}, graph.Fixed(4)}}},
			Outputs: []graph.ValueInfo{{Name: "y", DType: graph.Float}},
			Initializers: []*graph.Tensor{
				graph.FloatTensor("w", []int64{4, 4}, make([]float32, 16)),
				graph.Int64Tensor("shape", []int64{2}, []int64{1, 2}),
			},
			Nodes: []*graph.Node{
				{OpType: "MatMul"}, {OpType: "Add"}, {OpType: "MatMul"},
				{OpType: "F", Domain: "ai.xtransformers"}, {OpType: "Relu"}, {OpType: "Add"}, {OpType: "MatMul"},
			},
		},
		Functions: []*graph.Function{{Domain: "ai.xtransformers", Name: "F", Inputs: []string{"a", "b"}, Outputs: []string{"c"}, Attributes: []string{"k"}, Nodes: []*graph.Node{{OpType: "Mul"}, {OpType: "Add"}}}},
		Metadata:  []graph.MetadataEntry{{Key: "xt2onnx.config", Value: `{"kind": "TransformerWrapper",` + "\n" + ` "wrapper": {"num_tokens": 8}}`}, {Key: "note", Value: "two\nlines"}},
	}
}

func TestDescribe(t *testing.T) {
	r := Describe("m.onnx", testModel())
	wantOps := []OpCount{{"MatMul", 3}, {"Add", 2}, {"Relu", 1}, {"ai.xtransformers.F", 1}}
	if !reflect.DeepEqual(r.Ops, wantOps) {
		t.Errorf("ops = %v, want %v", r.Ops, wantOps)
	}
	if want := []any{"batch", nil, int64(4)}; !reflect.DeepEqual(r.Inputs[0].Shape, want) {
		t.Errorf("input shape = %#v, want %#v", r.Inputs[0].Shape, want)
	}
	if r.Outputs[0].Shape != nil {
		t.Errorf("output of unknown rank has shape %v", r.Outputs[0].Shape)
	}
	if r.Params != 18 || r.ParamBytes != 80 || r.Nodes != 7 {
		t.Errorf("params %d, bytes %d, nodes %d; want 18, 80, 7", r.Params, r.ParamBytes, r.Nodes)
	}
	wantF := []Function{{Name: "ai.xtransformers.F", Inputs: []string{"a", "b"}, Outputs: []string{"c"}, Attributes: []string{"k"}, Nodes: 2}}
	if !reflect.DeepEqual(r.Functions, wantF) {
		t.Errorf("functions = %+v, want %+v", r.Functions, wantF)
	}
	if want := []Opset{{"ai.onnx", 18}, {"ai.xtransformers", 1}}; !reflect.DeepEqual(r.Opsets, want) {
		t.Errorf("opsets = %v, want %v", r.Opsets, want)
	}
}

func TestReportOutput(t *testing.T) {
	r := Describe("m.onnx", testModel())

	var tsv bytes.Buffer
	if err := r.writeTSV(&tsv); err != nil {
		t.Fatal(err)
	}
	wantTSV := `ir_version	8
producer	xt2onnx v0.1
opset	ai.onnx	18
opset	ai.xtransformers	1
input	x	float32	[batch ? 4]
output	y	float32	[...]
nodes	7
op	MatMul	3
op	Add	2
op	Relu	1
op	ai.xtransformers.F	1
function	ai.xtransformers.F	a,b	c	k	2
params	18
param_bytes	80
metadata	xt2onnx.config	{"kind":"TransformerWrapper","wrapper":{"num_tokens":8}}
metadata	note	two\nlines
`
	if tsv.String() != wantTSV {
		t.Errorf("TSV output:\n%s\nwant:\n%s", tsv.String(), wantTSV)
	}

	var text bytes.Buffer
	if err := r.writeText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  parameters  18 (80 B)\n",
		"  NAME  DTYPE    SHAPE\n  x     float32  [batch ? 4]\n",
		"  OP                  COUNT\n  MatMul              3\n",
		"  xt2onnx.config:\n    {\n      \"kind\": \"TransformerWrapper\",\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("terminal output lacks %q:\n%s", want, text.String())
		}
	}

	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Metadata map[string]any `json:"metadata"`
		Inputs   []struct {
			Shape []any `json:"shape"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if cfg, ok := back.Metadata["xt2onnx.config"].(map[string]any); !ok || cfg["kind"] != "TransformerWrapper" {
		t.Errorf("config metadata is not embedded as an object: %s", b)
	}
	if got := back.Inputs[0].Shape; !reflect.DeepEqual(got, []any{"batch", nil, 4.0}) {
		t.Errorf("JSON input shape %v", got)
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %s, want %s", n, got, want)
		}
	}
}
