package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/modelsrc"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
)

// Options are the parsed arguments of `xt2onnx inspect`.
type Options struct {
	IO *iostreams.IOStreams

	ModelPath string // MODEL.onnx or --model
	Preset    string // --preset: built in memory, random weights
	JSON      bool
}

// NewCmdInspect returns the inspect command. runF, when not nil, is called
// with the parsed options instead of inspecting (for tests).
func NewCmdInspect(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	var model modelsrc.ModelFlags
	cmd := &cobra.Command{
		Use:   "inspect (MODEL.onnx | --preset NAME)",
		Short: "describe an ONNX model file",
		Long: `Describe an ONNX model file without running it: IR version, producer, opset
imports, inputs and outputs with their dims (symbolic names such as batch and
seq), the number of nodes and how often each operator occurs (most frequent
first), the model-local functions (domain.name, inputs, outputs, attributes,
node count), the parameter count and size (all initializers), and the
metadata, with the x-transformers config that xt2onnx embeds pretty-printed.
--preset describes a built-in decoder as "xt2onnx export --preset NAME"
writes it.

On a terminal the report is grouped and aligned; otherwise every fact is one
tab-separated line whose first field says what it is (ir_version, producer,
opset, input, output, nodes, op, function, params, param_bytes, metadata),
and metadata values are printed on one line. --json prints one JSON object.`,
		Example: `  xt2onnx inspect model.onnx

  # Operators by frequency
  xt2onnx inspect model.onnx | awk -F'\t' '$1 == "op"'

  # The embedded model config
  xt2onnx inspect --json model.onnx | jq '.metadata["xt2onnx.config"]'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := model.Resolve(args); err != nil {
				return err
			}
			opts.ModelPath, opts.Preset = model.Path, model.Preset
			if runF != nil {
				return runF(opts)
			}
			return inspectRun(opts)
		},
	}
	model.Add(cmd, "built in memory with random weights")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the description as JSON")
	return cmd
}

// Report is the description of one model; its JSON form is inspect's
// --json output.
type Report struct {
	Path            string         `json:"path"`
	IRVersion       int64          `json:"ir_version"`
	ProducerName    string         `json:"producer_name"`
	ProducerVersion string         `json:"producer_version"`
	Opsets          []Opset        `json:"opset_imports"`
	Inputs          []Value        `json:"inputs"`
	Outputs         []Value        `json:"outputs"`
	Nodes           int            `json:"nodes"`
	Ops             []OpCount      `json:"ops"`
	Functions       []Function     `json:"functions"`
	Params          int64          `json:"params"`
	ParamBytes      int64          `json:"param_bytes"`
	Metadata        map[string]any `json:"metadata"`
	metadataOrder   []graph.MetadataEntry
}

// Opset is one opset import.
type Opset struct {
	Domain  string `json:"domain"`
	Version int64  `json:"version"`
}

// Value is a graph input or output. Shape holds a number for a fixed dim, a
// string for a symbolic one and null for an unknown one; it is null when the
// rank is unknown.
type Value struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

// OpCount is how many nodes of the top-level graph use an operator.
type OpCount struct {
	Op    string `json:"op"` // op type, prefixed with "domain." outside the ONNX domain
	Count int    `json:"count"`
}

// Function is a model-local function.
type Function struct {
	Name       string   `json:"name"` // domain.name
	Inputs     []string `json:"inputs"`
	Outputs    []string `json:"outputs"`
	Attributes []string `json:"attributes"`
	Nodes      int      `json:"nodes"`
}

func inspectRun(o *Options) error {
	var (
		m    *graph.Model
		err  error
		name = o.ModelPath
	)
	if o.Preset != "" {
		var src *modelsrc.Model
		if src, err = modelsrc.Preset(o.Preset, 0, false); err != nil {
			return err
		}
		name = src.Name
		m, err = onnximport.Read(src.Bytes)
	} else {
		if err := modelsrc.CheckFile(o.ModelPath); err != nil {
			return err
		}
		m, err = onnximport.ReadFileWith(o.ModelPath, onnximport.ReadOptions{SkipTensorData: true})
	}
	if err != nil {
		return err
	}
	r := Describe(name, m)
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, r)
	}
	if o.IO.IsStdoutTTY() {
		return r.writeText(o.IO.Out)
	}
	return r.writeTSV(o.IO.Out)
}

// Describe builds the report of model m read from path.
func Describe(path string, m *graph.Model) *Report {
	r := &Report{
		Path:            path,
		IRVersion:       m.IRVersion,
		ProducerName:    m.ProducerName,
		ProducerVersion: m.ProducerVersion,
		Opsets:          []Opset{},
		Functions:       []Function{},
		Ops:             []OpCount{},
		Metadata:        map[string]any{},
		metadataOrder:   m.Metadata,
	}
	for _, o := range m.Opsets {
		r.Opsets = append(r.Opsets, Opset{Domain: domainName(o.Domain), Version: o.Version})
	}
	g := m.Graph
	for _, v := range g.Inputs {
		r.Inputs = append(r.Inputs, value(v))
	}
	for _, v := range g.Outputs {
		r.Outputs = append(r.Outputs, value(v))
	}
	r.Nodes = len(g.Nodes)
	counts := map[string]int{}
	for _, n := range g.Nodes {
		counts[opName(n)]++
	}
	for op, c := range counts {
		r.Ops = append(r.Ops, OpCount{Op: op, Count: c})
	}
	sort.Slice(r.Ops, func(i, j int) bool {
		if r.Ops[i].Count != r.Ops[j].Count {
			return r.Ops[i].Count > r.Ops[j].Count
		}
		return r.Ops[i].Op < r.Ops[j].Op
	})
	for _, f := range m.Functions {
		r.Functions = append(r.Functions, Function{
			Name:       f.Domain + "." + f.Name,
			Inputs:     nonNil(f.Inputs),
			Outputs:    nonNil(f.Outputs),
			Attributes: nonNil(f.Attributes),
			Nodes:      len(f.Nodes),
		})
	}
	for _, t := range g.Initializers {
		r.Params += t.NumElements()
		r.ParamBytes += t.ByteSize()
	}
	for _, e := range m.Metadata {
		if json.Valid([]byte(e.Value)) && strings.HasPrefix(strings.TrimSpace(e.Value), "{") {
			r.Metadata[e.Key] = json.RawMessage(e.Value)
		} else {
			r.Metadata[e.Key] = e.Value
		}
	}
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func domainName(d string) string {
	if d == graph.DomainONNX {
		return "ai.onnx"
	}
	return d
}

func opName(n *graph.Node) string {
	if n.Domain == graph.DomainONNX || n.Domain == "ai.onnx" {
		return n.OpType
	}
	return n.Domain + "." + n.OpType
}

func value(v graph.ValueInfo) Value {
	out := Value{Name: v.Name, DType: v.DType.String()}
	if v.Shape != nil {
		out.Shape = make([]any, len(v.Shape))
		for i, d := range v.Shape {
			switch {
			case d.Param != "":
				out.Shape[i] = d.Param
			case d.Value > 0:
				out.Shape[i] = d.Value
			}
		}
	}
	return out
}

// shapeString renders a shape as "[batch seq 256]", "?" for an unknown dim.
func (v Value) shapeString() string {
	if v.Shape == nil {
		return "[...]"
	}
	parts := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		if d == nil {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (r *Report) producer() string {
	return strings.TrimSpace(r.ProducerName + " " + r.ProducerVersion)
}

// metadataValue returns a metadata value for display: JSON objects indented
// by two spaces when pretty, compacted otherwise.
func metadataValue(v string, pretty bool) string {
	if !json.Valid([]byte(v)) || !strings.HasPrefix(strings.TrimSpace(v), "{") {
		if pretty {
			return v
		}
		return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(v)
	}
	var b bytes.Buffer
	if pretty {
		_ = json.Indent(&b, []byte(v), "", "  ") // valid JSON: cannot fail
	} else {
		_ = json.Compact(&b, []byte(v))
	}
	return b.String()
}

func (r *Report) writeTSV(w io.Writer) error {
	t := cmdutil.NewTable(w, false)
	t.Row("ir_version", strconv.FormatInt(r.IRVersion, 10))
	t.Row("producer", r.producer())
	for _, o := range r.Opsets {
		t.Row("opset", o.Domain, strconv.FormatInt(o.Version, 10))
	}
	for _, v := range r.Inputs {
		t.Row("input", v.Name, v.DType, v.shapeString())
	}
	for _, v := range r.Outputs {
		t.Row("output", v.Name, v.DType, v.shapeString())
	}
	t.Row("nodes", strconv.Itoa(r.Nodes))
	for _, op := range r.Ops {
		t.Row("op", op.Op, strconv.Itoa(op.Count))
	}
	for _, f := range r.Functions {
		t.Row("function", f.Name, strings.Join(f.Inputs, ","), strings.Join(f.Outputs, ","), strings.Join(f.Attributes, ","), strconv.Itoa(f.Nodes))
	}
	t.Row("params", strconv.FormatInt(r.Params, 10))
	t.Row("param_bytes", strconv.FormatInt(r.ParamBytes, 10))
	for _, e := range r.metadataOrder {
		t.Row("metadata", e.Key, metadataValue(e.Value, false))
	}
	return t.Render()
}

func (r *Report) writeText(w io.Writer) error {
	var b strings.Builder
	section := func(title string) { fmt.Fprintf(&b, "\n%s\n", title) }
	fmt.Fprintf(&b, "%s\n", r.Path)
	fmt.Fprintf(&b, "  IR version  %d\n", r.IRVersion)
	fmt.Fprintf(&b, "  producer    %s\n", r.producer())
	var opsets []string
	for _, o := range r.Opsets {
		opsets = append(opsets, fmt.Sprintf("%s %d", o.Domain, o.Version))
	}
	fmt.Fprintf(&b, "  opsets      %s\n", strings.Join(opsets, ", "))
	fmt.Fprintf(&b, "  parameters  %s (%s)\n", groupDigits(r.Params), byteSize(r.ParamBytes))

	table := func(header []string, rows [][]string) {
		var tb strings.Builder
		t := cmdutil.NewTable(&tb, true, header...)
		for _, row := range rows {
			t.Row(row...)
		}
		_ = t.Render() // writes to a strings.Builder: cannot fail
		for _, line := range strings.SplitAfter(tb.String(), "\n") {
			if line != "" {
				b.WriteString("  " + line)
			}
		}
	}
	values := func(title string, vs []Value) {
		section(title)
		var rows [][]string
		for _, v := range vs {
			rows = append(rows, []string{v.Name, v.DType, v.shapeString()})
		}
		table([]string{"NAME", "DTYPE", "SHAPE"}, rows)
	}
	values("Inputs", r.Inputs)
	values("Outputs", r.Outputs)

	section(fmt.Sprintf("Nodes (%d)", r.Nodes))
	var rows [][]string
	for _, op := range r.Ops {
		rows = append(rows, []string{op.Op, strconv.Itoa(op.Count)})
	}
	table([]string{"OP", "COUNT"}, rows)

	if len(r.Functions) > 0 {
		section(fmt.Sprintf("Functions (%d)", len(r.Functions)))
		rows = nil
		for _, f := range r.Functions {
			rows = append(rows, []string{f.Name, strings.Join(f.Inputs, ", "), strings.Join(f.Outputs, ", "), strings.Join(f.Attributes, ", "), strconv.Itoa(f.Nodes)})
		}
		table([]string{"FUNCTION", "INPUTS", "OUTPUTS", "ATTRIBUTES", "NODES"}, rows)
	}

	if len(r.metadataOrder) > 0 {
		section("Metadata")
		for _, e := range r.metadataOrder {
			v := metadataValue(e.Value, true)
			if e.Key == builder.MetaConfig || strings.Contains(v, "\n") {
				fmt.Fprintf(&b, "  %s:\n    %s\n", e.Key, strings.ReplaceAll(v, "\n", "\n    "))
			} else {
				fmt.Fprintf(&b, "  %s: %s\n", e.Key, v)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
