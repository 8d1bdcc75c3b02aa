package triton

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/triton/internal/tritonpb"
)

// parse parses config.pbtxt text into Triton's ModelConfig; unknown fields
// and unknown enum values are errors.
func parse(t *testing.T, text string) (*tritonpb.ModelConfig, error) {
	t.Helper()
	var mc tritonpb.ModelConfig
	err := prototext.UnmarshalOptions{}.Unmarshal([]byte(text), &mc)
	return &mc, err
}

func input(name string, dt tritonpb.DataType, dims ...int64) *tritonpb.ModelInput {
	return &tritonpb.ModelInput{Name: name, DataType: dt, Dims: dims}
}

func output(name string, dt tritonpb.DataType, dims ...int64) *tritonpb.ModelOutput {
	return &tritonpb.ModelOutput{Name: name, DataType: dt, Dims: dims}
}

func batching() *tritonpb.ModelConfig_DynamicBatching {
	return &tritonpb.ModelConfig_DynamicBatching{DynamicBatching: &tritonpb.ModelDynamicBatching{}}
}

func buildGraph(t *testing.T, cfg *builder.Config, opts builder.Options) *graph.Graph {
	t.Helper()
	m, err := builder.Build(cfg, builder.RandomWeights{}, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	return m.Graph
}

func TestFromGraphParsesAsTritonConfig(t *testing.T) {
	tiny, err := builder.Preset("tiny") // vocab 256, 2 layers, 4 heads of 16
	if err != nil {
		t.Fatal(err)
	}
	enc, err := builder.LoadConfig("../../fixtures/xtransformers-1.9.2/enc_relpos_mask/config.json")
	if err != nil {
		t.Fatal(err)
	}
	const (
		i64 = tritonpb.DataType_TYPE_INT64
		f32 = tritonpb.DataType_TYPE_FP32
		b1  = tritonpb.DataType_TYPE_BOOL
	)
	kvInputs := []*tritonpb.ModelInput{input("x", i64, -1)}
	kvOutputs := []*tritonpb.ModelOutput{output("logits", f32, -1, 256)}
	for i := range 2 {
		n := string(rune('0' + i))
		kvInputs = append(kvInputs, input("past_key_"+n, f32, 4, -1, 16), input("past_value_"+n, f32, 4, -1, 16))
		kvOutputs = append(kvOutputs, output("present_key_"+n, f32, 4, -1, 16), output("present_value_"+n, f32, 4, -1, 16))
	}
	for _, tt := range []struct {
		name string
		g    *graph.Graph
		opts Options
		want *tritonpb.ModelConfig
	}{
		{
			name: "tiny",
			g:    buildGraph(t, tiny, builder.Options{}),
			want: &tritonpb.ModelConfig{Name: "tiny", Platform: "onnxruntime_onnx", MaxBatchSize: 8,
				Input:            []*tritonpb.ModelInput{input("x", i64, -1)},
				Output:           []*tritonpb.ModelOutput{output("logits", f32, -1, 256)},
				SchedulingChoice: batching()},
		},
		{
			name: "tiny-kv",
			g:    buildGraph(t, tiny, builder.Options{KVCache: true}),
			opts: Options{MaxBatchSize: 32, Source: "preset tiny"},
			want: &tritonpb.ModelConfig{Name: "tiny-kv", Platform: "onnxruntime_onnx", MaxBatchSize: 32,
				Input: kvInputs, Output: kvOutputs, SchedulingChoice: batching()},
		},
		{
			name: "encoder.with_mask",
			g:    buildGraph(t, enc, builder.Options{}),
			want: &tritonpb.ModelConfig{Name: "encoder.with_mask", Platform: "onnxruntime_onnx", MaxBatchSize: 8,
				Input:            []*tritonpb.ModelInput{input("x", i64, -1), input("mask", b1, -1)},
				Output:           []*tritonpb.ModelOutput{output("logits", f32, -1, 64)},
				SchedulingChoice: batching()},
		},
		{
			// No common leading dynamic dim: no batching, full shapes.
			name: "unbatched",
			g: &graph.Graph{
				Inputs:  []graph.ValueInfo{{Name: "a", DType: graph.Float, Shape: []graph.Dim{graph.Fixed(3), graph.Sym("n")}}},
				Outputs: []graph.ValueInfo{{Name: "b", DType: graph.Double, Shape: []graph.Dim{graph.Fixed(3)}}},
			},
			want: &tritonpb.ModelConfig{Name: "unbatched", Platform: "onnxruntime_onnx",
				Input:  []*tritonpb.ModelInput{input("a", f32, 3, -1)},
				Output: []*tritonpb.ModelOutput{output("b", tritonpb.DataType_TYPE_FP64, 3)}},
		},
		{
			// A per-item scalar: dims [1] reshaped to [].
			name: "scalar",
			g: &graph.Graph{
				Inputs:  []graph.ValueInfo{{Name: "t", DType: graph.Int32, Shape: []graph.Dim{graph.Sym("batch")}}},
				Outputs: []graph.ValueInfo{{Name: "y", DType: graph.Float16, Shape: []graph.Dim{graph.Sym("batch"), graph.Dim{}}}},
			},
			want: &tritonpb.ModelConfig{Name: "scalar", Platform: "onnxruntime_onnx", MaxBatchSize: 8,
				Input:            []*tritonpb.ModelInput{{Name: "t", DataType: tritonpb.DataType_TYPE_INT32, Dims: []int64{1}, Reshape: &tritonpb.ModelTensorReshape{}}},
				Output:           []*tritonpb.ModelOutput{output("y", tritonpb.DataType_TYPE_FP16, -1)},
				SchedulingChoice: batching()},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromGraph(tt.name, tt.g, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			text := c.Text()
			got, err := parse(t, text)
			if err != nil {
				t.Fatalf("config.pbtxt does not parse as a Triton ModelConfig: %v\n%s", err, text)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("parsed config\n%v\nwant\n%v\ntext:\n%s", prototext.Format(got), prototext.Format(tt.want), text)
			}
			if (tt.opts.Source != "") != strings.HasPrefix(text, "# ") {
				t.Errorf("header comment: source %q, text:\n%s", tt.opts.Source, text)
			}
		})
	}
}

func TestText(t *testing.T) {
	c := &Config{Name: `a"b`, Platform: PlatformONNX, MaxBatchSize: 4, DynamicBatching: true, Source: "m.onnx\nx",
		Inputs:  []Tensor{{Name: "x", DataType: "TYPE_INT64", Dims: []int64{-1}}, {Name: "mask", DataType: "TYPE_BOOL", Dims: []int64{-1}}},
		Outputs: []Tensor{{Name: "logits", DataType: "TYPE_FP32", Dims: []int64{-1, 256}}}}
	want := `# Triton model configuration written by xt2onnx for m.onnx x.
name: "a\"b"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [
  {
    name: "x"
    data_type: TYPE_INT64
    dims: [ -1 ]
  },
  {
    name: "mask"
    data_type: TYPE_BOOL
    dims: [ -1 ]
  }
]
output [
  {
    name: "logits"
    data_type: TYPE_FP32
    dims: [ -1, 256 ]
  }
]
dynamic_batching { }
`
	if got := c.Text(); got != want {
		t.Errorf("text\n%s\nwant\n%s", got, want)
	}
	if mc, err := parse(t, want); err != nil || mc.GetName() != `a"b` {
		t.Errorf("parse: %v, name %q", err, mc.GetName())
	}
	if got := quote("é\x01\\"); got != `"\303\251\001\\"` {
		t.Errorf("quote = %s", got)
	}
}

// TestSchemaRejects shows the schema check can fail: text the real Triton
// would refuse does not parse.
func TestSchemaRejects(t *testing.T) {
	for _, tt := range []struct{ name, text, want string }{
		{"unknown field", "name: \"m\"\nmax_batch: 8\n", "max_batch"},
		{"unknown enum value", "name: \"m\"\ninput [ { name: \"x\" data_type: TYPE_FLOAT32 dims: [ 1 ] } ]\n", "TYPE_FLOAT32"},
		{"wrong field type", "max_batch_size: \"8\"\n", "invalid value for int32"},
		{"unknown nested field", "dynamic_batching { max_delay: 1 }\n", "max_delay"},
	} {
		_, err := parse(t, tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.want)
		}
	}
}

