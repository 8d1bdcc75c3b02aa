package runtime

import (
	"reflect"
	"strings"
	"testing"
)

func TestNewTensorValid(t *testing.T) {
	tests := []struct {
		name  string
		make  func() (*Tensor, error)
		dtype DType
		shape []int64
		n     int
		data  any
	}{
		{"float32", func() (*Tensor, error) { return NewFloat32([]int64{2, 3}, []float32{1, 2, 3, 4, 5, 6}) },
			Float32, []int64{2, 3}, 6, []float32{1, 2, 3, 4, 5, 6}},
		{"float64 scalar", func() (*Tensor, error) { return NewFloat64([]int64{}, []float64{2.5}) },
			Float64, []int64{}, 1, []float64{2.5}},
		{"int64", func() (*Tensor, error) { return NewInt64([]int64{3}, []int64{7, 8, 9}) },
			Int64, []int64{3}, 3, []int64{7, 8, 9}},
		{"int32", func() (*Tensor, error) { return NewInt32([]int64{1, 1}, []int32{-4}) },
			Int32, []int64{1, 1}, 1, []int32{-4}},
		{"int8", func() (*Tensor, error) { return NewInt8([]int64{2}, []int8{-1, 1}) },
			Int8, []int64{2}, 2, []int8{-1, 1}},
		{"int16", func() (*Tensor, error) { return NewInt16([]int64{1}, []int16{300}) },
			Int16, []int64{1}, 1, []int16{300}},
		{"uint8", func() (*Tensor, error) { return NewUint8([]int64{2}, []uint8{0, 255}) },
			Uint8, []int64{2}, 2, []uint8{0, 255}},
		{"uint16", func() (*Tensor, error) { return NewUint16([]int64{1}, []uint16{65535}) },
			Uint16, []int64{1}, 1, []uint16{65535}},
		{"uint32", func() (*Tensor, error) { return NewUint32([]int64{1}, []uint32{1 << 31}) },
			Uint32, []int64{1}, 1, []uint32{1 << 31}},
		{"uint64", func() (*Tensor, error) { return NewUint64([]int64{1}, []uint64{1 << 63}) },
			Uint64, []int64{1}, 1, []uint64{1 << 63}},
		{"bool", func() (*Tensor, error) { return NewBool([]int64{2, 1}, []bool{true, false}) },
			Bool, []int64{2, 1}, 2, []bool{true, false}},
		{"float16", func() (*Tensor, error) { return NewFloat16([]int64{1}, []uint16{0x3c00}) },
			Float16, []int64{1}, 1, []uint16{0x3c00}},
		{"bfloat16", func() (*Tensor, error) { return NewBFloat16([]int64{1}, []uint16{0x3f80}) },
			BFloat16, []int64{1}, 1, []uint16{0x3f80}},
		{"empty with nil data", func() (*Tensor, error) { return NewFloat32([]int64{0, 4}, nil) },
			Float32, []int64{0, 4}, 0, []float32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := tc.make()
			if err != nil {
				t.Fatal(err)
			}
			if x.DType() != tc.dtype {
				t.Errorf("DType() = %v, want %v", x.DType(), tc.dtype)
			}
			if !reflect.DeepEqual(x.Shape(), tc.shape) {
				t.Errorf("Shape() = %v, want %v", x.Shape(), tc.shape)
			}
			if x.NumElements() != tc.n {
				t.Errorf("NumElements() = %d, want %d", x.NumElements(), tc.n)
			}
			if !reflect.DeepEqual(x.Data(), tc.data) {
				t.Errorf("Data() = %#v, want %#v", x.Data(), tc.data)
			}
		})
	}
}

func TestNewTensorErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"too few", second(NewFloat32([]int64{2, 3}, make([]float32, 5))), "runtime: new float32 tensor of shape [2 3]: got 5 values, the shape holds 6"},
		{"too many", second(NewInt64([]int64{}, []int64{1, 2})), "runtime: new int64 tensor of shape []: got 2 values, the shape holds 1"},
		{"negative dim", second(NewBool([]int64{2, -1}, []bool{true})), "dim 1 is negative (-1)"},
		{"overflow", second(NewUint8([]int64{1 << 40, 1 << 40}, nil)), "element count overflows int"},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %q, want it to contain %q", tc.name, tc.err, tc.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestTensorAccessors(t *testing.T) {
	f, _ := NewFloat32([]int64{2}, []float32{1.5, -2})
	got, err := f.Float32s()
	if err != nil || !reflect.DeepEqual(got, []float32{1.5, -2}) {
		t.Errorf("Float32s() = %v, %v", got, err)
	}
	// The accessor returns the tensor's own slice.
	got[0] = 9
	again, _ := f.Float32s()
	if again[0] != 9 {
		t.Errorf("Float32s() copied the data")
	}
	// Shape returns a copy.
	s := f.Shape()
	s[0] = 100
	if f.Shape()[0] != 2 {
		t.Errorf("Shape() exposes the tensor's shape slice")
	}
	wrong := []struct {
		name string
		call func() error
	}{
		{"Int64s", func() error { _, err := f.Int64s(); return err }},
		{"Float64s", func() error { _, err := f.Float64s(); return err }},
		{"Bools", func() error { _, err := f.Bools(); return err }},
		{"Uint8s", func() error { _, err := f.Uint8s(); return err }},
		{"Int32s", func() error { _, err := f.Int32s(); return err }},
		{"Float16Bits", func() error { _, err := f.Float16Bits(); return err }},
	}
	for _, w := range wrong {
		err := w.call()
		if err == nil {
			t.Errorf("%s on a float32 tensor: no error", w.name)
			continue
		}
		if !strings.Contains(err.Error(), "runtime: "+w.name+": tensor float32[2] is float32, not ") {
			t.Errorf("%s: error %q", w.name, err)
		}
	}
	var nilT *Tensor
	if _, err := nilT.Float32s(); err == nil {
		t.Error("Float32s on a nil tensor: no error")
	}
	if got := f.String(); got != "float32[2]" {
		t.Errorf("String() = %q", got)
	}
}

func TestFormatShape(t *testing.T) {
	tests := []struct {
		in   []int64
		want string
	}{
		{nil, "[]"}, {[]int64{2, 17, 64}, "[2 17 64]"}, {[]int64{-1, 5}, "[? 5]"},
	}
	for _, tc := range tests {
		if got := FormatShape(tc.in); got != tc.want {
			t.Errorf("FormatShape(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
