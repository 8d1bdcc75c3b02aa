package verify

import (
	"context"
	"path/filepath"
	"testing"

	_ "github.com/xt2onnx/xt2onnx/runtime/ort"
)

const fixtures = "../../fixtures/xtransformers-1.9.2"

func TestFoundationFixturesORT(t *testing.T) {
	for _, c := range []string{"dec_basic", "dec_qknorm", "dec_qknorm_dimscale", "dec_qknorm_groups"} {
		for _, inline := range []bool{false, true} {
			r, err := Fixture(context.Background(), filepath.Join(fixtures, c), Options{Inline: inline})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("inline=%v %s", inline, r.Line())
			if !r.Pass {
				t.Errorf("inline=%v: %s", inline, r.Line())
			}
		}
	}
}
