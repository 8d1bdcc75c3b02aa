package onnximport

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/extdata"
	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
	"github.com/xt2onnx/xt2onnx/internal/sysmem"
)

// ReadOptions configures ReadFileWith and ReadWith.
type ReadOptions struct {
	// MaxTensorBytes bounds the bytes of any one tensor read from external
	// data; 0 means half the memory available to the process (as
	// runtime.DefaultMaxTensorBytes).
	MaxTensorBytes int64
	// SkipExternalData leaves tensors stored as external data without
	// data (Raw nil): their names, types and shapes are read, and the data
	// files are not opened. For tools that read only metadata (inspect).
	SkipExternalData bool
	// SkipTensorData reads no tensor data of the main graph's initializers
	// at all: SkipExternalData, and the raw_data stored inside the model
	// file is skipped over without being copied (the file is memory-mapped
	// and only the pages of the other fields are touched). Such tensors
	// have names, types and shapes but Raw nil.
	SkipTensorData bool
}

// maxModelBytes is the largest model file ReadFile reads: protobuf cannot
// encode a message of 2 GiB or more (larger models keep their weights in
// external data files).
const maxModelBytes = 2<<30 - 1

// ReadFile reads the ONNX model file at path. Tensors stored as external
// data are loaded from files inside the model file's directory (see
// ReadFileWith for the rules).
func ReadFile(path string) (*graph.Model, error) {
	return ReadFileWith(path, ReadOptions{})
}

// ReadFileWith is ReadFile with options. The model must be a regular file
// of less than 2 GiB. External data is confined as ONNX Runtime confines
// it: every location must be a relative path without "..", is resolved
// inside the model's directory (a symlink that leads out of it is
// refused, wherever it points), and must be a regular file whose size
// covers the tensor's offset and length; refusals are *ExternalDataError
// or *FormatError values naming the tensor and the location.
func ReadFileWith(path string, opts ReadOptions) (*graph.Model, error) {
	if opts.SkipTensorData {
		return readStripped(path)
	}
	data, err := readModelFile(path)
	if err != nil {
		return nil, err
	}
	r := &reader{file: path, ext: extdata.New(filepath.Dir(path)), maxTensorBytes: opts.MaxTensorBytes, skipExt: opts.SkipExternalData}
	defer r.close()
	return r.read(data)
}

// ReadFileMapped is ReadFileWith, except that external data is memory-mapped
// instead of copied: tensors stored there alias the mapped data file, which
// stays mapped until release is called (after which the model's external
// tensors must not be used). Checks and refusals are those of ReadFileWith.
// release is never nil.
func ReadFileMapped(path string, opts ReadOptions) (m *graph.Model, release func() error, err error) {
	data, err := readModelFile(path)
	if err != nil {
		return nil, func() error { return nil }, err
	}
	r := &reader{file: path, ext: extdata.New(filepath.Dir(path)), maxTensorBytes: opts.MaxTensorBytes, mapped: true}
	defer r.close()
	m, err = r.read(data)
	if err != nil {
		_ = r.ext.Unmap()
		return nil, func() error { return nil }, err
	}
	return m, r.ext.Unmap, nil
}

// readStripped reads the model at path without its initializers' data
// (ReadOptions.SkipTensorData).
func readStripped(path string) (*graph.Model, error) {
	data, release, err := mapModelFile(path)
	if err != nil {
		return nil, err
	}
	defer release()
	stripped, err := stripTensorData(data)
	if err != nil {
		return nil, &FormatError{File: path, Problem: "not an ONNX ModelProto (truncated or not an .onnx file?)", Err: err}
	}
	r := &reader{file: path, ext: extdata.New(filepath.Dir(path)), skipExt: true, skipData: true}
	defer r.close()
	return r.read(stripped)
}

