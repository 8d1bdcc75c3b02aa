package ort

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/xt2onnx/xt2onnx/runtime"
)

func init() {
	runtime.Register("ort", open)
}

// CUDAError is returned by Open when Options.CUDA is set but the loaded
// ONNX Runtime library cannot provide the CUDA execution provider.
type CUDAError struct {
	// Library is the loaded ONNX Runtime library and Version its version.
	Library, Version string
	// Err is ONNX Runtime's error.
	Err error
}

// Error explains that the library lacks a usable CUDA provider and what to
// use instead.
func (e *CUDAError) Error() string {
	return fmt.Sprintf("ort: CUDA requested but this ONNX Runtime library (%s, %s) has no usable CUDA execution provider: %v; "+
		"use a GPU build of ONNX Runtime via ONNXRUNTIME_LIB: libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so "+
		"must sit next to its libonnxruntime.so, and the CUDA runtime, cuBLAS and cuDNN versions it was built for must be on the loader path",
		e.Library, e.Version, e.Err)
}

// Unwrap returns ONNX Runtime's error.
func (e *CUDAError) Unwrap() error { return e.Err }

// session is the runtime.Session of the "ort" backend.
type session struct {
	name    string
	inputs  []runtime.ValueInfo
	outputs []runtime.ValueInfo

	guard runtime.RunGuard // Run against Close
	sess  *onnx.DynamicAdvancedSession
}

// open is the backend's runtime.OpenFunc.
func open(src runtime.ModelSource, opts runtime.Options) (runtime.Session, error) {
	name := src.Name()
	switch {
	case opts.IntraOpThreads < 0:
		return nil, fmt.Errorf("ort: open %s: Options.IntraOpThreads is %d; want 0 (library default) or more", name, opts.IntraOpThreads)
	case opts.InterOpThreads < 0:
		return nil, fmt.Errorf("ort: open %s: Options.InterOpThreads is %d; want 0 (library default) or more", name, opts.InterOpThreads)
	case opts.CUDA && opts.CUDADeviceID < 0:
		return nil, fmt.Errorf("ort: open %s: Options.CUDADeviceID is %d; want a GPU index (0 or more)", name, opts.CUDADeviceID)
	case src.Path == "" && len(src.Bytes) == 0:
		return nil, errors.New("ort: open: empty model source")
	}
	lib, err := ensure(opts.LibraryPath)
	if err != nil {
		return nil, err
	}

	inputs, outputs, err := modelInfo(src)
	if err != nil {
		var fe *fileError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("ort: open %s: %w", name, err)
		}
		return nil, ortError("open", name, "", err)
	}
	outputs, err = runtime.SelectOutputs(outputs, opts.OutputNames)
	if err != nil {
		return nil, fmt.Errorf("ort: open %s: %w", name, err)
	}
	for _, o := range outputs {
		if o.DType == runtime.Float16 || o.DType == runtime.BFloat16 {
			return nil, fmt.Errorf("ort: open %s: output %q is %s, and onnxruntime_go v1.27.0 corrupts %s outputs (it copies one byte per element); "+
				"leave it out with Options.OutputNames or cast it to float32 in the model", name, o.Name, o.DType, o.DType)
		}
	}

	so, err := sessionOptions(lib, opts)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()

	inNames := valueNames(inputs)
	outNames := valueNames(outputs)
	var sess *onnx.DynamicAdvancedSession
	if src.Path != "" {
		sess, err = onnx.NewDynamicAdvancedSession(src.Path, inNames, outNames, so)
	} else {
		sess, err = onnx.NewDynamicAdvancedSessionWithONNXData(src.Bytes, inNames, outNames, so)
	}
	if err != nil {
		where := ""
		if opts.CUDA {
			where = fmt.Sprintf(" on CUDA device %d", opts.CUDADeviceID)
		}
		return nil, ortError("open", name+where, "", err)
	}
	if md, err := sess.GetModelMetadata(); err == nil {
		if cfg, ok, err := md.LookupCustomMetadataMap(runtime.MetaConfig); err == nil && ok {
			runtime.SetTokenRanges(inputs, runtime.TokenRanges(cfg))
		}
		_ = md.Destroy()
	}
	return &session{name: name, inputs: inputs, outputs: outputs, sess: sess}, nil
}

