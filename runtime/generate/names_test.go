package generate

import (
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// TestNamesMatchBuilder checks that the names and metadata keys generation
// reads (kept here and in runtime so that runtime code never imports
// builder) are the ones the builder writes.
func TestNamesMatchBuilder(t *testing.T) {
	for _, tc := range []struct{ here, builder string }{
		{inputTokens, builder.InputTokens},
		{inputMask, builder.InputMask},
		{outputLogits, builder.OutputLogits},
		{runtime.MetaConfig, builder.MetaConfig},
		{runtime.MetaMaxSeqLen, builder.MetaMaxSeqLen},
		{runtime.MetaKVCache, builder.MetaKVCache},
	} {
		if tc.here != tc.builder {
			t.Errorf("generation reads %q where the builder writes %q", tc.here, tc.builder)
		}
	}
}