// readModelFile reads a model file after checking that it is a regular
// file small enough to be a protobuf message, so that a FIFO or a device
// is refused instead of blocking or filling memory.
func readModelFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("onnximport: reading model: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &FormatError{File: path, Problem: fmt.Sprintf("is a %s, not a regular file", extdata.FileKind(fi.Mode()))}
	}
	if fi.Size() > maxModelBytes {
		return nil, &FormatError{File: path, Problem: fmt.Sprintf("is %d bytes; an ONNX protobuf file must be under 2 GiB (larger models keep their weights in external data)", fi.Size())}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|extdata.ONonblock, 0)
	if err != nil {
		return nil, fmt.Errorf("onnximport: reading model: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, &FormatError{File: path, Problem: "changed into something other than a regular file while being opened"}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("onnximport: reading model: %w", err)
	}
	if len(data) > maxModelBytes {
		return nil, &FormatError{File: path, Problem: "grew past 2 GiB while being read"}
	}
	return data, nil
}

// Read decodes an ONNX model from its serialized ModelProto bytes. A model
// whose tensors are stored as external data cannot be read this way, as
// there is no directory to resolve the data files against: use ReadFile.
func Read(data []byte) (*graph.Model, error) {
	r := &reader{}
	defer r.close()
	return r.read(data)
}

// reader holds the state of one decode: the model file (for error messages
// and external data) and the external data files opened so far.
type reader struct {
	file           string
	ext            *extdata.Dir // nil when there is no directory (Read)
	maxTensorBytes int64
	skipExt        bool // leave external tensors without data
	skipData       bool // initializers may lack their (stripped) data
	mapped         bool // alias external data in a mapping of its file
}

func (r *reader) close() {
	if r.ext != nil {
		r.ext.Close()
	}
}

// limit returns the tensor budget for external data.
func (r *reader) limit() int64 {
	if r.maxTensorBytes > 0 {
		return r.maxTensorBytes
	}
	return sysmem.Limit() / 2 // as runtime.DefaultMaxTensorBytes
}

func (r *reader) formatErr(where, format string, args ...any) error {
	return &FormatError{File: r.file, Where: where, Problem: fmt.Sprintf(format, args...)}
}

func (r *reader) unsupported(where, format string, args ...any) error {
	return &UnsupportedError{File: r.file, Where: where, Feature: fmt.Sprintf(format, args...)}
}

func (r *reader) read(data []byte) (*graph.Model, error) {
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, &FormatError{File: r.file, Problem: "not an ONNX ModelProto (truncated or not an .onnx file?)", Err: err}
	}
	if mp.Graph == nil {
		return nil, r.formatErr("model", "has no graph")
	}
	m := &graph.Model{
		IRVersion:       mp.GetIrVersion(),
		ProducerName:    mp.GetProducerName(),
		ProducerVersion: mp.GetProducerVersion(),
		Domain:          mp.GetDomain(),
		ModelVersion:    mp.GetModelVersion(),
		Doc:             mp.GetDocString(),
		Opsets:          opsets(mp.GetOpsetImport()),
		Metadata:        metadata(mp.GetMetadataProps()),
	}
	g, err := r.graph(mp.Graph, "")
	if err != nil {
		return nil, err
	}
	m.Graph = g
	for _, fp := range mp.GetFunctions() {
		f, err := r.function(fp)
		if err != nil {
			return nil, err
		}
		m.Functions = append(m.Functions, f)
	}
	return m, nil
}

func opsets(ps []*onnxpb.OperatorSetIdProto) []graph.OpsetImport {
	var out []graph.OpsetImport
	for _, p := range ps {
		out = append(out, graph.OpsetImport{Domain: p.GetDomain(), Version: p.GetVersion()})
	}
	return out
}

func metadata(ps []*onnxpb.StringStringEntryProto) []graph.MetadataEntry {
	var out []graph.MetadataEntry
	for _, p := range ps {
		out = append(out, graph.MetadataEntry{Key: p.GetKey(), Value: p.GetValue()})
	}
	return out
}