// sessionOptions builds the ONNX Runtime session options for opts.
func sessionOptions(lib string, opts runtime.Options) (*onnx.SessionOptions, error) {
	so, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: create session options: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			so.Destroy()
		}
	}()
	if err := so.SetGraphOptimizationLevel(onnx.GraphOptimizationLevelEnableAll); err != nil {
		return nil, fmt.Errorf("ort: set graph optimization level: %w", err)
	}
	// ONNX Runtime fuses DequantizeLinear → MatMul into MatMulNBits and by
	// default (accuracy level 4) quantizes the activations to int8 there:
	// a weight-only quantized model would then compute something else
	// than its graph says (max abs logit error 0.021 instead of 0.012 on
	// preset small, int8). Level 1 keeps the activations float32.
	if err := so.AddSessionConfigEntry("session.qdq_matmulnbits_accuracy_level", "1"); err != nil {
		return nil, fmt.Errorf("ort: set the MatMulNBits accuracy level: %w", err)
	}
	if opts.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(opts.IntraOpThreads); err != nil {
			return nil, fmt.Errorf("ort: Options.IntraOpThreads %d: %w", opts.IntraOpThreads, err)
		}
	}
	if opts.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(opts.InterOpThreads); err != nil {
			return nil, fmt.Errorf("ort: Options.InterOpThreads %d: %w", opts.InterOpThreads, err)
		}
	}
	if opts.CUDA {
		if err := appendCUDA(so, opts.CUDADeviceID); err != nil {
			return nil, &CUDAError{Library: lib, Version: Version(), Err: err}
		}
	}
	ok = true
	return so, nil
}

// appendCUDA adds the CUDA execution provider for device id to so.
func appendCUDA(so *onnx.SessionOptions, id int) error {
	cuda, err := onnx.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer cuda.Destroy()
	if err := cuda.Update(map[string]string{"device_id": strconv.Itoa(id)}); err != nil {
		return err
	}
	return so.AppendExecutionProviderCUDA(cuda)
}

// fileError is a problem with the model file found before ONNX Runtime
// sees it.
type fileError struct{ msg string }

func (e *fileError) Error() string { return e.msg }

// checkModelFile refuses a model path that is not a regular file, which
// ONNX Runtime (and reading the dim names) would block on (a FIFO) or read
// without end (a device).
func checkModelFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &fileError{err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return &fileError{fmt.Sprintf("%s is not a regular file (mode %v)", path, fi.Mode().Type())}
	}
	return nil
}

// modelInfo returns the model's inputs and outputs as ONNX Runtime reports
// them, with dim names read from the ModelProto.
func modelInfo(src runtime.ModelSource) ([]runtime.ValueInfo, []runtime.ValueInfo, error) {
	var ins, outs []onnx.InputOutputInfo
	var err error
	var dimNames map[string]declaredShape
	if src.Path != "" {
		if err := checkModelFile(src.Path); err != nil {
			return nil, nil, err
		}
		if err := checkExternalData(src.Path); err != nil {
			return nil, nil, &fileError{err.Error()}
		}
		// A cheap throw-away session: no graph optimization, one thread.
		so, err := onnx.NewSessionOptions()
		if err != nil {
			return nil, nil, err
		}
		defer so.Destroy()
		_ = so.SetGraphOptimizationLevel(onnx.GraphOptimizationLevelDisableAll)
		_ = so.SetIntraOpNumThreads(1)
		ins, outs, err = onnx.GetInputOutputInfoWithOptions(src.Path, so)
		if err != nil {
			return nil, nil, err
		}
		dimNames = fileDimNames(src.Path)
	} else {
		ins, outs, err = onnx.GetInputOutputInfoWithONNXData(src.Bytes)
		if err != nil {
			return nil, nil, err
		}
		dimNames, _ = readDimNames(bytes.NewReader(src.Bytes), int64(len(src.Bytes)))
	}
	inputs, err := convertInfos(ins, dimNames, "input")
	if err != nil {
		return nil, nil, err
	}
	outputs, err := convertInfos(outs, dimNames, "output")
	if err != nil {
		return nil, nil, err
	}
	return inputs, outputs, nil
}

// fileDimNames reads the declared shapes from the model file; nil when it
// cannot. They refine what ONNX Runtime reports, so a failure here only
// leaves dim names empty.
func fileDimNames(path string) map[string]declaredShape {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	names, err := readDimNames(f, fi.Size())
	if err != nil {
		return nil
	}
	return names
}

