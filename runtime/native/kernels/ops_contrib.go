package kernels

// ONNX Runtime contrib operators (domain com.microsoft).
//
// MatMulNBits — onnxruntime docs/ContribOperators.md#com.microsoft.MatMulNBits
//   Y = A · dequantize(B)ᵀ (+ bias). Attributes K, N, block_size
//   (required; block_size a power of two ≥ 16), bits (2, 4 or 8; default
//   4), accuracy_level (0–4; read and ignored: the product is computed in
//   A's precision, float32 for float16/bfloat16 A), weight_prepacked (only
//   0). Inputs A (float32, float64, float16, bfloat16; [..., K]), B (uint8
//   [N, k_blocks, blob_size], k_blocks = ceil(K / block_size), blob_size =
//   block_size·bits/8: the codes of each block along K, packed low bits
//   first), scales (A's type, [N, k_blocks] or [N·k_blocks]), zero_points
//   (optional: uint8 packed like B, [N, ceil(k_blocks·bits/8)] or its
//   flattening, or A's type unpacked [N, k_blocks]; default 2^(bits-1)),
//   g_idx (deprecated; refused when given), bias (optional, [N]).
//   w[k, n] = (code − zero_point) · scale of k's block. A constant B (an
//   initializer) is dequantized once, at the first run, to a float matrix
//   [K, N] that is packed for the GEMM and kept; its bytes count against
//   the tensor budget of that run.

import (
	"fmt"
	"math/bits"
	"sync"

	"gorgonia.org/tensor"
)

// DomainMicrosoft is the domain of ONNX Runtime's contrib operators.
const DomainMicrosoft = "com.microsoft"

func registerContrib(r *Registry) {
	r.Register(OpSpec{Domain: DomainMicrosoft, OpType: "MatMulNBits", Since: 1, MinInputs: 3, MaxInputs: 6, Outputs: 1, Convert: convertMatMulNBits})
	r.SetShape(DomainMicrosoft, "MatMulNBits", shapeMatMulNBits)
}

func shapeMatMulNBits(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	a := in[0].Shape
	if a == nil {
		return []Type{t}, nil
	}
	if len(a) == 0 {
		return nil, fmt.Errorf("input A must have rank ≥ 1, got a scalar")
	}
	k := attrIntOf(n, "K", 0)
	if conflict(a[len(a)-1], Known(k)) {
		return nil, fmt.Errorf("the last dimension of input A, %s, is not K = %d", a[len(a)-1], k)
	}
	t.Shape = append(cloneDims(a[:len(a)-1]), Known(attrIntOf(n, "N", 0)))
	return []Type{t}, nil
}

// nbitsSpec is a MatMulNBits node's attributes.
type nbitsSpec struct {
	k, n, bits, block int
	kBlocks, blob     int
}

func convertMatMulNBits(n *Node) (Kernel, error) {
	a := attrsOf(n)
	a.Required("K")
	a.Required("N")
	a.Required("block_size")
	k, nn := a.Int("K", 0), a.Int("N", 0)
	nbits := a.Int("bits", 4)
	block := a.Int("block_size", 0)
	acc := a.Int("accuracy_level", 0)
	prepacked := a.Int("weight_prepacked", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	const maxDim = 1 << 31
	switch {
	case k < 1 || k > maxDim || nn < 1 || nn > maxDim:
		return nil, fmt.Errorf("attributes K = %d and N = %d must be in [1, 2^31]", k, nn)
	case nbits != 2 && nbits != 4 && nbits != 8:
		return nil, fmt.Errorf("attribute bits = %d: want 2, 4 or 8", nbits)
	case block < 16 || block > maxDim || bits.OnesCount64(uint64(block)) != 1:
		return nil, fmt.Errorf("attribute block_size = %d: want a power of two ≥ 16", block)
	case acc < 0 || acc > 4:
		return nil, fmt.Errorf("attribute accuracy_level = %d: want 0 to 4", acc)
	case prepacked != 0:
		return nil, fmt.Errorf("attribute weight_prepacked = %d: only unpacked weights (0) are supported", prepacked)
	}
	if len(n.Inputs) > 4 && n.Inputs[4] != "" {
		return nil, fmt.Errorf("input g_idx (deprecated) is not supported; quantize without it")
	}
	s := nbitsSpec{k: int(k), n: int(nn), bits: int(nbits), block: int(block)}
	s.kBlocks = (s.k + s.block - 1) / s.block
	s.blob = s.block * s.bits / 8

	// A weight known now is dequantized and packed once, at the first run.
	konst := func(in []*tensor.Dense) bool {
		for i := 1; i <= 3; i++ {
			if c := input(n.Const, i); input(in, i) != c || (c == nil && i < 3) {
				return false
			}
		}
		return true
	}
	var once sync.Once
	var packed *packedB
	var packErr error
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x, bias := in[0], input(in, 5)
		if err := s.check(x, in[1], in[2], input(in, 3), bias); err != nil {
			return nil, err
		}
		var out *tensor.Dense
		var err error
		if konst(in) {
			once.Do(func() {
				var w *tensor.Dense
				if w, packErr = s.dequantize(ec, in[1], in[2], input(in, 3), false); packErr == nil {
					packed = packConst(w)
				}
			})
			if packErr != nil {
				return nil, packErr
			}
			out, err = matmulPacked(ec, x, packed)
		} else {
			var w *tensor.Dense
			if w, err = s.dequantize(ec, in[1], in[2], input(in, 3), true); err != nil {
				return nil, err
			}
			out, err = matmul(ec, x, w)
		}
		if err != nil || bias == nil {
			return one(out, err)
		}
		switch out.Dtype() {
		case tensor.Float32:
			addRows(view[float32](out), view[float32](bias))
		default:
			addRows(view[float64](out), view[float64](bias))
		}
		return one(out, nil)
	}), nil
}

