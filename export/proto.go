package export

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
)

// toProto validates m against opts and converts it to a ModelProto.
//
// ext, when not nil, receives the initializers written as external data
// (see writeExternal): they get an external reference instead of data.
func toProto(m *graph.Model, opts Options, ext *externalLayout) (*onnxpb.ModelProto, error) {
	m, opset, err := prepare(m, opts)
	if err != nil {
		return nil, err
	}
	producer, version := opts.ProducerName, opts.ProducerVersion
	if producer == "" {
		producer = DefaultProducerName
	}
	if version == "" {
		version = Version
	}
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(irVersions[opset]),
		OpsetImport:     opsetProtos(m.Opsets),
		ProducerName:    proto.String(producer),
		ProducerVersion: proto.String(version),
		Domain:          optString(m.Domain),
		DocString:       optString(m.Doc),
	}
	if m.ModelVersion != 0 {
		mp.ModelVersion = proto.Int64(m.ModelVersion)
	}
	for _, e := range m.Metadata {
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(e.Key), Value: proto.String(e.Value)})
	}
	if mp.Graph, err = graphProto(m.Graph, "", ext); err != nil {
		return nil, err
	}
	for _, f := range m.Functions {
		fp, err := functionProto(f)
		if err != nil {
			return nil, err
		}
		mp.Functions = append(mp.Functions, fp)
	}
	return mp, nil
}

// optString returns nil for "", leaving the optional field unset.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

func opsetProtos(imports []graph.OpsetImport) []*onnxpb.OperatorSetIdProto {
	var out []*onnxpb.OperatorSetIdProto
	for _, o := range imports {
		out = append(out, &onnxpb.OperatorSetIdProto{Domain: proto.String(o.Domain), Version: proto.Int64(o.Version)})
	}
	return out
}

// graphProto converts a graph; prefix locates a sub-graph in errors.
func graphProto(g *graph.Graph, prefix string, ext *externalLayout) (*onnxpb.GraphProto, error) {
	gp := &onnxpb.GraphProto{
		Name:      optString(g.Name),
		DocString: optString(g.Doc),
		Input:     valueInfoProtos(g.Inputs),
		Output:    valueInfoProtos(g.Outputs),
		ValueInfo: valueInfoProtos(g.ValueInfo),
	}
	for _, t := range g.Initializers {
		if ext != nil && t.ByteSize() >= ExternalDataMinBytes {
			tp, err := ext.add(t)
			if err != nil {
				return nil, fmt.Errorf("export: %sinitializer: %w", prefix, err)
			}
			gp.Initializer = append(gp.Initializer, tp)
			continue
		}
		tp, err := tensorProto(t)
		if err != nil {
			return nil, fmt.Errorf("export: %sinitializer: %w", prefix, err)
		}
		gp.Initializer = append(gp.Initializer, tp)
	}
	var err error
	if gp.Node, err = nodeProtos(g.Nodes, prefix); err != nil {
		return nil, err
	}
	return gp, nil
}

func valueInfoProtos(vs []graph.ValueInfo) []*onnxpb.ValueInfoProto {
	var out []*onnxpb.ValueInfoProto
	for _, v := range vs {
		vp := &onnxpb.ValueInfoProto{Name: proto.String(v.Name), DocString: optString(v.Doc)}
		if v.DType != graph.Undefined || v.Shape != nil {
			tt := &onnxpb.TypeProto_Tensor{}
			if v.DType != graph.Undefined {
				tt.ElemType = proto.Int32(int32(v.DType))
			}
			if v.Shape != nil {
				tt.Shape = &onnxpb.TensorShapeProto{}
				for _, d := range v.Shape {
					dp := &onnxpb.TensorShapeProto_Dimension{}
					switch {
					case d.Param != "":
						dp.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
					case d.Value != 0:
						dp.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Value}
					}
					tt.Shape.Dim = append(tt.Shape.Dim, dp)
				}
			}
			vp.Type = &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}
		}
		out = append(out, vp)
	}
	return out
}

