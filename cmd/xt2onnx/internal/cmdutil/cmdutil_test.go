package cmdutil

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/spf13/pflag"
)

func TestTable(t *testing.T) {
	for _, tt := range []struct {
		tty  bool
		want string
	}{
		{tty: false, want: "logits\tfloat32\t[2 3]\nx\tint64\t[2]\n"},
		{tty: true, want: "NAME    DTYPE    SHAPE\nlogits  float32  [2 3]\nx       int64    [2]\n"},
	} {
		var b bytes.Buffer
		tb := NewTable(&b, tt.tty, "NAME", "DTYPE", "SHAPE")
		tb.Row("logits", "float32", "[2 3]")
		tb.Row("x", "int64", "[2]")
		if err := tb.Render(); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("tty=%v:\n%q\nwant\n%q", tt.tty, b.String(), tt.want)
		}
	}
}

func TestFloatJSON(t *testing.T) {
	b, err := json.Marshal([]Float{1.5, Float(math.NaN()), Float(math.Inf(-1)), 0})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "[1.5,null,null,0]" {
		t.Errorf("got %s", b)
	}
}

func TestStringEnumFlag(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var v string
	f := StringEnumFlag(fs, &v, "mask", "", "auto", []string{"auto", "on", "off"}, "mask input")
	if v != "auto" || f.Usage != "mask input: {auto|on|off}" {
		t.Errorf("default %q, usage %q", v, f.Usage)
	}
	if err := fs.Parse([]string{"--mask", "on"}); err != nil || v != "on" {
		t.Errorf("--mask on: %v, value %q", err, v)
	}
	err := fs.Parse([]string{"--mask", "yes"})
	if want := `invalid argument "yes" for "--mask" flag: want auto, on or off`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestOrList(t *testing.T) {
	for _, tt := range []struct {
		in   []int64
		want string
	}{{nil, ""}, {[]int64{17}, "17"}, {[]int64{17, 18}, "17 or 18"}, {[]int64{1, 2, 3}, "1, 2 or 3"}} {
		if got := OrList(tt.in); got != tt.want {
			t.Errorf("OrList(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKeyValues(t *testing.T) {
	type variant struct {
		Name string  `json:"name"`
		Rate Float   `json:"rate"`
		Runs []Float `json:"runs"`
	}
	v := struct {
		Model    string `json:"model"`
		Latency  struct{ P50, P90 float64 }
		Variants []variant `json:"variants"`
		Match    *bool     `json:"match"`
	}{Model: "preset tiny", Variants: []variant{{"kv-cache", 12.5, []Float{1, 2.5}}, {"no-cache", Float(math.NaN()), nil}}}
	v.Latency.P50, v.Latency.P90 = 1.25, 3
	got, err := KeyValues(v)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"model", "preset tiny"}, {"Latency.P50", "1.25"}, {"Latency.P90", "3"},
		{"variants.kv-cache.rate", "12.5"}, {"variants.kv-cache.runs", "1 2.5"},
		{"variants.no-cache.rate", "null"}, {"variants.no-cache.runs", "null"}, {"match", "null"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestUserMessage(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`builder: c.json: attn_layers: unknown key "rotary_emb"`, `c.json: attn_layers: unknown key "rotary_emb"`},
		{"safetensors: w.safetensors: header length 7 exceeds the limit", "w.safetensors: header length 7 exceeds the limit"},
		{"native: open bad.onnx: onnximport: invalid model: bad.onnx: model: has no graph", "open bad.onnx: invalid model: bad.onnx: not an ONNX model (it holds no graph)"},
		{"generate: reading the metadata of m.onnx: onnximport: reading model: x", "reading the metadata of m.onnx: reading model: x"},
		{"native: CUDA requested (Options.CUDA), but the native backend runs on the CPU only; use Backend \"ort\" with a CUDA build", "CUDA requested (--device cuda), but the native backend runs on the CPU only; use --backend ort with a CUDA build"},
		{"needs 4 KiB, more than the tensor budget of 1000 B (raise it with runtime.Options.MaxTensorBytes or --max-tensor-bytes if the machine has the memory)", "needs 4 KiB, more than the tensor budget of 1000 B (raise it with --max-tensor-bytes if the machine has the memory)"},
		{"weights w do not match the config\n  wrong shape (18):\n    builder: x", "weights w do not match the config\n  wrong shape (18):\n    x"},
		{`tensor "ort: x" of input export: y`, `tensor "ort: x" of input export: y`},
		{"ort: Options.IntraOpThreads -1: bad", "--threads -1: bad"},
	} {
		if got := UserMessage(tt.in); got != tt.want {
			t.Errorf("UserMessage(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
