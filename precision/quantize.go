package precision

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"

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
	// be at least 2, and for FormatMatMulNBits a power of two ≥ 16.
	BlockSize int64
	// Format is how the quantized weights are written: FormatDQ (the
	// default, also "") or FormatMatMulNBits.
	Format string
	// AccuracyLevel is the accuracy_level attribute of FormatMatMulNBits
	// nodes: 0 (unset, the default), 1 (float32), 2 (float16), 3
	// (bfloat16) or 4 (int8): the lowest precision ONNX Runtime may
	// compute A in. Only for FormatMatMulNBits.
	AccuracyLevel int64
}

// Quantized weight formats (QuantizeOptions.Format).
const (
	// FormatDQ stores each weight as int8/int4 [in, out] with blocked
	// scales, turned back into float32 by a standard DequantizeLinear
	// (opset 21) before its MatMul: any runtime runs it.
	FormatDQ = "dq"
	// FormatMatMulNBits replaces each quantized MatMul by ONNX Runtime's
	// contrib operator com.microsoft.MatMulNBits (domain com.microsoft,
	// version 1), which multiplies by the packed weight directly.
	FormatMatMulNBits = "matmulnbits"
)

// QuantizeFormats lists the values of QuantizeOptions.Format.
func QuantizeFormats() []string { return []string{FormatDQ, FormatMatMulNBits} }

// DomainMicrosoft is the domain of ONNX Runtime's contrib operators.
const DomainMicrosoft = "com.microsoft"

