package safetensors

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const fixtureDir = "../../fixtures/xtransformers-1.9.2"

func fixtureFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*", "*.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d fixture files under %s, want the x-transformers fixtures", len(files), fixtureDir)
	}
	return files
}

// TestFixturesOpenAll opens every fixture, reads every tensor through the
// accessor for its dtype, and checks that re-encoding reproduces the file
// byte for byte (the fixtures were written by the reference implementation).
func TestFixturesOpenAll(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			names := f.Names()
			if len(names) == 0 || !slices.IsSorted(names) {
				t.Fatalf("Names() = %q, want non-empty and sorted", names)
			}
			var tensors []Tensor
			var total int
			for _, name := range names {
				info, ok := f.Info(name)
				if !ok || info.Name != name {
					t.Fatalf("Info(%q) = %+v, %v", name, info, ok)
				}
				data, err := f.Bytes(name)
				if err != nil {
					t.Fatal(err)
				}
				size, err := byteSize(info.DType, info.Shape)
				if err != nil || int64(len(data)) != size {
					t.Fatalf("%s: %d bytes for %s %v (size %d, %v)", name, len(data), info.DType, info.Shape, size, err)
				}
				total += len(data)
				var n int
				switch info.DType {
				case DTypeF32:
					v, err := f.Float32s(name)
					if err != nil {
						t.Fatal(err)
					}
					n = len(v)
					for i, x := range v {
						if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
							t.Fatalf("%s[%d] = %v, want finite", name, i, x)
						}
					}
				case DTypeF64:
					v, err := f.Float64s(name)
					if err != nil {
						t.Fatal(err)
					}
					n = len(v)
				case DTypeI64:
					v, err := f.Int64s(name)
					if err != nil {
						t.Fatal(err)
					}
					n = len(v)
				case DTypeU8:
					v, err := f.Bools(name) // the fixtures' U8 tensors are masks
					if err != nil {
						t.Fatal(err)
					}
					n = len(v)
				default:
					t.Fatalf("%s: unexpected dtype %s in fixtures", name, info.DType)
				}
				if want := numElements(info.Shape); n != want {
					t.Fatalf("%s: %d elements, want %d for shape %v", name, n, want, info.Shape)
				}
				tensors = append(tensors, Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: data})
			}
			if headerLen := len(raw) - total - 8; headerLen%8 != 0 {
				t.Errorf("header length %d not a multiple of 8", headerLen)
			}
			enc, err := Encode(tensors, f.Metadata())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, raw) {
				t.Errorf("Encode of the file's own tensors differs from the reference file (%d vs %d bytes)", len(enc), len(raw))
			}
			p, err := Parse(raw, path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Names(), names) {
				t.Errorf("Parse names %q differ from Open names %q", p.Names(), names)
			}
		})
	}
}

