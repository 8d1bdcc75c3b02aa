package kernels

import (
	"fmt"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

// runNBits builds a com.microsoft MatMulNBits node and runs it twice: once
// with every input computed at run time, once with B, scales and
// zero_points constant (the dequantized weight cached across runs, run
// twice); the three results must agree.
func runNBits(t *testing.T, attrs []graph.Attr, in []*tensor.Dense) (*tensor.Dense, error) {
	t.Helper()
	s, err := DefaultRegistry().Lookup(DomainMicrosoft, "MatMulNBits", 1)
	if err != nil {
		t.Fatal(err)
	}
	n := &graph.Node{Name: "n", Domain: DomainMicrosoft, OpType: "MatMulNBits", Attrs: attrs, Outputs: []string{"y"}}
	for i, x := range in {
		name := fmt.Sprintf("in%d", i)
		if x == nil {
			name = ""
		}
		n.Inputs = append(n.Inputs, name)
	}
	k, err := s.NewKernel(&Node{Node: n, Opset: 1, Const: make([]*tensor.Dense, len(in))})
	if err != nil {
		return nil, err
	}
	got, err := k(nil, in)
	if err != nil {
		return nil, err
	}
	konst := make([]*tensor.Dense, len(in))
	copy(konst[1:min(4, len(in))], in[1:min(4, len(in))])
	kc, err := s.NewKernel(&Node{Node: n, Opset: 1, Const: konst})
	if err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		c, err := kc(&ExecContext{}, in)
		if err != nil {
			t.Fatalf("constant weight, run %d: %v", run, err)
		}
		if err := sameValues(c[0], got[0], 0); err != nil {
			t.Fatalf("constant weight, run %d: %v (%v, computed weight %v)", run, err, dump(c[0]), dump(got[0]))
		}
	}
	return got[0], nil
}

func nbitsAttrs(k, n, bits, block int64) []graph.Attr {
	return []graph.Attr{graph.AInt("K", k), graph.AInt("N", n), graph.AInt("bits", bits), graph.AInt("block_size", block), graph.AInt("accuracy_level", 1)}
}

