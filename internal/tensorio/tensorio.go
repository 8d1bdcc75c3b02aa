// Package tensorio moves tensors between safetensors files and runtime
// tensors: model inputs in, model outputs out.
package tensorio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

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

// safetensorsDTypes maps each runtime dtype safetensors can store to its
// safetensors name.
var safetensorsDTypes = map[runtime.DType]safetensors.DType{
	runtime.Float32:  safetensors.DTypeF32,
	runtime.Float64:  safetensors.DTypeF64,
	runtime.Float16:  safetensors.DTypeF16,
	runtime.BFloat16: safetensors.DTypeBF16,
	runtime.Int8:     safetensors.DTypeI8,
	runtime.Int16:    safetensors.DTypeI16,
	runtime.Int32:    safetensors.DTypeI32,
	runtime.Int64:    safetensors.DTypeI64,
	runtime.Uint8:    safetensors.DTypeU8,
	runtime.Uint16:   safetensors.DTypeU16,
	runtime.Uint32:   safetensors.DTypeU32,
	runtime.Uint64:   safetensors.DTypeU64,
	runtime.Bool:     safetensors.DTypeBool,
}

// ToSafetensors converts named runtime tensors to safetensors tensors,
// sorted by name, with prefix added to each name. Each keeps its own dtype.
func ToSafetensors(prefix string, ts map[string]*runtime.Tensor) ([]safetensors.Tensor, error) {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]safetensors.Tensor, 0, len(names))
	for _, n := range names {
		t := ts[n]
		dt, ok := safetensorsDTypes[t.DType()]
		if !ok {
			return nil, fmt.Errorf("tensor %q: cannot store %s in safetensors yet", n, t.DType())
		}
		out = append(out, safetensors.Tensor{Name: prefix + n, DType: dt, Shape: t.Shape(), Data: leBytes(t.Data())})
	}
	return out, nil
}

// leBytes encodes a slice of fixed-size elements (a runtime.Tensor's
// data) little-endian; bools become one byte each, 0 or 1.
func leBytes(data any) []byte {
	var buf bytes.Buffer
	buf.Grow(binary.Size(data))
	_ = binary.Write(&buf, binary.LittleEndian, data)
	return buf.Bytes()
}