// MetaQuantizeFormat is the metadata key of a quantized model's format,
// set for FormatMatMulNBits only (a FormatDQ file stays as it was).
const MetaQuantizeFormat = "xt2onnx.quantize_format"

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
//
// With Format FormatMatMulNBits the same codes, offset by the operator's
// default zero point 2^(bits-1) (8 for int4, 128 for int8) and so unsigned,
// are stored transposed as MatMulNBits wants them, uint8 [out,
// ceil(in/BlockSize), BlockSize·bits/8] (int4 two a byte, the lower input
// row in the low nibble; a partial last block padded with the zero
// point), with float32 scales [out, ceil(in/BlockSize)], and each MatMul
// becomes a MatMulNBits node; the weights, and so the products, equal the
// DequantizeLinear form's. Such a file runs in ONNX Runtime and the native
// backend only, at any opset.
func Quantize(m *graph.Model, opts QuantizeOptions) (int, error) {
	if m == nil || m.Graph == nil {
		return 0, fmt.Errorf("precision: model has no graph")
	}
	nbits := false
	switch opts.Format {
	case "", FormatDQ:
		if opts.AccuracyLevel != 0 {
			return 0, fmt.Errorf("precision: an accuracy level is an attribute of MatMulNBits: quantize with format %q", FormatMatMulNBits)
		}
	case FormatMatMulNBits:
		nbits = true
	default:
		return 0, fmt.Errorf("precision: quantize format %q is not supported; want %s", opts.Format, strings.Join(QuantizeFormats(), " or "))
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
	if nbits {
		if block < 16 || block&(block-1) != 0 {
			return 0, fmt.Errorf("precision: block size %d: MatMulNBits wants a power of two of at least 16 (16, 32, 64, 128…)", block)
		}
		if opts.AccuracyLevel < 0 || opts.AccuracyLevel > 4 {
			return 0, fmt.Errorf("precision: accuracy level %d: want 0 (unset), 1 (float32), 2 (float16), 3 (bfloat16) or 4 (int8)", opts.AccuracyLevel)
		}
		if v := m.Opset(DomainMicrosoft); v != 0 && v != 1 {
			return 0, fmt.Errorf("precision: the model imports %s version %d; MatMulNBits is version 1", DomainMicrosoft, v)
		}
	} else if v := m.Opset(graph.DomainONNX); v < MinQuantizeOpset {
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
	type nbitsWeight struct {
		b, scales string
		k, n      int64
	}
	packed := map[string]nbitsWeight{}
	for _, t := range g.Initializers {
		if t.DType != graph.Float || len(t.Dims) != 2 || !weight[t.Name] || other[t.Name] || t.Dims[0] < 1 || t.Dims[1] < 1 {
			inits = append(inits, t)
			continue
		}
		count++
		orig := *t
		rows, cols := t.Dims[0], t.Dims[1]
		nb := (rows + block - 1) / block
		if nbits {
			blob := block * int64(opts.Bits) / 8
			src := &nbitsSource{src: &orig, rows: rows, cols: cols, block: block, bits: opts.Bits}
			b := &graph.Tensor{Name: t.Name + "/nbits", DType: graph.Uint8, Dims: []int64{cols, nb, blob},
				Doc:    fmt.Sprintf("%s transposed, quantized to %d bits in blocks of %d rows for MatMulNBits", t.Name, opts.Bits, block),
				Source: src}
			sc := *src
			sc.scales = true
			s := &graph.Tensor{Name: t.Name + "/scale", DType: graph.Float, Dims: []int64{cols, nb},
				Doc:    fmt.Sprintf("scales of %s, one per column and %d rows", t.Name, block),
				Source: &sc}
			inits = append(inits, b, s)
			packed[t.Name] = nbitsWeight{b: b.Name, scales: s.Name, k: rows, n: cols}
			continue
		}
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
	if nbits {
		for i, n := range g.Nodes {
			if n.OpType != "MatMul" || n.Domain != "" || len(n.Inputs) != 2 {
				continue
			}
			p, ok := packed[n.Inputs[1]]
			if !ok {
				continue
			}
			g.Nodes[i] = &graph.Node{Name: n.Name, OpType: "MatMulNBits", Domain: DomainMicrosoft, Doc: n.Doc,
				Inputs: []string{n.Inputs[0], p.b, p.scales}, Outputs: n.Outputs,
				Attrs: []graph.Attr{graph.AInt("K", p.k), graph.AInt("N", p.n),
					graph.AInt("bits", int64(opts.Bits)), graph.AInt("block_size", block), graph.AInt("accuracy_level", opts.AccuracyLevel)}}
		}
		if count > 0 && m.Opset(DomainMicrosoft) == 0 {
			m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: DomainMicrosoft, Version: 1})
		}
		m.SetMetadata(MetaQuantizeFormat, FormatMatMulNBits)
	}
	g.Nodes = append(dq, g.Nodes...)
	m.SetMetadata(MetaDType, qt.String())
	m.SetMetadata(MetaBlockSize, fmt.Sprint(block))
	return count, nil
}

// quantizeRows returns the scales of a block of rows × cols float32
// values (little-endian bytes) and their codes in [-qmax, qmax], row-major:
// symmetric, scale = max |w| over the block's column / qmax.
func quantizeRows(buf []byte, rows, cols int64, bits int, codes []int8) []float32 {
	at := func(r, c int64) float32 {
		return math.Float32frombits(binary.LittleEndian.Uint32(buf[4*(r*cols+c):]))
	}
	qmax := float32(127)
	if bits == 4 {
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
	for r := range rows {
		for c := range cols {
			var q float32
			if scales[c] > 0 {
				q = min(qmax, max(-qmax, float32(math.RoundToEven(float64(at(r, c))/float64(scales[c])))))
			}
			codes[r*cols+c] = int8(q)
		}
	}
	return scales
}

// nbitsSource writes a float32 [rows, cols] weight in MatMulNBits' layout
// (or its scales): it quantizes a block of rows at a time as it reads the
// weight, into the transposed output, which it holds whole (rows·cols·bits/8
// bytes, an eighth of the float32 weight for int4) until the end.
type nbitsSource struct {
	src               *graph.Tensor
	rows, cols, block int64
	bits              int
	scales            bool
}

// WriteData implements graph.TensorSource.
func (s *nbitsSource) WriteData(w io.Writer) error {
	nb := (s.rows + s.block - 1) / s.block
	blob := s.block * int64(s.bits) / 8
	var out []byte
	if s.scales {
		out = make([]byte, 4*s.cols*nb)
	} else {
		out = make([]byte, s.cols*nb*blob)
		zero := byte(1) << (s.bits - 1)
		if s.bits == 4 {
			zero |= zero << 4
		}
		for i := range out {
			out[i] = zero
		}
	}
	acc := &rowBlocks{size: 4 * s.block * s.cols, buf: make([]byte, 0, 4*s.block*s.cols), codes: make([]int8, s.block*s.cols)}
	acc.emit = func(buf []byte) error {
		if int64(len(buf))%(4*s.cols) != 0 {
			return fmt.Errorf("precision: %s: data ends inside a row", s.src.Name)
		}
		rows := int64(len(buf)) / (4 * s.cols)
		blk := acc.done
		acc.done++
		if blk >= nb {
			return fmt.Errorf("precision: %s: more data than its %d rows", s.src.Name, s.rows)
		}
		scales := quantizeRows(buf, rows, s.cols, s.bits, acc.codes)
		for c := range s.cols {
			if s.scales {
				binary.LittleEndian.PutUint32(out[4*(c*nb+blk):], math.Float32bits(scales[c]))
				continue
			}
			base := (c*nb + blk) * blob
			for r := range rows {
				u := byte(int(acc.codes[r*s.cols+c]) + 1<<(s.bits-1))
				if s.bits == 8 {
					out[base+r] = u
					continue
				}
				i := base + r/2
				if r%2 == 0 {
					out[i] = out[i]&0xf0 | u
				} else {
					out[i] = out[i]&0x0f | u<<4
				}
			}
		}
		return nil
	}
	if err := s.src.WriteData(acc); err != nil {
		return err
	}
	if err := acc.flush(); err != nil {
		return err
	}
	if acc.done != nb {
		return fmt.Errorf("precision: %s: data ends after %d of %d blocks of rows", s.src.Name, acc.done, nb)
	}
	_, err := w.Write(out)
	return err
}

// rowBlocks gathers written bytes into chunks of size and hands each to
// emit (the last one possibly shorter, at flush).
type rowBlocks struct {
	size  int64
	buf   []byte
	codes []int8
	done  int64
	emit  func([]byte) error
}

func (b *rowBlocks) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), int(b.size)-len(b.buf))
		b.buf = append(b.buf, p[:k]...)
		p = p[k:]
		if int64(len(b.buf)) == b.size {
			if err := b.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (b *rowBlocks) flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	err := b.emit(b.buf)
	b.buf = b.buf[:0]
	return err
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
