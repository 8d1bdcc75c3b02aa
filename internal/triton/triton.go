package triton

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/atomicfile"
)

// PlatformONNX is Triton's platform name for ONNX models run by its ONNX
// Runtime backend.
const PlatformONNX = "onnxruntime_onnx"

// DefaultMaxBatchSize is the max_batch_size written when Options leaves it 0.
const DefaultMaxBatchSize = 8

// File names inside a model repository.
const (
	ConfigFile = "config.pbtxt"
	ModelFile  = "model.onnx"
	// Version is the model version directory written.
	Version = "1"
)

// Tensor is one input or output of a configuration.
type Tensor struct {
	// Name is the graph input or output name.
	Name string
	// DataType is Triton's type name, e.g. "TYPE_FP32".
	DataType string
	// Dims is the shape without the batch dim when the model batches; -1
	// marks a dynamic dim. An empty shape is written as dims [1] with
	// reshape { shape: [] }, as Triton wants for per-item scalars.
	Dims []int64
}

// Config is a Triton model configuration.
type Config struct {
	// Name is the model name, which is also its directory name.
	Name string
	// Platform is PlatformONNX.
	Platform string
	// MaxBatchSize is the largest batch the server forms; 0 when the
	// model cannot batch (then Dims are the full shapes).
	MaxBatchSize int
	// Inputs and Outputs are in graph order.
	Inputs, Outputs []Tensor
	// DynamicBatching turns on Triton's dynamic batcher.
	DynamicBatching bool
	// Source names the model the config was made from, written as a
	// comment; may be empty.
	Source string
}

// Options tune FromGraph.
type Options struct {
	// MaxBatchSize is the max_batch_size of a batching model; 0 means
	// DefaultMaxBatchSize.
	MaxBatchSize int
	// Source names the model in the config's header comment.
	Source string
}

// dataTypes maps ONNX element types to Triton's.
var dataTypes = map[graph.DType]string{
	graph.Bool:     "TYPE_BOOL",
	graph.Uint8:    "TYPE_UINT8",
	graph.Uint16:   "TYPE_UINT16",
	graph.Uint32:   "TYPE_UINT32",
	graph.Uint64:   "TYPE_UINT64",
	graph.Int8:     "TYPE_INT8",
	graph.Int16:    "TYPE_INT16",
	graph.Int32:    "TYPE_INT32",
	graph.Int64:    "TYPE_INT64",
	graph.Float16:  "TYPE_FP16",
	graph.Float:    "TYPE_FP32",
	graph.Double:   "TYPE_FP64",
	graph.String:   "TYPE_STRING",
	graph.BFloat16: "TYPE_BF16",
}