func TestFromGraphErrors(t *testing.T) {
	ok := &graph.Graph{Inputs: []graph.ValueInfo{{Name: "x", DType: graph.Int64, Shape: []graph.Dim{graph.Sym("batch")}}}}
	for _, tt := range []struct {
		name, model string
		g           *graph.Graph
		opts        Options
		want        string
	}{
		{"empty name", "", ok, Options{}, "triton: empty model name"},
		{"slash", "a/b", ok, Options{}, `triton: model name "a/b" cannot be a directory name`},
		{"dotdot", "..", ok, Options{}, `cannot be a directory name`},
		{"negative batch", "m", ok, Options{MaxBatchSize: -1}, "triton: max batch size -1 is negative"},
		{"no shape", "m", &graph.Graph{Inputs: []graph.ValueInfo{{Name: "x", DType: graph.Int64}}}, Options{}, `triton: input "x" has no declared shape`},
		{"no type", "m", &graph.Graph{Outputs: []graph.ValueInfo{{Name: "y", DType: graph.DType(99), Shape: []graph.Dim{}}}}, Options{}, `triton: output "y" has element type dtype(99), which Triton has no type for`},
	} {
		_, err := FromGraph(tt.model, tt.g, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestWriteRepository(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	c := &Config{Name: "tiny", Platform: PlatformONNX, MaxBatchSize: 8, DynamicBatching: true,
		Inputs: []Tensor{{Name: "x", DataType: "TYPE_INT64", Dims: []int64{-1}}}}
	cfgPath, modelPath, err := WriteRepository(dir, c, []byte("onnx bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if cfgPath != filepath.Join(dir, "tiny", "config.pbtxt") || modelPath != filepath.Join(dir, "tiny", "1", "model.onnx") {
		t.Errorf("paths %s, %s", cfgPath, modelPath)
	}
	if b, err := os.ReadFile(modelPath); err != nil || string(b) != "onnx bytes" {
		t.Errorf("model file: %q, %v", b, err)
	}
	if b, err := os.ReadFile(cfgPath); err != nil || string(b) != c.Text() {
		t.Errorf("config file: %q, %v", b, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "tiny"))
	if len(entries) != 2 {
		t.Errorf("repository holds %d entries (temporary files left?): %v", len(entries), entries)
	}
	if _, _, err := WriteRepository(dir, c, nil); err == nil || err.Error() != "triton: empty model" {
		t.Errorf("empty model: %v", err)
	}
}