// convertInfos turns ONNX Runtime's value infos into runtime.ValueInfo.
// ONNX Runtime reports no dims both for a scalar and for a value whose rank
// the model leaves open; declared tells them apart, and without it (the
// ModelProto could not be read) such a value is taken as of unknown rank.
func convertInfos(infos []onnx.InputOutputInfo, declared map[string]declaredShape, what string) ([]runtime.ValueInfo, error) {
	out := make([]runtime.ValueInfo, len(infos))
	for i, info := range infos {
		if info.OrtValueType != onnx.ONNXTypeTensor {
			return nil, fmt.Errorf("%s %q is a %v; only tensor %ss are supported", what, info.Name, info.OrtValueType, what)
		}
		dt := runtime.DType(info.DataType)
		if dt.Size() == 0 {
			return nil, fmt.Errorf("%s %q has element type %v, which runtime.Tensor cannot hold", what, info.Name, info.DataType)
		}
		v := runtime.ValueInfo{Name: info.Name, DType: dt}
		decl, ok := declared[info.Name]
		if len(info.Dimensions) > 0 || (ok && decl.ranked) {
			v.Shape = slices.Clone([]int64(info.Dimensions))
			if v.Shape == nil {
				v.Shape = []int64{}
			}
			v.DimNames = make([]string, len(v.Shape))
			if len(decl.params) == len(v.Shape) {
				for d, n := range decl.params {
					if v.Shape[d] < 0 {
						v.DimNames[d] = n
					}
				}
			}
		}
		out[i] = v
	}
	return out, nil
}

func valueNames(infos []runtime.ValueInfo) []string {
	names := make([]string, len(infos))
	for i, v := range infos {
		names[i] = v.Name
	}
	return names
}

// Inputs describes the model inputs.
func (s *session) Inputs() []runtime.ValueInfo { return runtime.CloneValueInfos(s.inputs) }

// Outputs describes the outputs Run returns.
func (s *session) Outputs() []runtime.ValueInfo { return runtime.CloneValueInfos(s.outputs) }

// Run checks the inputs, runs the model and returns its outputs.
func (s *session) Run(ctx context.Context, inputs map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	return s.RunInto(ctx, inputs, nil)
}

// RunInto is Run with the outputs named in into bound to those tensors'
// memory: ONNX Runtime writes them in place, and nothing is copied out.
func (s *session) RunInto(ctx context.Context, inputs, into map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	ctx, end, err := s.guard.Begin(ctx, "ort", s.name, s.inputs, inputs)
	if err != nil {
		return nil, err
	}
	defer end()
	if len(s.inputs) == 0 {
		// onnxruntime_go indexes the first input unconditionally.
		return nil, fmt.Errorf("ort: run %s: models without inputs cannot be run through onnxruntime_go; use the native backend", s.name)
	}

	ins := make([]onnx.Value, len(s.inputs))
	outs := make([]onnx.Value, len(s.outputs)) // nil: ONNX Runtime allocates
	defer func() {
		for _, v := range slices.Concat(ins, outs) {
			destroy(v)
		}
	}()
	for i, info := range s.inputs {
		v, err := toORT(inputs[info.Name])
		if err != nil {
			return nil, fmt.Errorf("ort: run %s: input %q (%s): %w", s.name, info.Name, inputs[info.Name], err)
		}
		ins[i] = v
	}
	bound := 0
	for i, info := range s.outputs {
		t, ok := into[info.Name]
		if !ok {
			continue
		}
		if t == nil || t.DType() != info.DType {
			return nil, fmt.Errorf("ort: run %s: output %q: the tensor to write it into is %v, want %s", s.name, info.Name, t, info.DType)
		}
		v, err := toORT(t)
		if err != nil {
			return nil, fmt.Errorf("ort: run %s: output %q (%s): %w", s.name, info.Name, t, err)
		}
		outs[i] = v
		bound++
	}
	if bound != len(into) {
		return nil, fmt.Errorf("ort: run %s: RunInto names outputs the session does not return (have %s)", s.name, strings.Join(valueNames(s.outputs), ", "))
	}

	var ro *onnx.RunOptions
	if ctx.Done() != nil {
		var err error
		if ro, err = onnx.NewRunOptions(); err != nil {
			return nil, fmt.Errorf("ort: run %s: create run options: %w", s.name, err)
		}
		var roMu sync.Mutex
		stop := context.AfterFunc(ctx, func() {
			roMu.Lock()
			defer roMu.Unlock()
			if ro != nil {
				_ = ro.Terminate()
			}
		})
		defer func() {
			stop()
			roMu.Lock()
			defer roMu.Unlock()
			ro.Destroy()
			ro = nil
		}()
	}

	if err := s.sess.RunWithOptions(ins, outs, ro); err != nil {
		if ctx.Err() != nil {
			// ONNX Runtime stopped on the terminate flag: say why.
			return nil, fmt.Errorf("ort: run %s: %w", s.name, context.Cause(ctx))
		}
		if errors.Is(err, onnx.ZeroShapeLengthError) {
			return nil, fmt.Errorf("ort: run %s: an output is a scalar (rank 0), and onnxruntime_go v1.27.0 cannot return scalar outputs; reshape it to [1] in the model: %w", s.name, err)
		}
		return nil, ortError("run", s.name, runtime.DescribeInputs(s.inputs, inputs), err)
	}

	result := make(map[string]*runtime.Tensor, len(outs))
	for i, v := range outs {
		if t, ok := into[s.outputs[i].Name]; ok {
			result[s.outputs[i].Name] = t
			continue
		}
		t, err := fromORT(v)
		if err != nil {
			return nil, fmt.Errorf("ort: run %s: output %q: %w", s.name, s.outputs[i].Name, err)
		}
		result[s.outputs[i].Name] = t
	}
	return result, nil
}

