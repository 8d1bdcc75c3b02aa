package safetensors

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xt2onnx/xt2onnx/internal/fuzzutil"
)

// FuzzParse feeds mutated safetensors files to Parse and, when they parse,
// reads every tensor through every accessor: nothing may panic, and every
// accessor must either succeed or return an error.
func FuzzParse(f *testing.F) {
	// Small seeds of every dtype: the fuzzer minimizes each interesting
	// input, which for the fixtures' 27 KB files takes minutes.
	small, err := Encode([]Tensor{
		F32("a", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		F64("b", []int64{2}, []float64{1, -1}),
		I64("c", []int64{1, 2}, []int64{7, -7}),
		U8("d", []int64{3}, []uint8{0, 1, 255}),
		Bool("e", []int64{2}, []bool{true, false}),
	}, map[string]string{"format": "pt"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	// And the fixtures' own files, cut to their header and first tensors.
	seeds, _ := filepath.Glob("../../fixtures/xtransformers-1.9.2/dec_basic/io.safetensors")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b[:min(len(b), 2048)])
		}
	}
	for _, b := range [][]byte{
		nil, []byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"),
		[]byte("\x40\x00\x00\x00\x00\x00\x00\x00{\"x\":{\"dtype\":\"F32\",\"shape\":[1000000000000],\"data_offsets\":[0,4]}}"),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fuzzutil.Watchdog(10*time.Second, "Parse and read")()
		file, err := Parse(data, "fuzz.safetensors")
		if err != nil {
			return
		}
		_ = file.Metadata()
		for _, name := range file.Names() {
			info, ok := file.Info(name)
			if !ok {
				t.Fatalf("Names lists %q, Info does not know it", name)
			}
			b, err := file.Bytes(name)
			if err != nil {
				t.Fatalf("Bytes(%q) of a parsed file: %v", name, err)
			}
			if want := int64(info.DType.Size()) * fuzzElements(info.Shape); int64(len(b)) != want {
				t.Fatalf("%q: %d bytes for %v %v", name, len(b), info.DType, info.Shape)
			}
			_, _ = file.Float32s(name)
			_, _ = file.Float64s(name)
			_, _ = file.Int64s(name)
			_, _ = file.Bools(name)
		}
		_ = file.Close()
	})
}

func fuzzElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}