func addRows[T float32 | float64](out, bias []T) {
	for i := range out {
		out[i] += bias[i%len(bias)]
	}
}

// check validates the inputs against the attributes.
func (s nbitsSpec) check(x, b, scales, zp, bias *tensor.Dense) error {
	dt := x.Dtype()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("input A must be float32, float64, float16 or bfloat16, got %s", dtName(dt))
	}
	xs := shapeOf(x)
	if len(xs) == 0 || xs[len(xs)-1] != s.k {
		return fmt.Errorf("input A has shape %v: its last dimension must be K = %d", xs, s.k)
	}
	if b.Dtype() != tensor.Uint8 {
		return fmt.Errorf("input B must be uint8, got %s", dtName(b.Dtype()))
	}
	if want := []int{s.n, s.kBlocks, s.blob}; !equalInts(shapeOf(b), want) {
		return fmt.Errorf("input B has shape %v, want [N, k_blocks, blob_size] = %v (K %d, N %d, bits %d, block_size %d)", shapeOf(b), want, s.k, s.n, s.bits, s.block)
	}
	if scales.Dtype() != dt {
		return fmt.Errorf("scales are %s, A %s: they must match", dtName(scales.Dtype()), dtName(dt))
	}
	if ss := shapeOf(scales); !equalInts(ss, []int{s.n, s.kBlocks}) && !equalInts(ss, []int{s.n * s.kBlocks}) {
		return fmt.Errorf("scales have shape %v, want [N, k_blocks] = [%d %d]", ss, s.n, s.kBlocks)
	}
	if zp != nil {
		zs := shapeOf(zp)
		switch {
		case zp.Dtype() == tensor.Uint8:
			per := (s.kBlocks*s.bits + 7) / 8
			if !equalInts(zs, []int{s.n, per}) && !equalInts(zs, []int{s.n * per}) {
				return fmt.Errorf("packed uint8 zero_points have shape %v, want [N, ceil(k_blocks·bits/8)] = [%d %d]", zs, s.n, per)
			}
		case zp.Dtype() == dt:
			if !equalInts(zs, []int{s.n, s.kBlocks}) && !equalInts(zs, []int{s.n * s.kBlocks}) {
				return fmt.Errorf("zero_points of A's type have shape %v, want [N, k_blocks] = [%d %d]", zs, s.n, s.kBlocks)
			}
		default:
			return fmt.Errorf("zero_points are %s: want uint8 (packed) or A's type %s", dtName(zp.Dtype()), dtName(dt))
		}
	}
	if bias != nil {
		if bias.Dtype() != dt || !equalInts(shapeOf(bias), []int{s.n}) {
			return fmt.Errorf("bias is %s%v, want %s[%d]", dtName(bias.Dtype()), shapeOf(bias), dtName(dt), s.n)
		}
	}
	return nil
}

// code returns the i-th bits-wide code of packed (low bits first).
func code(packed []uint8, i, nbits int) int {
	bit := i * nbits
	return int(packed[bit/8]>>(bit%8)) & (1<<nbits - 1)
}

// dequantize returns the weight as a [K, N] matrix of scales' type. With
// arena it may come from the run's arena; otherwise it is allocated apart
// (to be kept across runs).
func (s nbitsSpec) dequantize(ec *ExecContext, b, scales, zp *tensor.Dense, arena bool) (*tensor.Dense, error) {
	dt := scales.Dtype()
	shape := []int{s.k, s.n}
	if err := ec.check(dt, shape); err != nil {
		return nil, err
	}
	var w *tensor.Dense
	if arena {
		w = ec.allocUninit(dt, shape)
	} else {
		w = alloc(dt, shape)
	}
	codes := view[uint8](b)
	var zf []float64
	if zp != nil && zp.Dtype() != tensor.Uint8 {
		zf = make([]float64, s.n*s.kBlocks)
		if dt == tensor.Float32 {
			for i, v := range view[float32](zp) {
				zf[i] = float64(v)
			}
		} else {
			copy(zf, view[float64](zp))
		}
	}
	var zcodes []uint8
	if zp != nil && zp.Dtype() == tensor.Uint8 {
		zcodes = view[uint8](zp)
	}
	zpPer := (s.kBlocks*s.bits + 7) / 8
	zero := float64(int(1) << (s.bits - 1))
	var sf32 []float32
	var sf64 []float64
	if dt == tensor.Float32 {
		sf32 = view[float32](scales)
	} else {
		sf64 = view[float64](scales)
	}
	w32, w64 := []float32(nil), []float64(nil)
	if dt == tensor.Float32 {
		w32 = view[float32](w)
	} else {
		w64 = view[float64](w)
	}
	ec.parallel(s.n, s.k, func(col int) {
		for blk := range s.kBlocks {
			i := col*s.kBlocks + blk
			z := zero
			switch {
			case zf != nil:
				z = zf[i]
			case zcodes != nil:
				z = float64(code(zcodes[col*zpPer:], blk, s.bits))
			}
			var sc float64
			if sf32 != nil {
				sc = float64(sf32[i])
			} else {
				sc = sf64[i]
			}
			blob := codes[i*s.blob : (i+1)*s.blob]
			for j := 0; j < s.block && blk*s.block+j < s.k; j++ {
				v := (float64(code(blob, j, s.bits)) - z) * sc
				at := (blk*s.block+j)*s.n + col
				if w32 != nil {
					w32[at] = float32(v)
				} else {
					w64[at] = v
				}
			}
		}
	})
	return w, nil
}
