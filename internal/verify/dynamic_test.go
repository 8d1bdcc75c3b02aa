package verify

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// TestFixturesSecondLength runs every built fixture model at a sequence
// length other than the fixture's (and batch 3) and checks that the output
// shape follows and holds no NaN: the exported graphs keep their dynamic
// batch and sequence axes.
func TestFixturesSecondLength(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(fixtures, "*", "config.json"))
	for _, cfg := range dirs {
		dir := filepath.Dir(cfg)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			model, err := Model(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			sess, err := runtime.OpenBytes(model, runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			const batch = 3
			lengths := map[string]int64{} // symbolic dim → size
			size := func(dim string) int64 {
				if dim == "batch" {
					return batch
				}
				if n, ok := lengths[dim]; ok {
					return n
				}
				n := int64(5 + 4*len(lengths)) // seq 5, context_seq 9, …
				lengths[dim] = n
				return n
			}
			r := rand.New(rand.NewPCG(1, 2))
			in := map[string]*runtime.Tensor{}
			for _, info := range sess.Inputs() {
				shape := make([]int64, len(info.Shape))
				n := int64(1)
				for i, d := range info.Shape {
					if d < 0 {
						d = size(info.DimNames[i])
					}
					shape[i] = d
					n *= d
				}
				var err error
				switch info.DType {
				case runtime.Int64:
					v := make([]int64, n)
					for i := range v {
						v[i] = r.Int64N(64)
					}
					in[info.Name], err = runtime.NewInt64(shape, v)
				case runtime.Bool:
					v := make([]bool, n)
					for i := range v {
						v[i] = i%int(shape[len(shape)-1]) < int(shape[len(shape)-1])-1 // last position padded
					}
					in[info.Name], err = runtime.NewBool(shape, v)
				default:
					v := make([]float32, n)
					for i := range v {
						v[i] = float32(r.NormFloat64())
					}
					in[info.Name], err = runtime.NewFloat32(shape, v)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			outs, err := sess.Run(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for _, info := range sess.Outputs() {
				got := outs[info.Name]
				for i, d := range info.Shape {
					want := d
					if d < 0 {
						want = size(info.DimNames[i])
					}
					if got.Shape()[i] != want {
						t.Fatalf("output %s has shape %v, want dim %d (%s) = %d", info.Name, got.Shape(), i, info.DimNames[i], want)
					}
				}
				vals, _ := got.Float32s()
				for _, v := range vals {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("output %s holds %v", info.Name, v)
					}
				}
			}
			if strings.HasPrefix(filepath.Base(dir), "vit") {
				return // images have no sequence axis
			}
			if len(lengths) == 0 {
				t.Fatalf("model inputs %v have no dynamic sequence axis", sess.Inputs())
			}
		})
	}
}