// CheckName returns an error unless name can be a Triton model name and
// directory name.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("triton: empty model name")
	case name == "." || name == "..", strings.ContainsAny(name, `/\`):
		return fmt.Errorf("triton: model name %q cannot be a directory name: use letters, digits, '-', '_' or '.'", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("triton: model name %q has a control character", name)
		}
	}
	return nil
}

// FromGraph returns the configuration of model name for g's inputs and
// outputs.
func FromGraph(name string, g *graph.Graph, opts Options) (*Config, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if g == nil {
		return nil, errors.New("triton: nil graph")
	}
	if opts.MaxBatchSize < 0 {
		return nil, fmt.Errorf("triton: max batch size %d is negative", opts.MaxBatchSize)
	}
	if opts.MaxBatchSize == 0 {
		opts.MaxBatchSize = DefaultMaxBatchSize
	}
	c := &Config{Name: name, Platform: PlatformONNX, Source: opts.Source}
	batch := batchDim(g)
	if batch != "" {
		c.MaxBatchSize = opts.MaxBatchSize
		c.DynamicBatching = true
	}
	var err error
	if c.Inputs, err = tensors(g.Inputs, "input", batch != ""); err != nil {
		return nil, err
	}
	if c.Outputs, err = tensors(g.Outputs, "output", batch != ""); err != nil {
		return nil, err
	}
	return c, nil
}

// batchDim returns the name of the symbolic dim that leads every input and
// output, or "" when there is none.
func batchDim(g *graph.Graph) string {
	name := ""
	for _, vs := range [][]graph.ValueInfo{g.Inputs, g.Outputs} {
		for _, v := range vs {
			if len(v.Shape) == 0 || v.Shape[0].Param == "" {
				return ""
			}
			if name == "" {
				name = v.Shape[0].Param
			} else if v.Shape[0].Param != name {
				return ""
			}
		}
	}
	return name
}

func tensors(vs []graph.ValueInfo, kind string, batched bool) ([]Tensor, error) {
	out := make([]Tensor, 0, len(vs))
	for _, v := range vs {
		dt, ok := dataTypes[v.DType]
		if !ok {
			return nil, fmt.Errorf("triton: %s %q has element type %s, which Triton has no type for", kind, v.Name, v.DType)
		}
		if v.Shape == nil {
			return nil, fmt.Errorf("triton: %s %q has no declared shape; Triton needs the rank of every tensor", kind, v.Name)
		}
		shape := v.Shape
		if batched {
			shape = shape[1:]
		}
		dims := make([]int64, len(shape))
		for i, d := range shape {
			dims[i] = -1
			if d.Param == "" && d.Value > 0 {
				dims[i] = d.Value
			}
		}
		out = append(out, Tensor{Name: v.Name, DataType: dt, Dims: dims})
	}
	return out, nil
}

// Text renders the configuration as config.pbtxt (protobuf text format of
// Triton's ModelConfig).
func (c *Config) Text() string {
	var b strings.Builder
	if c.Source != "" {
		fmt.Fprintf(&b, "# Triton model configuration written by xt2onnx for %s.\n", strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, c.Source))
	}
	fmt.Fprintf(&b, "name: %s\n", quote(c.Name))
	fmt.Fprintf(&b, "platform: %s\n", quote(c.Platform))
	fmt.Fprintf(&b, "max_batch_size: %d\n", c.MaxBatchSize)
	writeTensors(&b, "input", c.Inputs)
	writeTensors(&b, "output", c.Outputs)
	if c.DynamicBatching {
		b.WriteString("dynamic_batching { }\n")
	}
	return b.String()
}

func writeTensors(b *strings.Builder, field string, ts []Tensor) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintf(b, "%s [\n", field)
	for i, t := range ts {
		b.WriteString("  {\n")
		fmt.Fprintf(b, "    name: %s\n", quote(t.Name))
		fmt.Fprintf(b, "    data_type: %s\n", t.DataType)
		if len(t.Dims) == 0 {
			b.WriteString("    dims: [ 1 ]\n    reshape { shape: [ ] }\n")
		} else {
			fmt.Fprintf(b, "    dims: [ %s ]\n", joinInts(t.Dims))
		}
		b.WriteString("  }")
		if i < len(ts)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, d := range v {
		s[i] = strconv.FormatInt(d, 10)
	}
	return strings.Join(s, ", ")
}

// quote renders s as a text-format string literal: printable ASCII as is,
// quotes and backslashes escaped, every other byte as an octal escape.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03o", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Paths returns where WriteRepository puts the configuration and the model
// of model name under repository dir.
func Paths(dir, name string) (config, model string) {
	return filepath.Join(dir, name, ConfigFile), filepath.Join(dir, name, Version, ModelFile)
}

// WriteRepository writes c and the serialized ONNX model into the model
// repository dir (DIR/<name>/config.pbtxt and DIR/<name>/1/model.onnx),
// creating the directories it needs. Each file is written to a temporary
// file in its directory and renamed into place. It returns the two paths.
func WriteRepository(dir string, c *Config, model []byte) (configPath, modelPath string, err error) {
	if len(model) == 0 {
		return "", "", errors.New("triton: empty model")
	}
	return WriteRepositoryWith(dir, c, func(path string) error { return writeAtomic(path, model) })
}

// WriteRepositoryWith is WriteRepository with the model written by
// writeModel, given the model's path in the repository (so that an
// exporter writing external data puts its data file beside it, where
// ONNX Runtime looks for it). writeModel must write atomically.
func WriteRepositoryWith(dir string, c *Config, writeModel func(path string) error) (configPath, modelPath string, err error) {
	if err := CheckName(c.Name); err != nil {
		return "", "", err
	}
	configPath, modelPath = Paths(dir, c.Name)
	if err := os.MkdirAll(filepath.Dir(modelPath), 0o755); err != nil {
		return "", "", fmt.Errorf("triton: creating the model repository: %w", err)
	}
	if err := writeModel(modelPath); err != nil {
		return "", "", err
	}
	if err := writeAtomic(configPath, []byte(c.Text())); err != nil {
		return "", "", err
	}
	return configPath, modelPath, nil
}

// writeAtomic writes data to a temporary file next to path and renames it
// into place (see internal/atomicfile).
func writeAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("triton: writing %s: %w", path, err)
	}
	return nil
}