func numElements(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// TestFixtureValues checks known values, dumped independently from the
// fixture files.
func TestFixtureValues(t *testing.T) {
	tests := []struct {
		file, tensor string
		dtype        DType
		shape        []int64
		head         []float64 // leading elements
		last         float64
	}{
		{"dec_basic/model.safetensors", "token_emb.emb.weight", DTypeF32, []int64{64, 32},
			[]float64{0.03523571789264679, -0.16392521560192108, 0.17378196120262146, -0.230285182595253}, -0.20023828744888306},
		{"dec_basic/model.safetensors", "norm.weight", DTypeF32, []int64{32},
			[]float64{1.0184307098388672, 0.7458563446998596, 1.0200321674346924, 0.7297766208648682}, 1.0915682315826416},
		{"dec_basic/model.safetensors", "to_logits.bias", DTypeF32, []int64{64},
			[]float64{-0.012251308187842369, 0.16923871636390686, -0.0965859591960907, -0.16627615690231323}, 0.10736044496297836},
		{"dec_basic/io.safetensors", "input.x", DTypeI64, []int64{2, 17},
			[]float64{45, 9, 61, 30, 14, 35, 12, 40, 14, 27, 35, 53, 24, 4, 13, 5, 62,
				61, 23, 29, 31, 12, 38, 56, 60, 21, 1, 0, 18, 4, 37, 12, 49, 40}, 40},
		{"dec_basic/io.safetensors", "gen.start", DTypeI64, []int64{2, 4}, []float64{3, 20, 49, 41, 5, 26, 8, 19}, 19},
		{"dec_basic/io.safetensors", "gen.out", DTypeI64, []int64{2, 8},
			[]float64{55, 55, 18, 26, 31, 1, 2, 21, 10, 31, 60, 58, 34, 32, 21, 32}, 32},
		{"dec_basic/io.safetensors", "output_f64", DTypeF64, []int64{2, 17, 64},
			[]float64{0.6394384423367699, -0.15314112287005333, 0.7305115751622818, -0.7603325498133375}, 0.7345972940821676},
		{"dec_basic/io.safetensors", "output", DTypeF32, []int64{2, 17, 64},
			[]float64{0.6394383311271667, -0.15314099192619324, 0.7305115461349487, -0.7603326439857483}, 0.7345975041389465},
		{"continuous_enc/io.safetensors", "input.x", DTypeF32, []int64{2, 15, 8},
			[]float64{-0.15073338150978088, 0.8037084937095642}, 0.468298077583313},
		{"enc_dec/io.safetensors", "input.src_mask", DTypeU8, []int64{2, 17},
			[]float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, 0},
		{"continuous_enc/io.safetensors", "input.mask", DTypeU8, []int64{2, 15},
			[]float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file+":"+tt.tensor, func(t *testing.T) {
			f, err := Open(filepath.Join(fixtureDir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, ok := f.Info(tt.tensor)
			if !ok {
				t.Fatalf("tensor %q missing; have %q", tt.tensor, f.Names())
			}
			if info.DType != tt.dtype || !slices.Equal(info.Shape, tt.shape) {
				t.Fatalf("Info = %s %v, want %s %v", info.DType, info.Shape, tt.dtype, tt.shape)
			}
			var got []float64
			switch tt.dtype {
			case DTypeF32:
				v, err := f.Float32s(tt.tensor)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range v {
					got = append(got, float64(x))
				}
				// float32 fixtures: expected values are float32s printed exactly.
				for i := range tt.head {
					tt.head[i] = float64(float32(tt.head[i]))
				}
				tt.last = float64(float32(tt.last))
			case DTypeF64:
				got, err = f.Float64s(tt.tensor)
				if err != nil {
					t.Fatal(err)
				}
			case DTypeI64, DTypeU8:
				v, err := f.Int64s(tt.tensor)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range v {
					got = append(got, float64(x))
				}
			}
			if len(got) != numElements(tt.shape) {
				t.Fatalf("%d elements, want %d", len(got), numElements(tt.shape))
			}
			if !slices.Equal(got[:len(tt.head)], tt.head) {
				t.Errorf("head = %v, want %v", got[:len(tt.head)], tt.head)
			}
			if got[len(got)-1] != tt.last {
				t.Errorf("last = %v, want %v", got[len(got)-1], tt.last)
			}
			if tt.dtype == DTypeU8 {
				b, err := f.Bools(tt.tensor)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range b {
					if v != (got[i] == 1) {
						t.Fatalf("Bools()[%d] = %v, want %v", i, v, got[i] == 1)
					}
				}
			}
		})
	}
}

// TestFixtureF32MatchesF64 cross-checks two independently stored copies of
// the same model output: "output" (F32) and "output_f64" (F64) agree to
// float32 precision, and Float32s rounds F64 correctly.
func TestFixtureF32MatchesF64(t *testing.T) {
	f, err := Open(filepath.Join(fixtureDir, "dec_basic", "io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f32, err := f.Float32s("output")
	if err != nil {
		t.Fatal(err)
	}
	f64, err := f.Float64s("output_f64")
	if err != nil {
		t.Fatal(err)
	}
	rounded, err := f.Float32s("output_f64")
	if err != nil {
		t.Fatal(err)
	}
	if len(f32) != 2*17*64 || len(f64) != len(f32) || len(rounded) != len(f32) {
		t.Fatalf("lengths %d, %d, %d, want %d", len(f32), len(f64), len(rounded), 2*17*64)
	}
	for i := range f32 {
		if d := math.Abs(float64(f32[i]) - f64[i]); d > 1e-6 {
			t.Fatalf("output[%d] = %v vs output_f64 %v: differ by %g", i, f32[i], f64[i], d)
		}
		if rounded[i] != float32(f64[i]) {
			t.Fatalf("Float32s(output_f64)[%d] = %v, want %v", i, rounded[i], float32(f64[i]))
		}
	}
}

func TestNotFoundSuggestsCloseNames(t *testing.T) {
	f, err := Open(filepath.Join(fixtureDir, "dec_basic", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = f.Float32s("token_emb.weight")
	checkErr(t, err, ErrNotFound, `"token_emb.weight" not found`, `closest names: "token_emb.emb.weight"`, "model.safetensors", "30 tensors")
	if _, ok := f.Info("token_emb.weight"); ok {
		t.Error("Info of a missing tensor reported ok")
	}
}
