package precision

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/xt2onnx/xt2onnx/graph"
)

// MetaBlockSize is the metadata key of a quantized model's block size.
const MetaBlockSize = "xt2onnx.block_size"

// MinQuantizeOpset is the first ONNX opset whose DequantizeLinear takes
// per-block scales (block_size).
const MinQuantizeOpset = 21

// QuantizeOptions says how Quantize quantizes.
type QuantizeOptions struct {
	// Bits is 8 (int8) or 4 (int4).
	Bits int
	// BlockSize is the number of consecutive input rows of a weight that
	// share one scale per output column; 0 means DefaultBlockSize. It must
	// be at least 2.
	BlockSize int64
}

// DefaultBlockSize is the block size Quantize uses when none is given.
const DefaultBlockSize = 32

// Quantize rewrites m, a float32 model built for opset 21 or later, in
// place to store the weight of every MatMul (a float32 2-D initializer
// [in, out] read only as MatMul's second input) as int8 or int4 with one
// float32 scale per block of BlockSize input rows and output column,
// symmetric (no zero point): w ≈ q · scale, scale = max|w| over the block
// / 127 (int8) or 7 (int4). A standard DequantizeLinear (axis 0,
// block_size) turns each back into float32 before its MatMul, so any
// runtime with opset 21 runs the file. Embedding tables (read by Gather),
// norms and biases stay float32. It returns how many weights it quantized.
func Quantize(m *graph.Model, opts QuantizeOptions) (int, error) {
	if m == nil || m.Graph == nil {
		return 0, fmt.Errorf("precision: model has no graph")
	}
	var qt graph.DType
	switch opts.Bits {
	case 8:
		qt = graph.Int8
	case 4:
		qt = graph.Int4
	default:
		return 0, fmt.Errorf("precision: %d-bit quantization is not supported; want 8 (int8) or 4 (int4)", opts.Bits)
	}
	block := opts.BlockSize
	if block == 0 {
		block = DefaultBlockSize
	}
	if block < 2 {
		return 0, fmt.Errorf("precision: block size %d: want at least 2", block)
	}
	if v := m.Opset(graph.DomainONNX); v < MinQuantizeOpset {
		return 0, fmt.Errorf("precision: blocked DequantizeLinear needs ONNX opset %d or later, the model is built for %d (export with --opset 23)", MinQuantizeOpset, v)
	}
	g := m.Graph
	weight := map[string]bool{}
	other := map[string]bool{}
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if n.OpType == "MatMul" && n.Domain == "" && i == 1 {
				weight[in] = true
			} else {
				other[in] = true
			}
		}
	}
	for _, o := range g.Outputs {
		other[o.Name] = true
	}
	var dq []*graph.Node
	var inits []*graph.Tensor
	count := 0
	for _, t := range g.Initializers {
		if t.DType != graph.Float || len(t.Dims) != 2 || !weight[t.Name] || other[t.Name] || t.Dims[0] < 1 || t.Dims[1] < 1 {
			inits = append(inits, t)
			continue
		}
		count++
		orig := *t
		rows, cols := t.Dims[0], t.Dims[1]
		nb := (rows + block - 1) / block
		q := &graph.Tensor{Name: t.Name + "/" + qt.String(), DType: qt, Dims: []int64{rows, cols},
			Doc:    fmt.Sprintf("%s quantized in blocks of %d rows", t.Name, block),
			Source: &quantSource{src: &orig, rows: rows, cols: cols, block: block, bits: opts.Bits}}
		s := &graph.Tensor{Name: t.Name + "/scale", DType: graph.Float, Dims: []int64{nb, cols},
			Doc:    fmt.Sprintf("scales of %s, one per %d rows and column", t.Name, block),
			Source: &quantSource{src: &orig, rows: rows, cols: cols, block: block, bits: opts.Bits, scales: true}}
		inits = append(inits, q, s)
		dq = append(dq, &graph.Node{Name: t.Name + ".dequantize", OpType: "DequantizeLinear",
			Inputs: []string{q.Name, s.Name}, Outputs: []string{t.Name},
			Attrs: []graph.Attr{graph.AInt("axis", 0), graph.AInt("block_size", block)}})
	}
	g.Initializers = inits
	g.Nodes = append(dq, g.Nodes...)
	m.SetMetadata(MetaDType, qt.String())
	m.SetMetadata(MetaBlockSize, fmt.Sprint(block))
	return count, nil
}

// quantSource writes the quantized values (or the scales) of a float32
// [rows, cols] tensor, a block of rows at a time.
type quantSource struct {
	src               *graph.Tensor
	rows, cols, block int64
	bits              int
	scales            bool
}

// WriteData implements graph.TensorSource.
func (s *quantSource) WriteData(w io.Writer) error {
	bw := &blockWriter{s: s, w: w, buf: make([]byte, 0, 4*s.block*s.cols)}
	if err := s.src.WriteData(bw); err != nil {
		return err
	}
	if err := bw.flush(); err != nil {
		return err
	}
	if bw.half {
		_, err := w.Write([]byte{bw.nibble})
		return err
	}
	return nil
}

type blockWriter struct {
	s      *quantSource
	w      io.Writer
	buf    []byte // float32 bytes of the current block
	out    []byte
	half   bool // an int4 value waits for its pair
	nibble byte
}

func (b *blockWriter) Write(p []byte) (int, error) {
	n := len(p)
	full := 4 * b.s.block * b.s.cols
	for len(p) > 0 {
		k := min(len(p), int(full)-len(b.buf))
		b.buf = append(b.buf, p[:k]...)
		p = p[k:]
		if int64(len(b.buf)) == full {
			if err := b.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush quantizes the rows held (a whole block, or the last rows).
func (b *blockWriter) flush() error {
	cols := b.s.cols
	if len(b.buf) == 0 {
		return nil
	}
	if int64(len(b.buf))%(4*cols) != 0 {
		return fmt.Errorf("precision: %s: data ends inside a row", b.s.src.Name)
	}
	rows := int64(len(b.buf)) / (4 * cols)
	at := func(r, c int64) float32 {
		return math.Float32frombits(binary.LittleEndian.Uint32(b.buf[4*(r*cols+c):]))
	}
	qmax := float32(127)
	if b.s.bits == 4 {
		qmax = 7
	}
	scales := make([]float32, cols)
	for c := range cols {
		var m float32
		for r := range rows {
			m = max(m, float32(math.Abs(float64(at(r, c)))))
		}
		scales[c] = m / qmax
	}
	b.out = b.out[:0]
	if b.s.scales {
		for _, sc := range scales {
			b.out = binary.LittleEndian.AppendUint32(b.out, math.Float32bits(sc))
		}
	} else {
		for r := range rows {
			for c := range cols {
				var q float32
				if scales[c] > 0 {
					q = min(qmax, max(-qmax, float32(math.RoundToEven(float64(at(r, c))/float64(scales[c])))))
				}
				if b.s.bits == 8 {
					b.out = append(b.out, byte(int8(q)))
					continue
				}
				nib := byte(int8(q)) & 0xf
				if b.half {
					b.out = append(b.out, b.nibble|nib<<4)
					b.half = false
				} else {
					b.nibble, b.half = nib, true
				}
			}
		}
	}
	b.buf = b.buf[:0]
	_, err := b.w.Write(b.out)
	return err
}
