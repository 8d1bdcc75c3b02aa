package export

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/atomicfile"
	"github.com/xt2onnx/xt2onnx/internal/buildinfo"
)

// Version is the xt2onnx version written as the default producer version:
// the version of the xt2onnx module recorded in the program's build
// information (a tag, a pseudo-version or a VCS revision; "dev" when the
// build records none; see internal/buildinfo). A program that knows better
// (the xt2onnx command built with -ldflags) assigns it before exporting.
var Version = buildinfo.Version("")

// DefaultProducerName is the producer name written when Options leaves it
// empty.
const DefaultProducerName = "xt2onnx"

// DefaultOpset is the ONNX opset used when Options leaves it zero.
const DefaultOpset = 18

// irVersions maps every ONNX opset that export accepts to the IR version
// ONNX pairs with it (opset 17 and 18: IR 8; 19 and 20: IR 9; 21 and 22:
// IR 10; 23: IR 11). Supporting a new opset is adding its entry here.
var irVersions = map[int64]int64{
	17: 8,
	18: 8,
	23: 11,
}

// Opsets returns the ONNX opset versions export accepts, in ascending order.
func Opsets() []int64 {
	out := make([]int64, 0, len(irVersions))
	for o := range irVersions {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// IRVersion returns the ONNX IR version written for a model of the given
// opset, and whether export accepts that opset at all.
func IRVersion(opset int64) (int64, bool) {
	v, ok := irVersions[opset]
	return v, ok
}

// MaxModelBytes is the size protobuf allows one ModelProto: a model of
// this many bytes or more cannot be one .onnx file without external data.
const MaxModelBytes = math.MaxInt32

// maxBytes is the largest model Marshal produces (MaxModelBytes; tests
// lower it).
var maxBytes int64 = MaxModelBytes

// ErrTooLarge is returned (wrapped, with the size) for a model whose
// ModelProto would exceed protobuf's 2 GiB limit. Such models need ONNX
// external data (Options.ExternalData).
var ErrTooLarge = errors.New("export: model exceeds protobuf's 2 GiB message limit")

// Options controls how a model is written. The zero value writes opset 18,
// keeps functions and names xt2onnx as the producer.
type Options struct {
	// Opset is the ONNX opset version the file declares; 0 means
	// DefaultOpset. It must be one of Opsets() and must equal the
	// default-domain opset the model was built for: export does not
	// convert between opset versions.
	Opset int64
	// InlineFunctions replaces every call of a model-local function by the
	// function's body (graph.InlineFunctions), for runtimes without
	// function support. The caller's model is not modified.
	InlineFunctions bool
	// ProducerName and ProducerVersion are written to the file; empty means
	// DefaultProducerName and Version. The model's own fields are ignored.
	ProducerName    string
	ProducerVersion string
	// ExternalData makes WriteFile write every initializer of at least
	// ExternalDataMinBytes as ONNX external data: one file named
	// ExternalDataPath(path) beside the model, each tensor at a 64-byte
	// aligned offset, streamed tensor by tensor (graph.Tensor.Source
	// included) so the weights never sit in memory together. Marshal
	// cannot write external data.
	ExternalData bool
	// ExternalDataThreshold turns ExternalData on automatically when the
	// initializers' data exceeds this many bytes; 0 means
	// DefaultExternalDataThreshold, a negative value never.
	ExternalDataThreshold int64
}

// DefaultExternalDataThreshold is the initializer size above which
// WriteFile writes external data unless told otherwise: 1.5 GiB, safely
// under protobuf's 2 GiB message limit. Models below it are written as
// one file, byte for byte as without external data support.
const DefaultExternalDataThreshold = 3 << 29

// ExternalDataMinBytes is the smallest tensor written to the external data
// file; smaller ones stay inside the model, as onnx's own writer does.
const ExternalDataMinBytes = 1024

// ExternalDataAlign is the alignment of every tensor's offset in the
// external data file.
const ExternalDataAlign = 64

// ExternalDataPath returns the external data file of the model at
// modelPath: modelPath + ".data".
func ExternalDataPath(modelPath string) string { return modelPath + ".data" }

// InitializerBytes returns the size of the data of m's graph
// initializers.
func InitializerBytes(m *graph.Model) int64 {
	if m == nil || m.Graph == nil {
		return 0
	}
	var n int64
	for _, t := range m.Graph.Initializers {
		n += t.ByteSize()
	}
	return n
}

// UsesExternalData reports whether WriteFile writes m with external data
// under opts.
func UsesExternalData(m *graph.Model, opts Options) bool {
	if opts.ExternalData {
		return true
	}
	th := opts.ExternalDataThreshold
	if th == 0 {
		th = DefaultExternalDataThreshold
	}
	return th > 0 && InitializerBytes(m) > th
}

// Marshal returns the ONNX ModelProto bytes of m, written as opts says. It
// does not modify m. The IR version written is the one paired with the
// opset (see IRVersion); m.IRVersion is ignored. Marshal refuses a model
// that fails graph.Check (the error wraps the *graph.CheckError values,
// which name the node at fault) and a model larger than 2 GiB (ErrTooLarge).
func Marshal(m *graph.Model, opts Options) ([]byte, error) {
	mp, err := toProto(m, opts, nil)
	if err != nil {
		return nil, err
	}
	mo := proto.MarshalOptions{Deterministic: true}
	if size := int64(mo.Size(mp)); size > maxBytes {
		return nil, fmt.Errorf("%w: it serialises to %d bytes (%.2f GiB); write its weights as external data (WriteFile with Options.ExternalData; xt2onnx export --external-data)",
			ErrTooLarge, size, float64(size)/(1<<30))
	}
	data, err := mo.Marshal(mp)
	if err != nil {
		return nil, fmt.Errorf("export: encoding ModelProto: %w", err)
	}
	return data, nil
}

// prepare validates opts against m and returns the model to write: m
// itself, or a shallow copy with functions inlined.
func prepare(m *graph.Model, opts Options) (*graph.Model, int64, error) {
	if m == nil || m.Graph == nil {
		return nil, 0, errors.New("export: model has no graph")
	}
	opset := opts.Opset
	if opset == 0 {
		opset = DefaultOpset
	}
	if _, ok := irVersions[opset]; !ok {
		return nil, 0, fmt.Errorf("export: ONNX opset %d is not supported; supported opsets: %s", opset, opsetList())
	}
	if got := m.Opset(graph.DomainONNX); got != opset {
		return nil, 0, fmt.Errorf("export: the model imports ONNX opset %d but opset %d was requested; build the graph for opset %d (export does not convert opset versions)", got, opset, opset)
	}
	for _, f := range m.Functions {
		if v := onnxOpset(f.Opsets); v != 0 && v != opset {
			return nil, 0, fmt.Errorf("export: function %s.%s imports ONNX opset %d, the model opset %d; build it for opset %d", f.Domain, f.Name, v, opset, opset)
		}
	}
	if opts.InlineFunctions && len(m.Functions) > 0 {
		c := *m
		g := *m.Graph
		c.Graph = &g
		c.Opsets = slices.Clone(m.Opsets)
		if err := graph.InlineFunctions(&c); err != nil {
			return nil, 0, fmt.Errorf("export: inlining functions: %w", err)
		}
		m = &c
	}
	if err := graph.Check(m); err != nil {
		return nil, 0, fmt.Errorf("export: refusing to write a model that fails the graph check: %w", err)
	}
	return m, opset, nil
}

// onnxOpset returns the default-domain version in opsets, or 0.
func onnxOpset(opsets []graph.OpsetImport) int64 {
	for _, o := range opsets {
		if o.Domain == graph.DomainONNX || o.Domain == "ai.onnx" {
			return o.Version
		}
	}
	return 0
}

func opsetList() string {
	var s []string
	for _, o := range Opsets() {
		s = append(s, fmt.Sprint(o))
	}
	return strings.Join(s, ", ")
}

// WriteFile writes m to path as an ONNX file (see Marshal). The file is
// written to a temporary file in the same directory, synced, and renamed
// over path, so path holds either its old content or the complete new
// model, never a partial file.
//
// With external data (Options.ExternalData, or initializers over
// Options.ExternalDataThreshold), the data file is written first, the same
// way, then the model; both are complete or untouched.
func WriteFile(path string, m *graph.Model, opts Options) error {
	if UsesExternalData(m, opts) {
		return writeExternal(path, m, opts)
	}
	data, err := Marshal(m, opts)
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

func writeAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("export: writing %s: %w", path, err)
	}
	return nil
}
