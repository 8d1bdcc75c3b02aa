package safetensors

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

func TestF16ToFloat32KnownBits(t *testing.T) {
	tests := []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xbc00, -1},
		{0xc100, -2.5},
		{0x4248, 3.140625},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},                  // largest finite
		{0xfbff, -65504},                 // most negative finite
		{0x0400, 6.103515625e-05},        // smallest normal, 2^-14
		{0x0001, 5.960464477539063e-08},  // smallest subnormal, 2^-24
		{0x03ff, 6.097555160522461e-05},  // largest subnormal, 1023 * 2^-24
		{0x8001, -5.960464477539063e-08}, // negative subnormal
		{0x0200, 3.0517578125e-05},       // 2^-15
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		if got := F16ToFloat32(tt.bits); got != tt.want {
			t.Errorf("F16ToFloat32(%#04x) = %v, want %v", tt.bits, got, tt.want)
		}
	}
	if got := F16ToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("F16ToFloat32(0x8000) = %v, want -0", got)
	}
	for _, nan := range []uint16{0x7e00, 0x7c01, 0xfe00, 0x7fff} {
		if got := F16ToFloat32(nan); !math.IsNaN(float64(got)) {
			t.Errorf("F16ToFloat32(%#04x) = %v, want NaN", nan, got)
		}
	}
}

// TestF16ToFloat32Exhaustive compares every half-precision value with the
// textbook formula evaluated in float64.
func TestF16ToFloat32Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		sign, exp, mant := h>>15, int(h>>10)&0x1f, float64(h&0x3ff)
		var want float64
		switch exp {
		case 0x1f:
			want = math.Inf(1)
			if mant != 0 {
				want = math.NaN()
			}
		case 0:
			want = math.Ldexp(mant, -24)
		default:
			want = math.Ldexp(1+mant/1024, exp-15)
		}
		if sign == 1 {
			want = -want
		}
		got := float64(F16ToFloat32(h))
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Fatalf("F16ToFloat32(%#04x) = %v, want NaN", h, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("F16ToFloat32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

func TestBF16ToFloat32KnownBits(t *testing.T) {
	tests := []struct {
		bits uint16
		want float32
	}{
		{0x3f80, 1},
		{0xc020, -2.5},
		{0x4049, 3.140625},
		{0x7f7f, 3.3895313892515355e+38}, // largest finite
		{0x0080, 1.1754943508222875e-38}, // smallest normal, 2^-126
		{0x0001, 9.183549615799121e-41},  // smallest subnormal, 2^-133
		{0x007f, 1.1663108012064884e-38}, // largest subnormal
		{0x7f80, float32(math.Inf(1))},
		{0xff80, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		if got := BF16ToFloat32(tt.bits); got != tt.want {
			t.Errorf("BF16ToFloat32(%#04x) = %v, want %v", tt.bits, got, tt.want)
		}
	}
	if got := BF16ToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("BF16ToFloat32(0x8000) = %v, want -0", got)
	}
	for _, nan := range []uint16{0x7fc0, 0x7f81, 0xffc0} {
		if got := BF16ToFloat32(nan); !math.IsNaN(float64(got)) {
			t.Errorf("BF16ToFloat32(%#04x) = %v, want NaN", nan, got)
		}
	}
}

// TestAccessorConversions reads one small tensor of every convertible dtype
// through every accessor and checks the values or the refusal.
func TestAccessorConversions(t *testing.T) {
	le16 := func(v ...uint16) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint16(b, x)
		}
		return b
	}
	le32 := func(v ...uint32) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, x)
		}
		return b
	}
	tensors := []Tensor{
		F32("f32", []int64{3}, []float32{1.5, -2.25, float32(math.Inf(1))}),
		F64("f64", []int64{3}, []float64{1.5, -2.25, 1e300}),
		{Name: "f16", DType: DTypeF16, Shape: []int64{3}, Data: le16(0x3e00, 0xc080, 0x7c00)},
		{Name: "bf16", DType: DTypeBF16, Shape: []int64{3}, Data: le16(0x3fc0, 0xc010, 0x7f80)},
		I64("i64", []int64{3}, []int64{math.MinInt64, -1, math.MaxInt64}),
		{Name: "i32", DType: DTypeI32, Shape: []int64{3}, Data: le32(0x80000000, 0xffffffff, 7)},
		{Name: "i16", DType: DTypeI16, Shape: []int64{3}, Data: le16(0x8000, 0xffff, 7)},
		{Name: "i8", DType: DTypeI8, Shape: []int64{3}, Data: []byte{0x80, 0xff, 7}},
		U8("u8", []int64{3}, []uint8{0, 1, 255}),
		U8("mask", []int64{3}, []uint8{1, 0, 1}),
		Bool("bool", []int64{3}, []bool{true, false, true}),
		{Name: "badbool", DType: DTypeBool, Shape: []int64{3}, Data: []byte{1, 0, 2}},
		{Name: "u32", DType: DTypeU32, Shape: []int64{1}, Data: le32(7)},
	}
	enc, err := Encode(tensors, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(enc, "conv")
	if err != nil {
		t.Fatal(err)
	}
	inf := math.Inf(1)
	floats := map[string][]float64{
		"f32":  {1.5, -2.25, inf},
		"f64":  {1.5, -2.25, 1e300},
		"f16":  {1.5, -2.25, inf},
		"bf16": {1.5, -2.25, inf},
	}
	ints := map[string][]int64{
		"i64":  {math.MinInt64, -1, math.MaxInt64},
		"i32":  {math.MinInt32, -1, 7},
		"i16":  {math.MinInt16, -1, 7},
		"i8":   {math.MinInt8, -1, 7},
		"u8":   {0, 1, 255},
		"mask": {1, 0, 1},
		"bool": {1, 0, 1},
	}
	bools := map[string][]bool{"mask": {true, false, true}, "bool": {true, false, true}}

	for _, tt := range tensors {
		name := tt.Name
		t.Run(name, func(t *testing.T) {
			f32, err32 := f.Float32s(name)
			f64, err64 := f.Float64s(name)
			if want, ok := floats[name]; ok {
				if err32 != nil || err64 != nil {
					t.Fatalf("Float32s: %v; Float64s: %v", err32, err64)
				}
				if !slices.Equal(f64, want) {
					t.Errorf("Float64s = %v, want %v", f64, want)
				}
				for i := range want {
					if f32[i] != float32(want[i]) {
						t.Errorf("Float32s[%d] = %v, want %v", i, f32[i], float32(want[i]))
					}
				}
			} else {
				checkErr(t, err32, ErrUnsupported, "to float32")
				checkErr(t, err64, ErrUnsupported, "to float64")
			}
			i64, err := f.Int64s(name)
			switch want, ok := ints[name]; {
			case ok:
				if err != nil || !slices.Equal(i64, want) {
					t.Errorf("Int64s = %v, %v, want %v", i64, err, want)
				}
			case name == "badbool":
				checkErr(t, err, ErrValue, `tensor "badbool"`, "element 2 of BOOL tensor is 2")
			default:
				checkErr(t, err, ErrUnsupported, "to int64")
			}
			b, err := f.Bools(name)
			switch want, ok := bools[name]; {
			case ok:
				if err != nil || !slices.Equal(b, want) {
					t.Errorf("Bools = %v, %v, want %v", b, err, want)
				}
			case name == "u8" || name == "badbool":
				checkErr(t, err, ErrValue, "element 2", "want 0 or 1")
			default:
				checkErr(t, err, ErrUnsupported, "to bool")
			}
		})
	}
}

