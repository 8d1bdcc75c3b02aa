// Package tensorio moves tensors between safetensors files and runtime
// tensors: model inputs in, model outputs out.
package tensorio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"unsafe"

	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// ReadInputs reads one tensor per model input from f: the tensor named
// prefix + input name (or the bare input name when prefix is empty),
// converted to the dtype the model expects where the conversion is exact
// (a uint8 0/1 mask to bool, int32 ids to int64, float64 to float32 is not
// exact and is refused). Every missing or unconvertible input is reported
// in one error.
func ReadInputs(f *safetensors.File, file, prefix string, inputs []runtime.ValueInfo) (map[string]*runtime.Tensor, error) {
	out := map[string]*runtime.Tensor{}
	var probs []string
	for _, in := range inputs {
		name := prefix + in.Name
		info, ok := f.Info(name)
		if !ok {
			probs = append(probs, fmt.Sprintf("no tensor %q for model input %s (file has: %s)", name, in, strings.Join(f.Names(), ", ")))
			continue
		}
		t, err := convert(f, info, in.DType)
		if err != nil {
			probs = append(probs, fmt.Sprintf("tensor %q for model input %s: %v", name, in, err))
			continue
		}
		out[in.Name] = t
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("inputs %s:\n  %s", file, strings.Join(probs, "\n  "))
	}
	return out, nil
}

func convert(f *safetensors.File, info safetensors.TensorInfo, want runtime.DType) (*runtime.Tensor, error) {
	shape := info.Shape
	switch want {
	case runtime.Float32:
		switch info.DType {
		case safetensors.DTypeF32, safetensors.DTypeF16, safetensors.DTypeBF16:
			v, err := f.Float32s(info.Name)
			if err != nil {
				return nil, err
			}
			return runtime.NewFloat32(shape, v)
		}
	case runtime.Float64:
		if info.DType == safetensors.DTypeF64 || info.DType == safetensors.DTypeF32 {
			v, err := f.Float64s(info.Name)
			if err != nil {
				return nil, err
			}
			return runtime.NewFloat64(shape, v)
		}
	case runtime.Int64:
		switch info.DType {
		case safetensors.DTypeI64, safetensors.DTypeI32, safetensors.DTypeI16, safetensors.DTypeI8, safetensors.DTypeU8:
			v, err := f.Int64s(info.Name)
			if err != nil {
				return nil, err
			}
			return runtime.NewInt64(shape, v)
		}
	case runtime.Bool:
		if info.DType == safetensors.DTypeBool || info.DType == safetensors.DTypeU8 {
			v, err := f.Bools(info.Name)
			if err != nil {
				return nil, err
			}
			return runtime.NewBool(shape, v)
		}
	}
	return nil, fmt.Errorf("stored as %s, model expects %s (no exact conversion)", info.DType, want)
}

// ToSafetensors converts named runtime tensors to safetensors tensors,
// sorted by name, with prefix added to each name.
func ToSafetensors(prefix string, ts map[string]*runtime.Tensor) ([]safetensors.Tensor, error) {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]safetensors.Tensor, 0, len(names))
	for _, n := range names {
		t := ts[n]
		name := prefix + n
		switch t.DType() {
		case runtime.Float32:
			v, _ := t.Float32s()
			out = append(out, safetensors.F32(name, t.Shape(), v))
		case runtime.Float64:
			v, _ := t.Float64s()
			out = append(out, safetensors.F64(name, t.Shape(), v))
		case runtime.Int64:
			v, _ := t.Int64s()
			out = append(out, safetensors.I64(name, t.Shape(), v))
		case runtime.Uint8:
			v, _ := t.Uint8s()
			out = append(out, safetensors.U8(name, t.Shape(), v))
		case runtime.Bool:
			v, _ := t.Bools()
			out = append(out, safetensors.Bool(name, t.Shape(), v))
		case runtime.Float16:
			v, _ := t.Float16Bits()
			out = append(out, safetensors.Tensor{Name: name, DType: safetensors.DTypeF16, Shape: t.Shape(), Data: leBytes(v)})
		case runtime.BFloat16:
			v, _ := t.BFloat16Bits()
			out = append(out, safetensors.Tensor{Name: name, DType: safetensors.DTypeBF16, Shape: t.Shape(), Data: leBytes(v)})
		case runtime.Int32:
			v, _ := t.Int32s()
			out = append(out, safetensors.Tensor{Name: name, DType: safetensors.DTypeI32, Shape: t.Shape(), Data: leBytes(v)})
		case runtime.Int16:
			v, _ := t.Int16s()
			out = append(out, safetensors.Tensor{Name: name, DType: safetensors.DTypeI16, Shape: t.Shape(), Data: leBytes(v)})
		case runtime.Int8:
			v, _ := t.Int8s()
			out = append(out, safetensors.Tensor{Name: name, DType: safetensors.DTypeI8, Shape: t.Shape(), Data: leBytes(v)})
		case runtime.Uint16:
			v, _ := t.Uint16s()
			out = append(out, safetensors.Tensor{Name: name, DType: safetensors.DTypeU16, Shape: t.Shape(), Data: leBytes(v)})
		case runtime.Uint32:
			v, _ := t.Uint32s()
			out = append(out, safetensors.Tensor{Name: name, DType: safetensors.DTypeU32, Shape: t.Shape(), Data: leBytes(v)})
		case runtime.Uint64:
			v, _ := t.Uint64s()
			out = append(out, safetensors.Tensor{Name: name, DType: safetensors.DTypeU64, Shape: t.Shape(), Data: leBytes(v)})
		default:
			return nil, fmt.Errorf("tensor %q: cannot store %s in safetensors yet", n, t.DType())
		}
	}
	return out, nil
}

// leBytes returns the little-endian bytes of v, each element in its own
// width.
func leBytes[T int8 | int16 | int32 | uint16 | uint32 | uint64](v []T) []byte {
	var buf bytes.Buffer
	buf.Grow(len(v) * int(unsafe.Sizeof(T(0))))
	_ = binary.Write(&buf, binary.LittleEndian, v)
	return buf.Bytes()
}
