package builder

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
)

// Weights is a source of parameter tensors named as in an x-transformers
// state_dict ("attn_layers.layers.0.1.to_q.weight", …).
type Weights interface {
	// Names lists every tensor the source holds.
	Names() []string
	// Shape returns a tensor's shape.
	Shape(name string) ([]int64, bool)
	// Float32 returns a tensor as float32 values in row-major order,
	// converting other floating-point storage types.
	Float32(name string) ([]float32, error)
}

// rawFloat32 is implemented by sources that can hand out little-endian
// float32 bytes without a copy (a memory-mapped safetensors file).
type rawFloat32 interface {
	RawFloat32(name string) ([]byte, bool)
}

// SafetensorsWeights reads parameters from a safetensors file, memory-mapped
// so that float32 weights go into the exported model without a copy.
type SafetensorsWeights struct {
	f *safetensors.File
}

// OpenWeights opens a safetensors state_dict. Close it after the model built
// from it has been written.
func OpenWeights(path string) (*SafetensorsWeights, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	return &SafetensorsWeights{f: f}, nil
}

// Close releases the file.
func (w *SafetensorsWeights) Close() error { return w.f.Close() }

// Names implements Weights.
func (w *SafetensorsWeights) Names() []string { return w.f.Names() }

// Shape implements Weights.
func (w *SafetensorsWeights) Shape(name string) ([]int64, bool) {
	info, ok := w.f.Info(name)
	if !ok {
		return nil, false
	}
	return info.Shape, true
}

// Float32 implements Weights.
func (w *SafetensorsWeights) Float32(name string) ([]float32, error) { return w.f.Float32s(name) }

// RawFloat32 returns the bytes of a float32 tensor without copying.
func (w *SafetensorsWeights) RawFloat32(name string) ([]byte, bool) {
	info, ok := w.f.Info(name)
	if !ok || info.DType != safetensors.DTypeF32 {
		return nil, false
	}
	b, err := w.f.Bytes(name)
	return b, err == nil
}

// FloatDType returns the storage type shared by every floating-point
// tensor of the file ("F16", "BF16", "F32" or "F64"), or "mixed" when
// they differ, or "" when there are none.
func (w *SafetensorsWeights) FloatDType() string {
	got := ""
	for _, n := range w.f.Names() {
		info, _ := w.f.Info(n)
		switch info.DType {
		case safetensors.DTypeF16, safetensors.DTypeBF16, safetensors.DTypeF32, safetensors.DTypeF64:
			if got != "" && got != info.DType.String() {
				return "mixed"
			}
			got = info.DType.String()
		}
	}
	return got
}

// DontNeed advises that the named tensor will not be read again soon (a
// streamed export calls it after writing the tensor), so that its pages of
// the mapping leave the process's resident set.
func (w *SafetensorsWeights) DontNeed(name string) { w.f.DontNeed(name) }

// RandomWeights generates every parameter the model asks for from a seeded
// generator, initialised the way PyTorch initialises each kind of layer
// (norm gains 1, biases 0, linear weights uniform in ±1/√fan_in, embeddings
// standard normal). The same seed always gives the same weights. It is for
// demos and benchmarks: no file needed.
type RandomWeights struct {
	Seed uint64
}

// Names implements Weights; a random source holds whatever is asked for.
func (RandomWeights) Names() []string { return nil }

// Shape implements Weights.
func (RandomWeights) Shape(string) ([]int64, bool) { return nil, false }

// Float32 implements Weights.
func (RandomWeights) Float32(name string) ([]float32, error) {
	return nil, fmt.Errorf("builder: random weights are generated while building, not looked up (%q)", name)
}

// initKind says how RandomWeights initialises a parameter.
type initKind int

const (
	initOnes initKind = iota
	initZeros
	initLinear // uniform ±1/√fan_in, fan_in = elements per output row
	initNormal // N(0, 1)
	initConst  // a fixed value
	initValues // explicit values
)

// paramSpec is a parameter the model needs.
type paramSpec struct {
	name   string
	shape  []int64
	init   initKind
	value  float32   // for initConst
	values []float32 // for initValues
}

// WeightsError reports every problem between a model's parameters and a
// weight source at once.
type WeightsError struct {
	Source     string
	Missing    []string // "name [shape]" the model needs and the source lacks
	Unexpected []string // "name [shape]" the source has and the model does not use
	Mismatched []string // "name: file has [a b], model needs [c d]"
	Other      []string
}