// tensorProto converts a tensor, its data as little-endian raw_data.
func tensorProto(t *graph.Tensor) (*onnxpb.TensorProto, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	raw, err := t.Bytes()
	if err != nil {
		return nil, err
	}
	if raw == nil {
		raw = []byte{} // present but empty: the tensor has no elements
	}
	return &onnxpb.TensorProto{
		Dims:      t.Dims,
		DataType:  proto.Int32(int32(t.DType)),
		Name:      optString(t.Name),
		DocString: optString(t.Doc),
		RawData:   raw,
	}, nil
}

func nodeProtos(nodes []*graph.Node, prefix string) ([]*onnxpb.NodeProto, error) {
	var out []*onnxpb.NodeProto
	for _, n := range nodes {
		np := &onnxpb.NodeProto{
			Input:     n.Inputs,
			Output:    n.Outputs,
			Name:      optString(n.Name),
			OpType:    proto.String(n.OpType),
			Domain:    optString(n.Domain),
			DocString: optString(n.Doc),
		}
		where := fmt.Sprintf("%snode %q (%s)", prefix, n.Name, n.OpType)
		for _, a := range n.Attrs {
			ap, err := attrProto(a, where)
			if err != nil {
				return nil, err
			}
			np.Attribute = append(np.Attribute, ap)
		}
		out = append(out, np)
	}
	return out, nil
}

func attrProto(a graph.Attr, nodeWhere string) (*onnxpb.AttributeProto, error) {
	where := fmt.Sprintf("%s attribute %q", nodeWhere, a.Name)
	ap := &onnxpb.AttributeProto{Name: proto.String(a.Name)}
	switch a.Type {
	case graph.AttrFloat, graph.AttrInt, graph.AttrString, graph.AttrTensor, graph.AttrGraph,
		graph.AttrFloats, graph.AttrInts, graph.AttrStrings:
		ap.Type = onnxpb.AttributeProto_AttributeType(a.Type).Enum()
	default:
		return nil, fmt.Errorf("export: %s: unsupported attribute type %d", where, a.Type)
	}
	if a.Ref != "" {
		ap.RefAttrName = proto.String(a.Ref)
		return ap, nil
	}
	switch a.Type {
	case graph.AttrFloat:
		ap.F = proto.Float32(a.F)
	case graph.AttrInt:
		ap.I = proto.Int64(a.I)
	case graph.AttrString:
		ap.S = []byte(a.S)
	case graph.AttrTensor:
		if a.T == nil {
			return nil, fmt.Errorf("export: %s: tensor attribute has no tensor", where)
		}
		tp, err := tensorProto(a.T)
		if err != nil {
			return nil, fmt.Errorf("export: %s: %w", where, err)
		}
		ap.T = tp
	case graph.AttrGraph:
		if a.G == nil {
			return nil, fmt.Errorf("export: %s: graph attribute has no graph", where)
		}
		gp, err := graphProto(a.G, where+": ", nil)
		if err != nil {
			return nil, err
		}
		ap.G = gp
	case graph.AttrFloats:
		ap.Floats = a.Floats
	case graph.AttrInts:
		ap.Ints = a.Ints
	case graph.AttrStrings:
		for _, s := range a.Strings {
			ap.Strings = append(ap.Strings, []byte(s))
		}
	}
	return ap, nil
}

func functionProto(f *graph.Function) (*onnxpb.FunctionProto, error) {
	nodes, err := nodeProtos(f.Nodes, fmt.Sprintf("function %s.%s: ", f.Domain, f.Name))
	if err != nil {
		return nil, err
	}
	return &onnxpb.FunctionProto{
		Name:        proto.String(f.Name),
		Input:       f.Inputs,
		Output:      f.Outputs,
		Attribute:   f.Attributes,
		Node:        nodes,
		DocString:   optString(f.Doc),
		OpsetImport: opsetProtos(f.Opsets),
		Domain:      proto.String(f.Domain),
	}, nil
}