// fill returns n bytes of v.
func fill(n int, v uint8) []uint8 {
	b := make([]uint8, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// TestMatMulNBits checks the kernel against products worked by hand: the
// order of the codes in a byte (low bits first), B's [N, k_blocks,
// blob_size] layout (column-major weight), the default zero point
// 2^(bits-1), packed zero points, a partial last block and the bias.
func TestMatMulNBits(t *testing.T) {
	// K 18, N 2, 4 bits, blocks of 16: B is [2, 2, 8], all codes 8 (zero)
	// but for w[0,0] = (10-8)·0.5 = 1 and w[1,0] = (9-8)·0.5 = 0.5 (byte
	// 0x9A, low nibble first), w[16,0] = (15-8)·2 = 14 and w[17,0] =
	// (7-8)·2 = -2 (second block, byte 0x7F) and w[3,1] = (3-8)·1 = -5
	// (column 1, byte 1's high nibble).
	b4 := fill(2*2*8, 0x88)
	b4[0] = 0x9A
	b4[8] = 0x7F
	b4[16+1] = 0x38
	scales := f32([]int{2, 2}, 0.5, 2, 1, 1)
	a := make([]float32, 18)
	a[0], a[1], a[3], a[16], a[17] = 1, 2, 3, 4, 5
	x := f32([]int{1, 18}, a...)
	B := u8([]int{2, 2, 8}, b4...)

	// 8 bits: K 16, N 1, codes 130 and 126 around the default 128.
	b8 := fill(16, 128)
	b8[0], b8[1] = 130, 126
	// 2 bits: byte 0xE4 holds codes 0, 1, 2, 3 (low bits first), zero 2.
	b2 := fill(4, 0xAA)
	b2[0] = 0xE4
	a16 := make([]float32, 16)
	a16[0], a16[1], a16[2], a16[3] = 1, 10, 100, 1000

	for _, tc := range []struct {
		name  string
		attrs []graph.Attr
		in    []*tensor.Dense
		want  *tensor.Dense
	}{
		// y0 = 1·1 + 2·0.5 + 4·14 + 5·(-2) = 48; y1 = 3·(-5) = -15.
		{"4 bits, default zero point", nbitsAttrs(18, 2, 4, 16), []*tensor.Dense{x, B, scales}, f32([]int{1, 2}, 48, -15)},
		{"flat scales", nbitsAttrs(18, 2, 4, 16), []*tensor.Dense{x, B, f32([]int{4}, 0.5, 2, 1, 1)}, f32([]int{1, 2}, 48, -15)},
		// Zero points 8 and 9 for column 0 (byte 0x98): w[16,0] = (15-9)·2
		// = 12, w[17,0] = (7-9)·2 = -4, so y0 = 1 + 1 + 48 - 20 = 30.
		{"packed zero points", nbitsAttrs(18, 2, 4, 16), []*tensor.Dense{x, B, scales, u8([]int{2, 1}, 0x98, 0x88)}, f32([]int{1, 2}, 30, -15)},
		{"float zero points", nbitsAttrs(18, 2, 4, 16), []*tensor.Dense{x, B, scales, f32([]int{2, 2}, 8, 9, 8, 8)}, f32([]int{1, 2}, 30, -15)},
		{"bias", nbitsAttrs(18, 2, 4, 16), []*tensor.Dense{x, B, scales, nil, nil, f32(nil, 0.5, -1)}, f32([]int{1, 2}, 48.5, -16)},
		{"batch of rows", nbitsAttrs(18, 2, 4, 16), []*tensor.Dense{f32([]int{2, 1, 18}, append(append([]float32{}, a...), a...)...), B, scales}, f32([]int{2, 1, 2}, 48, -15, 48, -15)},
		// y = 2·(130-128)·0.25 + 4·(126-128)·0.25 = 1 - 2.
		{"8 bits", nbitsAttrs(16, 1, 8, 16), []*tensor.Dense{f32([]int{1, 16}, append([]float32{2, 4}, make([]float32, 14)...)...), u8([]int{1, 1, 16}, b8...), f32([]int{1, 1}, 0.25)}, f32([]int{1, 1}, -1)},
		// y = 1·(-2) + 10·(-1) + 100·0 + 1000·1.
		{"2 bits", nbitsAttrs(16, 1, 2, 16), []*tensor.Dense{f32([]int{1, 16}, a16...), u8([]int{1, 1, 4}, b2...), f32([]int{1}, 1)}, f32([]int{1, 1}, 988)},
		{"float64", nbitsAttrs(16, 1, 2, 16), []*tensor.Dense{f64([]int{1, 16}, 1, 10, 100, 1000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), u8([]int{1, 1, 4}, b2...), f64([]int{1}, 1)}, f64([]int{1, 1}, 988)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runNBits(t, tc.attrs, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameValues(got, tc.want, 1e-6); err != nil {
				t.Fatalf("%v: got %v %v, want %v %v", err, got.Shape(), dump(got), tc.want.Shape(), dump(tc.want))
			}
		})
	}
}

func TestMatMulNBitsRefuses(t *testing.T) {
	x := f32([]int{1, 16}, make([]float32, 16)...)
	B := u8([]int{1, 1, 8}, fill(8, 0x88)...)
	sc1 := f32([]int{1, 1}, 1)
	for _, tc := range []struct {
		name  string
		attrs []graph.Attr
		in    []*tensor.Dense
		want  string
	}{
		{"3 bits", nbitsAttrs(16, 1, 3, 16), []*tensor.Dense{x, B, sc1}, "want 2, 4 or 8"},
		{"block 8", nbitsAttrs(16, 1, 4, 8), []*tensor.Dense{x, B, sc1}, "power of two ≥ 16"},
		{"block 24", nbitsAttrs(16, 1, 4, 24), []*tensor.Dense{x, B, sc1}, "power of two ≥ 16"},
		{"no K", []graph.Attr{graph.AInt("N", 1), graph.AInt("block_size", 16)}, []*tensor.Dense{x, B, sc1}, `"K" is missing`},
		{"prepacked", append(nbitsAttrs(16, 1, 4, 16), graph.AInt("weight_prepacked", 1)), []*tensor.Dense{x, B, sc1}, "weight_prepacked"},
		{"g_idx", nbitsAttrs(16, 1, 4, 16), []*tensor.Dense{x, B, sc1, nil, i32([]int{16}, make([]int32, 16)...)}, "g_idx"},
		{"B of the wrong shape", nbitsAttrs(16, 1, 4, 16), []*tensor.Dense{x, u8([]int{1, 8}, fill(8, 0x88)...), sc1}, "want [N, k_blocks, blob_size] = [1 1 8]"},
		{"A of the wrong width", nbitsAttrs(16, 1, 4, 16), []*tensor.Dense{f32([]int{1, 8}, make([]float32, 8)...), B, sc1}, "must be K = 16"},
		{"scales of the wrong shape", nbitsAttrs(16, 1, 4, 16), []*tensor.Dense{x, B, f32([]int{2}, 1, 1)}, "scales have shape [2]"},
		{"scales of another type", nbitsAttrs(16, 1, 4, 16), []*tensor.Dense{x, B, f64([]int{1, 1}, 1)}, "must match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runNBits(t, tc.attrs, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A constant weight larger than the tensor budget is refused with a
// budget error, not allocated.
func TestMatMulNBitsBudget(t *testing.T) {
	s, _ := DefaultRegistry().Lookup(DomainMicrosoft, "MatMulNBits", 1)
	B := u8([]int{64, 1, 8}, fill(64*8, 0x88)...)
	sc := f32([]int{64, 1}, make([]float32, 64)...)
	n := &graph.Node{Name: "n", Domain: DomainMicrosoft, OpType: "MatMulNBits", Attrs: nbitsAttrs(16, 64, 4, 16), Inputs: []string{"a", "b", "s"}, Outputs: []string{"y"}}
	k, err := s.NewKernel(&Node{Node: n, Opset: 1, Const: []*tensor.Dense{nil, B, sc}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k(&ExecContext{MaxTensorBytes: 1024}, []*tensor.Dense{f32([]int{1, 16}, make([]float32, 16)...), B, sc})
	if err == nil || !strings.Contains(err.Error(), "tensor budget") {
		t.Fatalf("error %v, want a budget error (a 16×64 float32 weight is 4 KiB > 1 KiB)", err)
	}
}

// The shape rule keeps A's leading dimensions (named ones too) and puts N
// last; a known last dimension other than K is an error.
func TestMatMulNBitsShape(t *testing.T) {
	s, _ := DefaultRegistry().Lookup(DomainMicrosoft, "MatMulNBits", 1)
	n := &Node{Node: &graph.Node{Name: "n", Domain: DomainMicrosoft, OpType: "MatMulNBits", Attrs: nbitsAttrs(64, 10, 4, 32)}, Opset: 1}
	a := Type{DType: graph.Float, Shape: []Dim{{Expr: "batch"}, {Expr: "seq"}, Known(64)}}
	out, err := s.Shape(n, []Type{a, {}, {}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].String(); got != "float32[batch seq 10]" {
		t.Errorf("output %s, want float32[batch seq 10]", got)
	}
	a.Shape[2] = Known(63)
	if _, err := s.Shape(n, []Type{a, {}, {}}); err == nil || !strings.Contains(err.Error(), "is not K = 64") {
		t.Errorf("error %v, want one saying the last dimension is not K", err)
	}
}
