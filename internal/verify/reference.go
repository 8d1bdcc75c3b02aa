package verify

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/xt2onnx/xt2onnx/internal/safetensors"
)

// IOFile is the name of a reference folder's inputs-and-outputs file.
const IOFile = "io.safetensors"

// Reference is a reference io.safetensors: the model inputs
// ("input.<name>"), PyTorch's float64 output ("output_f64", the reference)
// and float32 output ("output", PyTorch's own float32 error), and for
// decoders a greedy generation ("gen.start", "gen.out" and optionally
// "gen.margin", the float64 gap between the best and second-best logit at
// each step). python/xt2onnx_ref writes it; fixtures/ holds such folders.
type Reference struct {
	// Path is the io.safetensors file.
	Path string
	f    *safetensors.File

	// Want is output_f64, of shape WantShape.
	Want      []float64
	WantShape []int64
	// TorchF32MaxAbsDiff is max |output − output_f64|: the float32 noise
	// floor of this model; 0 when the file has no "output".
	TorchF32MaxAbsDiff float64

	// GenStart and GenOut are the greedy generation (rows of tokens),
	// GenMargin its per-step float64 margins; nil when absent.
	GenStart, GenOut [][]int64
	GenMargin        [][]float64
	// GenSrc and GenSrcMask are an XTransformer generation's source and
	// its mask (true: keep); nil for decoder-only references.
	GenSrc     [][]int64
	GenSrcMask [][]bool
	// GenVecStart ([b, t, dim_in]), GenVecOut ([b, steps, dim_out],
	// PyTorch's float32) and GenVecOut64 (float64) are a
	// ContinuousAutoregressiveWrapper generation; nil for token references.
	GenVecStart              []float32
	GenVecOut, GenVecOut64   []float64
	GenVecShape, GenOutShape []int64
}

// OpenReference opens the reference at path: an io.safetensors file or the
// folder holding one. Close it when done.
func OpenReference(path string) (*Reference, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, IOFile)
	} else if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reference %s: no such file or folder (give a reference io.safetensors or the folder holding it)", path)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	r := &Reference{Path: path, f: f}
	if err := r.load(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func (r *Reference) load() error {
	info, ok := r.f.Info("output_f64")
	if !ok {
		return fmt.Errorf("reference %s has no tensor \"output_f64\" (PyTorch's float64 output; has %s): make it with python/xt2onnx_ref", r.Path, strings.Join(r.f.Names(), ", "))
	}
	var err error
	if r.Want, err = r.f.Float64s("output_f64"); err != nil {
		return fmt.Errorf("reference %s: %w", r.Path, err)
	}
	r.WantShape = info.Shape
	if f32, err := r.f.Float64s("output"); err == nil && len(f32) == len(r.Want) {
		for i := range r.Want {
			r.TorchF32MaxAbsDiff = max(r.TorchF32MaxAbsDiff, math.Abs(f32[i]-r.Want[i]))
		}
	}
	if info, ok := r.f.Info("gen.start"); ok && len(info.Shape) == 3 {
		return r.loadVectors(info.Shape)
	}
	if _, ok := r.f.Info("gen.start"); ok {
		if r.GenStart, err = r.intRows("gen.start"); err != nil {
			return err
		}
		if r.GenOut, err = r.intRows("gen.out"); err != nil {
			return err
		}
		if len(r.GenOut) != len(r.GenStart) {
			return fmt.Errorf("reference %s: gen.out has %d rows, gen.start %d", r.Path, len(r.GenOut), len(r.GenStart))
		}
		if _, ok := r.f.Info("gen.src"); ok {
			if r.GenSrc, err = r.intRows("gen.src"); err != nil {
				return err
			}
			bits, err := r.f.Bools("gen.src_mask")
			if err != nil {
				return fmt.Errorf("reference %s: gen.src_mask: %w", r.Path, err)
			}
			if len(r.GenSrc) != len(r.GenStart) || len(bits) != len(r.GenSrc)*len(r.GenSrc[0]) {
				return fmt.Errorf("reference %s: gen.src and gen.src_mask must have one row per gen.start row, of one length", r.Path)
			}
			n := len(r.GenSrc[0])
			for i := range r.GenSrc {
				r.GenSrcMask = append(r.GenSrcMask, bits[i*n:(i+1)*n])
			}
		}
		if _, ok := r.f.Info("gen.margin"); ok {
			v, err := r.f.Float64s("gen.margin")
			if err != nil {
				return fmt.Errorf("reference %s: %w", r.Path, err)
			}
			steps := len(r.GenOut[0])
			if len(v) != len(r.GenOut)*steps {
				return fmt.Errorf("reference %s: gen.margin has %d values, gen.out %d tokens", r.Path, len(v), len(r.GenOut)*steps)
			}
			for i := range r.GenOut {
				r.GenMargin = append(r.GenMargin, v[i*steps:(i+1)*steps])
			}
		}
	}
	return nil
}

// loadVectors reads a continuous generation: gen.start [b, t, dim_in],
// gen.out and gen.out_f64 [b, steps, dim_out].
func (r *Reference) loadVectors(start []int64) error {
	var err error
	if r.GenVecStart, err = r.f.Float32s("gen.start"); err != nil {
		return fmt.Errorf("reference %s: %w", r.Path, err)
	}
	info, ok := r.f.Info("gen.out_f64")
	if !ok || len(info.Shape) != 3 || info.Shape[0] != start[0] {
		return fmt.Errorf("reference %s: a 3-D gen.start needs gen.out_f64 [%d steps dim_out] (ContinuousAutoregressiveWrapper.generate in float64)", r.Path, start[0])
	}
	if r.GenVecOut64, err = r.f.Float64s("gen.out_f64"); err != nil {
		return fmt.Errorf("reference %s: %w", r.Path, err)
	}
	if r.GenVecOut, err = r.f.Float64s("gen.out"); err != nil || len(r.GenVecOut) != len(r.GenVecOut64) {
		return fmt.Errorf("reference %s: gen.out must be PyTorch's float32 generation, shaped as gen.out_f64 (%v)", r.Path, err)
	}
	r.GenVecShape, r.GenOutShape = start, info.Shape
	return nil
}

// intRows reads a 2-D integer tensor as rows.
func (r *Reference) intRows(name string) ([][]int64, error) {
	info, ok := r.f.Info(name)
	if !ok || len(info.Shape) != 2 {
		return nil, fmt.Errorf("reference %s has no 2-D tensor %q", r.Path, name)
	}
	v, err := r.f.Int64s(name)
	if err != nil {
		return nil, fmt.Errorf("reference %s: %w", r.Path, err)
	}
	out := make([][]int64, info.Shape[0])
	n := int(info.Shape[1])
	for i := range out {
		out[i] = v[i*n : (i+1)*n]
	}
	return out, nil
}

// HasInput reports whether the reference holds input name.
func (r *Reference) HasInput(name string) bool {
	_, ok := r.f.Info("input." + name)
	return ok
}

// Close releases the file.
func (r *Reference) Close() error { return r.f.Close() }