// TestPortableDecoders checks the byte-by-byte decoders used on big-endian
// hosts against the raw-copy fast path used on little-endian ones.
func TestPortableDecoders(t *testing.T) {
	if !littleEndianHost {
		t.Skip("the raw-copy fast path is only used on little-endian hosts")
	}
	src := make([]byte, 64)
	for i := range src {
		src[i] = byte(i*37 + 11)
	}
	f32a, f32b := make([]float32, 16), make([]float32, 16)
	rawCopy(f32a, src)
	decodeF32(f32b, src)
	f64a, f64b := make([]float64, 8), make([]float64, 8)
	rawCopy(f64a, src)
	decodeF64(f64b, src)
	i64a, i64b := make([]int64, 8), make([]int64, 8)
	rawCopy(i64a, src)
	decodeI64(i64b, src)
	for i := range f32a {
		if math.Float32bits(f32a[i]) != math.Float32bits(f32b[i]) {
			t.Fatalf("float32 %d: %#x vs %#x", i, math.Float32bits(f32a[i]), math.Float32bits(f32b[i]))
		}
	}
	for i := range f64a {
		if math.Float64bits(f64a[i]) != math.Float64bits(f64b[i]) || i64a[i] != i64b[i] {
			t.Fatalf("element %d differs", i)
		}
	}
	if want := int64(binary.LittleEndian.Uint64(src[8:])); i64b[1] != want {
		t.Fatalf("decodeI64[1] = %d, want %d", i64b[1], want)
	}
}

func TestDType(t *testing.T) {
	tests := []struct {
		d          DType
		name       string
		size, bits int
	}{
		{DTypeBool, "BOOL", 1, 8},
		{DTypeF4, "F4", 0, 4},
		{DTypeF6E3M2, "F6_E3M2", 0, 6},
		{DTypeU8, "U8", 1, 8},
		{DTypeF8E4M3, "F8_E4M3", 1, 8},
		{DTypeF16, "F16", 2, 16},
		{DTypeBF16, "BF16", 2, 16},
		{DTypeI32, "I32", 4, 32},
		{DTypeF32, "F32", 4, 32},
		{DTypeC64, "C64", 8, 64},
		{DTypeF64, "F64", 8, 64},
		{DTypeI64, "I64", 8, 64},
		{DTypeU64, "U64", 8, 64},
		{0, "DType(0)", 0, 0},
		{200, "DType(200)", 0, 0},
	}
	for _, tt := range tests {
		if tt.d.String() != tt.name || tt.d.Size() != tt.size || tt.d.Bits() != tt.bits {
			t.Errorf("%d: String/Size/Bits = %s/%d/%d, want %s/%d/%d", uint8(tt.d), tt.d, tt.d.Size(), tt.d.Bits(), tt.name, tt.size, tt.bits)
		}
	}
	for d := DTypeBool; d <= maxDType; d++ {
		got, err := ParseDType(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDType(%q) = %v, %v", d.String(), got, err)
		}
		align := func(d DType) int { return max(1, d.Size()) }
		if d > DTypeBool && align(d) < align(d-1) {
			t.Errorf("%s is declared after %s but has smaller alignment; the writer's layout order relies on it", d, d-1)
		}
	}
	_, err := ParseDType("FP32")
	checkErr(t, err, ErrDType, `unknown dtype "FP32"`, "F32")
}