func (e *WeightsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "builder: weights %s do not match the config", e.Source)
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n  %s (%d):", title, len(items))
		for _, it := range items {
			fmt.Fprintf(&b, "\n    %s", it)
		}
	}
	list("missing", e.Missing)
	list("wrong shape", e.Mismatched)
	list("unexpected", e.Unexpected)
	list("unreadable", e.Other)
	if len(e.Missing) > 0 && len(e.Unexpected) > 0 {
		b.WriteString("\n  (missing and unexpected names together usually mean the config differs from the one the weights were trained with)")
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.Mismatched) > 0 {
		fmt.Fprintf(&b, "\n  'xt2onnx config infer --weights %s' writes the config these weights imply, marking what it cannot know", e.Source)
	}
	return b.String()
}

// params hands out initializers for the parameters a build asks for and
// collects every mismatch instead of stopping at the first.
type params struct {
	src    Weights
	name   string
	rng    *rand.Rand
	pcg    *rand.PCG // rng's source, whose state streamed sources save
	random bool
	stream bool // hand out TensorSources instead of bytes (Options.Stream)
	st     streamState
	dry    bool // only record the specs: nothing is read or generated
	used   map[string]bool
	specs  []paramSpec
	err    WeightsError
}

func newParams(src Weights, sourceName string) *params {
	p := &params{src: src, name: sourceName, used: map[string]bool{}}
	seed, random := uint64(0), false
	if r, ok := src.(RandomWeights); ok {
		seed, random = r.Seed, true
	}
	if r, ok := src.(*RandomWeights); ok {
		seed, random = r.Seed, true
	}
	if random {
		p.random = true
		p.pcg = rand.NewPCG(seed, 0x78743278)
		p.rng = rand.New(p.pcg)
	}
	p.err.Source = sourceName
	return p
}

// get returns the parameter's float32 values as raw little-endian bytes,
// or nil when it is missing or misshapen (recorded in p.err).
func (p *params) get(spec paramSpec) []byte {
	p.specs = append(p.specs, spec)
	p.used[spec.name] = true
	if p.dry {
		return nil
	}
	if p.random {
		return p.generate(spec)
	}
	shape, ok := p.src.Shape(spec.name)
	if !ok {
		p.err.Missing = append(p.err.Missing, fmt.Sprintf("%s %v", spec.name, spec.shape))
		return nil
	}
	if !equalShape(shape, spec.shape) {
		p.err.Mismatched = append(p.err.Mismatched, fmt.Sprintf("%s: file has %v, model needs %v", spec.name, shape, spec.shape))
		return nil
	}
	if r, ok := p.src.(rawFloat32); ok {
		if raw, ok := r.RawFloat32(spec.name); ok {
			return raw
		}
	}
	vals, err := p.src.Float32(spec.name)
	if err != nil {
		p.err.Other = append(p.err.Other, fmt.Sprintf("%s: %v", spec.name, err))
		return nil
	}
	return f32bytes(vals)
}

func (p *params) generate(spec paramSpec) []byte {
	raw := make([]byte, 4*graph.NumElements(spec.shape))
	fillRandom(raw, spec, p.rng)
	return raw
}

// finish reports unused tensors of the source and returns the collected
// error, if any.
func (p *params) finish() error {
	if !p.random && !p.dry {
		for _, n := range p.src.Names() {
			if !p.used[n] {
				shape, _ := p.src.Shape(n)
				p.err.Unexpected = append(p.err.Unexpected, fmt.Sprintf("%s %v", n, shape))
			}
		}
	}
	e := &p.err
	if len(e.Missing)+len(e.Unexpected)+len(e.Mismatched)+len(e.Other) == 0 {
		return nil
	}
	sort.Strings(e.Missing)
	sort.Strings(e.Unexpected)
	sort.Strings(e.Mismatched)
	return e
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func f32bytes(v []float32) []byte {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return raw
}

// transpose2D returns the [cols, rows] transpose of a row-major [rows, cols]
// float32 matrix given as little-endian bytes.
func transpose2D(raw []byte, rows, cols int64) []byte {
	out := make([]byte, len(raw))
	for r := int64(0); r < rows; r++ {
		for c := int64(0); c < cols; c++ {
			copy(out[4*(c*rows+r):4*(c*rows+r)+4], raw[4*(r*cols+c):4*(r*cols+c)+4])
		}
	}
	return out
}