// Close releases the ONNX Runtime session; it waits for runs in flight and
// is safe to call more than once.
func (s *session) Close() error {
	return s.guard.Close(func() error {
		err := s.sess.Destroy()
		s.sess = nil
		if err != nil {
			return fmt.Errorf("ort: close %s: %w", s.name, err)
		}
		return nil
	})
}

// destroy releases v. It accepts nil and typed-nil values, which
// onnxruntime_go leaves in the outputs slice when converting an output
// fails.
func destroy(v onnx.Value) {
	if v == nil {
		return
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return
	}
	_ = v.Destroy()
}

// newValue wraps data (not copied) in an ONNX Runtime value.
func newValue[T onnx.TensorData](shape []int64, data []T) (onnx.Value, error) {
	if len(shape) == 0 {
		v, err := onnx.NewScalar(data[0])
		if err != nil {
			return nil, err
		}
		return v, nil
	}
	v, err := onnx.NewTensor(onnx.Shape(shape), data)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// toORT wraps t's data (not copied) in an ONNX Runtime value.
func toORT(t *runtime.Tensor) (onnx.Value, error) {
	shape := t.Shape()
	switch d := t.Data().(type) {
	case []float32:
		return newValue(shape, d)
	case []float64:
		return newValue(shape, d)
	case []int8:
		return newValue(shape, d)
	case []int16:
		return newValue(shape, d)
	case []int32:
		return newValue(shape, d)
	case []int64:
		return newValue(shape, d)
	case []uint8:
		return newValue(shape, d)
	case []uint32:
		return newValue(shape, d)
	case []uint64:
		return newValue(shape, d)
	case []bool:
		return newValue(shape, d)
	case []uint16:
		switch t.DType() {
		case runtime.Uint16:
			return newValue(shape, d)
		case runtime.Float16, runtime.BFloat16:
			if len(shape) == 0 || len(d) == 0 {
				return nil, fmt.Errorf("onnxruntime_go v1.27.0 cannot pass a %s tensor of shape %s (scalar or empty)", t.DType(), runtime.FormatShape(shape))
			}
			b := unsafe.Slice((*byte)(unsafe.Pointer(&d[0])), 2*len(d))
			v, err := onnx.NewCustomDataTensor(onnx.Shape(shape), b, onnx.TensorElementDataType(t.DType()))
			if err != nil {
				return nil, err
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("unsupported tensor %s", t)
}

// fromORT converts an ONNX Runtime output to a runtime.Tensor, taking over
// its Go-allocated data slice.
func fromORT(v onnx.Value) (*runtime.Tensor, error) {
	shape := []int64(v.GetShape())
	switch o := v.(type) {
	case *onnx.Tensor[float32]:
		return runtime.NewFloat32(shape, o.GetData())
	case *onnx.Tensor[float64]:
		return runtime.NewFloat64(shape, o.GetData())
	case *onnx.Tensor[int8]:
		return runtime.NewInt8(shape, o.GetData())
	case *onnx.Tensor[int16]:
		return runtime.NewInt16(shape, o.GetData())
	case *onnx.Tensor[int32]:
		return runtime.NewInt32(shape, o.GetData())
	case *onnx.Tensor[int64]:
		return runtime.NewInt64(shape, o.GetData())
	case *onnx.Tensor[uint8]:
		return runtime.NewUint8(shape, o.GetData())
	case *onnx.Tensor[uint16]:
		return runtime.NewUint16(shape, o.GetData())
	case *onnx.Tensor[uint32]:
		return runtime.NewUint32(shape, o.GetData())
	case *onnx.Tensor[uint64]:
		return runtime.NewUint64(shape, o.GetData())
	case *onnx.Tensor[bool]:
		return runtime.NewBool(shape, o.GetData())
	}
	return nil, fmt.Errorf("unsupported ONNX Runtime value %T (%v)", v, v.GetONNXType())
}