// graph converts a graph; prefix names the enclosing node attribute for
// sub-graphs ("" for the main graph) and starts every location it reports.
func (r *reader) graph(gp *onnxpb.GraphProto, prefix string) (*graph.Graph, error) {
	if len(gp.GetSparseInitializer()) > 0 {
		return nil, r.unsupported(prefix+fmt.Sprintf("sparse initializer %q", gp.GetSparseInitializer()[0].GetValues().GetName()), "sparse tensors are not supported")
	}
	g := &graph.Graph{Name: gp.GetName(), Doc: gp.GetDocString()}
	var err error
	if g.Inputs, err = r.valueInfos(gp.GetInput(), prefix+"graph input"); err != nil {
		return nil, err
	}
	if g.Outputs, err = r.valueInfos(gp.GetOutput(), prefix+"graph output"); err != nil {
		return nil, err
	}
	if g.ValueInfo, err = r.valueInfos(gp.GetValueInfo(), prefix+"value_info"); err != nil {
		return nil, err
	}
	for i, tp := range gp.GetInitializer() {
		where := prefix + fmt.Sprintf("initializer %q", tp.GetName())
		if tp.GetName() == "" {
			where = prefix + fmt.Sprintf("initializer #%d", i)
		}
		t, err := r.tensor(tp, where)
		if err != nil {
			return nil, err
		}
		g.Initializers = append(g.Initializers, t)
	}
	if g.Nodes, err = r.nodes(gp.GetNode(), prefix); err != nil {
		return nil, err
	}
	return g, nil
}

