package builder

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/xt2onnx/xt2onnx/graph"
)

// Streamed builds (Options.Stream) read or generate no weight while
// building: each initializer gets a graph.TensorSource that produces its
// bytes when the exporter writes it, so only one tensor (at most) is in
// memory at a time. The bytes are exactly those of an in-memory build:
// random weights replay the generator from the state it had when the
// parameter was requested, and transposes are written block by block.

// streamMinElements is the smallest parameter a streamed build defers:
// smaller ones (norm gains, biases) are read at once, as without Stream.
const streamMinElements = 256

// streamChunk is the size of the blocks sources write.
const streamChunk = 1 << 20

// streamState is shared by the sources of one build: a scratch buffer for
// a generated tensor and a block buffer, reused tensor after tensor (the
// exporter writes one tensor at a time).
type streamState struct {
	scratch []byte
	block   []byte
}

func (s *streamState) scratchBytes(n int64) []byte {
	if int64(cap(s.scratch)) < n {
		s.scratch = nil // let the old one go before the new one is made
		s.scratch = make([]byte, n)
	}
	return s.scratch[:n]
}

func (s *streamState) blockBytes(n int) []byte {
	if cap(s.block) < n {
		s.block = make([]byte, n)
	}
	return s.block[:n]
}

// writeTransposed writes the [cols, rows] transpose of the row-major
// [rows, cols] float32 matrix raw, a block of output rows at a time.
func (s *streamState) writeTransposed(w io.Writer, raw []byte, rows, cols int64) error {
	bc := max(int64(1), int64(streamChunk)/(4*max(rows, 1)))
	for c0 := int64(0); c0 < cols; c0 += bc {
		c1 := min(cols, c0+bc)
		buf := s.blockBytes(int(4 * (c1 - c0) * rows))
		for r := int64(0); r < rows; r++ {
			src := raw[4*r*cols:]
			for c := c0; c < c1; c++ {
				copy(buf[4*((c-c0)*rows+r):4*((c-c0)*rows+r)+4], src[4*c:4*c+4])
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// randomSource replays a random parameter from a saved generator state.
type randomSource struct {
	st        *streamState
	spec      paramSpec
	pcg       rand.PCG // the state before the parameter was generated
	transpose bool     // write the [in, out] transpose of the [out, in] spec
}

// WriteData implements graph.TensorSource.
func (s *randomSource) WriteData(w io.Writer) error {
	pcg := s.pcg
	rng := rand.New(&pcg)
	raw := s.st.scratchBytes(4 * graph.NumElements(s.spec.shape))
	fillRandom(raw, s.spec, rng)
	if s.transpose {
		return s.st.writeTransposed(w, raw, s.spec.shape[0], s.spec.shape[1])
	}
	_, err := w.Write(raw)
	return err
}

// skipRandom advances rng past the draws generating spec takes.
func skipRandom(spec paramSpec, pcg *rand.PCG, rng *rand.Rand) {
	n := graph.NumElements(spec.shape)
	switch spec.init {
	case initLinear:
		for range n {
			pcg.Uint64() // Rand.Float64 takes one Uint64
		}
	case initNormal:
		for range n {
			rng.NormFloat64()
		}
	}
}

// fillRandom writes spec's values, drawn from rng, into raw as float32.
func fillRandom(raw []byte, spec paramSpec, rng *rand.Rand) {
	n := graph.NumElements(spec.shape)
	put := func(i int64, v float32) { binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v)) }
	switch spec.init {
	case initOnes:
		for i := range n {
			put(i, 1)
		}
	case initZeros:
		clear(raw)
	case initConst:
		for i := range n {
			put(i, spec.value)
		}
	case initValues:
		clear(raw)
		for i, v := range spec.values {
			if int64(i) < n {
				put(int64(i), v)
			}
		}
	case initLinear:
		fanIn := n / spec.shape[0]
		bound := 1 / math.Sqrt(float64(fanIn))
		for i := range n {
			put(i, float32((rng.Float64()*2-1)*bound))
		}
	case initNormal:
		for i := range n {
			put(i, float32(rng.NormFloat64()))
		}
	}
}

// fileSource reads a parameter from the weights when it is written.
type fileSource struct {
	st        *streamState
	src       Weights
	name      string
	shape     []int64
	transpose bool
}

// WriteData implements graph.TensorSource.
func (s *fileSource) WriteData(w io.Writer) error {
	var raw []byte
	if r, ok := s.src.(rawFloat32); ok {
		raw, _ = r.RawFloat32(s.name)
	}
	if raw == nil {
		vals, err := s.src.Float32(s.name)
		if err != nil {
			return err
		}
		raw = f32bytes(vals)
	}
	var err error
	if s.transpose {
		err = s.st.writeTransposed(w, raw, s.shape[0], s.shape[1])
	} else {
		_, err = w.Write(raw)
	}
	if d, ok := s.src.(interface{ DontNeed(string) }); ok {
		d.DontNeed(s.name)
	}
	return err
}

// zeroSource writes n zero bytes (a parameter that is missing: the build
// fails, but the graph stays well formed until it does).
type zeroSource struct{ n int64 }

// WriteData implements graph.TensorSource.
func (s zeroSource) WriteData(w io.Writer) error {
	buf := make([]byte, min(s.n, streamChunk))
	for left := s.n; left > 0; left -= int64(len(buf)) {
		if _, err := w.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			return err
		}
	}
	return nil
}

// source returns the TensorSource of spec in a streamed build (transpose:
// the [in, out] transpose of a [out, in] nn.Linear weight), recording
// missing and misshapen tensors as get does. Float32 tensors of a mapped
// file are written straight from the mapping, whose pages are released
// after each tensor.
func (p *params) source(spec paramSpec, transpose bool) (graph.TensorSource, []byte) {
	p.specs = append(p.specs, spec)
	p.used[spec.name] = true
	n := 4 * graph.NumElements(spec.shape)
	if p.random {
		s := &randomSource{st: &p.st, spec: spec, pcg: *p.pcg, transpose: transpose}
		skipRandom(spec, p.pcg, p.rng)
		return s, nil
	}
	shape, ok := p.src.Shape(spec.name)
	if !ok {
		p.err.Missing = append(p.err.Missing, fmt.Sprintf("%s %v", spec.name, spec.shape))
		return zeroSource{n}, nil
	}
	if !equalShape(shape, spec.shape) {
		p.err.Mismatched = append(p.err.Mismatched, fmt.Sprintf("%s: file has %v, model needs %v", spec.name, shape, spec.shape))
		return zeroSource{n}, nil
	}
	return &fileSource{st: &p.st, src: p.src, name: spec.name, shape: spec.shape, transpose: transpose}, nil
}