func (r *reader) valueInfos(ps []*onnxpb.ValueInfoProto, kind string) ([]graph.ValueInfo, error) {
	var out []graph.ValueInfo
	for _, p := range ps {
		v := graph.ValueInfo{Name: p.GetName(), Doc: p.GetDocString()}
		if tp := p.GetType(); tp != nil {
			switch val := tp.GetValue().(type) {
			case nil:
				// A type with no value: nothing is known.
			case *onnxpb.TypeProto_TensorType:
				v.DType = graph.DType(val.TensorType.GetElemType())
				if sp := val.TensorType.GetShape(); sp != nil {
					v.Shape = make([]graph.Dim, 0, len(sp.GetDim()))
					for _, d := range sp.GetDim() {
						v.Shape = append(v.Shape, graph.Dim{Value: d.GetDimValue(), Param: d.GetDimParam()})
					}
				}
			default:
				return nil, r.unsupported(fmt.Sprintf("%s %q", kind, p.GetName()), "type %s: only tensor types are supported", typeKind(tp))
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func typeKind(tp *onnxpb.TypeProto) string {
	switch tp.GetValue().(type) {
	case *onnxpb.TypeProto_SequenceType:
		return "sequence"
	case *onnxpb.TypeProto_MapType:
		return "map"
	case *onnxpb.TypeProto_OptionalType:
		return "optional"
	case *onnxpb.TypeProto_SparseTensorType:
		return "sparse tensor"
	}
	return "unknown"
}

func nodeWhere(prefix string, i int, np *onnxpb.NodeProto) string {
	if np.GetName() == "" {
		return fmt.Sprintf("%snode #%d (%s)", prefix, i, np.GetOpType())
	}
	return fmt.Sprintf("%snode %q (%s)", prefix, np.GetName(), np.GetOpType())
}

func (r *reader) nodes(ps []*onnxpb.NodeProto, prefix string) ([]*graph.Node, error) {
	var out []*graph.Node
	for i, np := range ps {
		where := nodeWhere(prefix, i, np)
		if np.GetOverload() != "" {
			return nil, r.unsupported(where, "calls function overload %q; overloads are not supported", np.GetOverload())
		}
		n := &graph.Node{
			Name:    np.GetName(),
			OpType:  np.GetOpType(),
			Domain:  np.GetDomain(),
			Inputs:  np.GetInput(),
			Outputs: np.GetOutput(),
			Doc:     np.GetDocString(),
		}
		for _, ap := range np.GetAttribute() {
			a, err := r.attr(ap, where)
			if err != nil {
				return nil, err
			}
			n.Attrs = append(n.Attrs, a)
		}
		out = append(out, n)
	}
	return out, nil
}

func (r *reader) attr(ap *onnxpb.AttributeProto, nodeWhere string) (graph.Attr, error) {
	where := fmt.Sprintf("%s attribute %q", nodeWhere, ap.GetName())
	if ap.GetName() == "" {
		return graph.Attr{}, r.formatErr(nodeWhere, "has an attribute without a name")
	}
	a := graph.Attr{Name: ap.GetName(), Type: graph.AttrType(ap.GetType()), Ref: ap.GetRefAttrName()}
	if ap.Type == nil {
		return graph.Attr{}, r.formatErr(where, "has no type (files older than IR version 2 are not supported)")
	}
	switch ap.GetType() {
	case onnxpb.AttributeProto_FLOAT, onnxpb.AttributeProto_INT, onnxpb.AttributeProto_STRING,
		onnxpb.AttributeProto_TENSOR, onnxpb.AttributeProto_GRAPH,
		onnxpb.AttributeProto_FLOATS, onnxpb.AttributeProto_INTS, onnxpb.AttributeProto_STRINGS:
	default:
		return graph.Attr{}, r.unsupported(where, "attributes of type %s are not supported", ap.GetType())
	}
	if a.Ref != "" {
		// A reference to the calling node's attribute carries no value.
		return a, nil
	}
	switch ap.GetType() {
	case onnxpb.AttributeProto_FLOAT:
		a.F = ap.GetF()
	case onnxpb.AttributeProto_INT:
		a.I = ap.GetI()
	case onnxpb.AttributeProto_STRING:
		a.S = string(ap.GetS())
	case onnxpb.AttributeProto_TENSOR:
		if ap.GetT() == nil {
			return graph.Attr{}, r.formatErr(where, "is of type TENSOR but holds no tensor")
		}
		t, err := r.tensor(ap.GetT(), where)
		if err != nil {
			return graph.Attr{}, err
		}
		a.T = t
	case onnxpb.AttributeProto_GRAPH:
		if ap.GetG() == nil {
			return graph.Attr{}, r.formatErr(where, "is of type GRAPH but holds no graph")
		}
		g, err := r.graph(ap.GetG(), where+": ")
		if err != nil {
			return graph.Attr{}, err
		}
		a.G = g
	case onnxpb.AttributeProto_FLOATS:
		a.Floats = ap.GetFloats()
	case onnxpb.AttributeProto_INTS:
		a.Ints = ap.GetInts()
	case onnxpb.AttributeProto_STRINGS:
		for _, s := range ap.GetStrings() {
			a.Strings = append(a.Strings, string(s))
		}
	}
	return a, nil
}

func (r *reader) function(fp *onnxpb.FunctionProto) (*graph.Function, error) {
	where := fmt.Sprintf("function %s.%s", fp.GetDomain(), fp.GetName())
	if fp.GetOverload() != "" {
		return nil, r.unsupported(where, "overload %q: function overloads are not supported", fp.GetOverload())
	}
	if len(fp.GetAttributeProto()) > 0 {
		return nil, r.unsupported(where, "attribute %q has a default value; function attribute defaults are not supported", fp.GetAttributeProto()[0].GetName())
	}
	nodes, err := r.nodes(fp.GetNode(), where+": ")
	if err != nil {
		return nil, err
	}
	return &graph.Function{
		Domain:     fp.GetDomain(),
		Name:       fp.GetName(),
		Doc:        fp.GetDocString(),
		Inputs:     fp.GetInput(),
		Outputs:    fp.GetOutput(),
		Attributes: fp.GetAttribute(),
		Nodes:      nodes,
		Opsets:     opsets(fp.GetOpsetImport()),
	}, nil
}
