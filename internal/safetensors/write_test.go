package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// TestEncodeReferenceVectors checks Encode against outputs of the reference
// implementation's own serialization tests.
func TestEncodeReferenceVectors(t *testing.T) {
	f32s := []float32{0, 1, 2, 3, 4, 5}
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		header  string
		data    []byte
	}{
		{"empty", nil, nil, "{}      ", nil},
		{"metadata only", nil, map[string]string{"framework": "pt"}, `{"__metadata__":{"framework":"pt"}}     `, nil},
		{"one tensor", []Tensor{F32("attn.0", []int64{1, 2, 3}, f32s)}, nil,
			`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`, F32("", nil, f32s).Data},
		{"padded", []Tensor{F32("attn0", []int64{1, 1, 2, 3}, f32s)}, nil,
			`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `, F32("", nil, f32s).Data},
		{"dtype then name order", []Tensor{
			U8("a", []int64{1}, []byte{9}),
			F32("c", nil, []float32{1}),
			I64("z", []int64{1}, []int64{2}),
			F64("b", []int64{1}, []float64{3}),
			F32("b2", []int64{0}, nil),
		}, map[string]string{"b": "<&>", "a": "q\"\\\n\x01é"},
			`{"__metadata__":{"a":"q\"\\\n\u0001é","b":"<&>"},` +
				`"z":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},` +
				`"b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},` +
				`"b2":{"dtype":"F32","shape":[0],"data_offsets":[16,16]},` +
				`"c":{"dtype":"F32","shape":[],"data_offsets":[16,20]},` +
				`"a":{"dtype":"U8","shape":[1],"data_offsets":[20,21]}}       `,
			slices.Concat(I64("", nil, []int64{2}).Data, F64("", nil, []float64{3}).Data, F32("", nil, []float32{1}).Data, []byte{9})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.tensors, tt.meta)
			if err != nil {
				t.Fatal(err)
			}
			want := rawFile(tt.header, tt.data)
			if !bytes.Equal(got, want) {
				t.Errorf("Encode =\n%q\nwant\n%q", got, want)
			}
			if _, err := Parse(got, tt.name); err != nil {
				t.Errorf("Parse(Encode(...)): %v", err)
			}
		})
	}
}

// TestRoundTripEveryDType writes one tensor of every dtype (plus a scalar, a
// zero-size tensor and metadata) with Write and reads them back with Open.
func TestRoundTripEveryDType(t *testing.T) {
	var tensors []Tensor
	for d := DTypeBool; d <= maxDType; d++ {
		shape := []int64{2, 4} // a whole number of bytes for the 4- and 6-bit dtypes too
		size, err := byteSize(d, shape)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(int(d)*31 + i*7)
		}
		if d == DTypeBool {
			for i := range data {
				data[i] &= 1
			}
		}
		tensors = append(tensors, Tensor{Name: "t." + d.String(), DType: d, Shape: shape, Data: data})
	}
	tensors = append(tensors,
		F32("scalar", nil, []float32{-7.5}),
		I64("empty", []int64{4, 0}, nil),
	)
	meta := map[string]string{"format": "pt", "note": "line1\nline2 \"quoted\" ünïcode"}

	path := filepath.Join(t.TempDir(), "all.safetensors")
	if err := Write(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata(); len(got) != 2 || got["format"] != "pt" || got["note"] != meta["note"] {
		t.Errorf("Metadata() = %q, want %q", got, meta)
	}
	if got := f.Names(); len(got) != len(tensors) || !slices.IsSorted(got) {
		t.Errorf("Names() = %q", got)
	}
	for _, want := range tensors {
		info, ok := f.Info(want.Name)
		if !ok || info.DType != want.DType || !slices.Equal(info.Shape, want.Shape) {
			t.Errorf("Info(%q) = %+v, %v; want %s %v", want.Name, info, ok, want.DType, want.Shape)
			continue
		}
		got, err := f.Bytes(want.Name)
		if err != nil || !bytes.Equal(got, want.Data) {
			t.Errorf("Bytes(%q) = %v, %v; want %v", want.Name, got, err, want.Data)
		}
		// Reference layout order keeps every tensor naturally aligned.
		if len(got) > 0 && want.DType.Size() > 1 && uintptr(unsafe.Pointer(&got[0]))%uintptr(want.DType.Size()) != 0 {
			t.Errorf("tensor %q (%s) data is not %d-byte aligned", want.Name, want.DType, want.DType.Size())
		}
	}
	if v, err := f.Float32s("scalar"); err != nil || len(v) != 1 || v[0] != -7.5 {
		t.Errorf("Float32s(scalar) = %v, %v", v, err)
	}
	if v, err := f.Int64s("empty"); err != nil || len(v) != 0 {
		t.Errorf("Int64s(empty) = %v, %v", v, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o644 {
		t.Errorf("file mode %v, want 0644", perm)
	}
}

func TestHelpersRoundTrip(t *testing.T) {
	f32 := []float32{0, -1.5, float32(math.Inf(-1)), math.SmallestNonzeroFloat32, math.MaxFloat32}
	f64 := []float64{math.Pi, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}
	i64 := []int64{math.MinInt64, 0, 42, math.MaxInt64}
	u8 := []uint8{0, 127, 255}
	bl := []bool{true, false, false, true}
	enc, err := Encode([]Tensor{
		F32("f32", []int64{5}, f32),
		F64("f64", []int64{2, 2}, f64),
		I64("i64", []int64{4, 1}, i64),
		U8("u8", []int64{3}, u8),
		Bool("bool", []int64{2, 2}, bl),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(enc, "helpers")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Float32s("f32"); !slices.Equal(got, f32) {
		t.Errorf("f32 = %v, want %v", got, f32)
	}
	if got, _ := f.Float64s("f64"); !slices.Equal(got, f64) || !math.Signbit(got[1]) {
		t.Errorf("f64 = %v, want %v", got, f64)
	}
	if got, _ := f.Int64s("i64"); !slices.Equal(got, i64) {
		t.Errorf("i64 = %v, want %v", got, i64)
	}
	if got, _ := f.Bytes("u8"); !bytes.Equal(got, u8) {
		t.Errorf("u8 = %v, want %v", got, u8)
	}
	if got, _ := f.Bools("bool"); !slices.Equal(got, bl) {
		t.Errorf("bool = %v, want %v", got, bl)
	}
	if info, _ := f.Info("bool"); info.DType != DTypeBool {
		t.Errorf("Bool helper wrote %s, want BOOL", info.DType)
	}
	// Bytes is a read-only view: its capacity must stop at the tensor's end.
	if b, _ := f.Bytes("u8"); cap(b) != len(b) {
		t.Errorf("Bytes cap %d, want %d so appends cannot clobber neighbours", cap(b), len(b))
	}
}

// TestWriteRejectsInvalid checks that every invalid tensor is reported by
// name before anything is created.
func TestWriteRejectsInvalid(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		kind    error
		wants   []string
	}{
		{"too few bytes", []Tensor{F32("w", []int64{2, 3}, make([]float32, 5))}, ErrShape,
			[]string{`tensor "w"`, "shape [2 3] of F32 needs 24 bytes but Data has 20 (5 elements)"}},
		{"too many bytes", []Tensor{U8("m", nil, []byte{1, 2})}, ErrShape, []string{`tensor "m"`, "needs 1 bytes but Data has 2"}},
		{"negative dim", []Tensor{F32("n", []int64{-1}, nil)}, ErrShape, []string{`tensor "n"`, "negative"}},
		{"overflow", []Tensor{U8("o", []int64{1 << 40, 1 << 40}, nil)}, ErrShape, []string{"too many elements"}},
		{"invalid dtype", []Tensor{{Name: "d", Shape: []int64{1}, Data: []byte{0}}}, ErrDType, []string{`tensor "d"`, "DType(0)"}},
		{"empty name", []Tensor{U8("", []int64{1}, []byte{0})}, ErrName, []string{"tensor #0 has an empty name"}},
		{"reserved name", []Tensor{U8("__metadata__", []int64{1}, []byte{0})}, ErrName, []string{"reserved"}},
		{"duplicate", []Tensor{U8("x", []int64{1}, []byte{0}), U8("x", []int64{1}, []byte{1})}, ErrName, []string{`tensor "x"`, "used twice"}},
		{"bad UTF-8 name", []Tensor{U8("\xff", []int64{1}, []byte{0})}, ErrName, []string{"UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.safetensors")
			err := Write(path, tt.tensors, nil)
			checkErr(t, err, tt.kind, append(tt.wants, path)...)
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("failed Write left %v behind", entries)
			}
			_, err = Encode(tt.tensors, nil)
			checkErr(t, err, tt.kind, tt.wants...)
		})
	}
}

func TestWriteToMissingDirLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir")
	err := Write(filepath.Join(missing, "x.safetensors"), []Tensor{U8("a", []int64{1}, []byte{1})}, nil)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "x.safetensors") {
		t.Fatalf("err = %v, want a not-exist error naming the file", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed Write created %v", entries)
	}
}

// TestFailedWriteRemovesTemp makes the final rename fail (the target is a
// non-empty directory) after the temp file was fully written, and checks the
// temp file is gone and the target untouched.
func TestFailedWriteRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "model.safetensors")
	if err := os.MkdirAll(filepath.Join(target, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Write(target, []Tensor{F32("w", []int64{2}, []float32{1, 2})}, nil)
	if err == nil || !strings.Contains(err.Error(), "safetensors: write "+target) {
		t.Fatalf("err = %v, want a write error naming %s", err, target)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "model.safetensors" || !entries[0].IsDir() {
		t.Errorf("directory holds %v after a failed Write, want only the original target", entries)
	}
	if _, err := os.Stat(filepath.Join(target, "keep")); err != nil {
		t.Errorf("target was modified: %v", err)
	}
}

// TestWriteReplacesAtomically overwrites a file that is open (mapped) and
// checks the old mapping still reads the old data while a new Open sees the
// new data.
func TestWriteReplacesAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := Write(path, []Tensor{F32("w", []int64{2}, []float32{1, 2})}, nil); err != nil {
		t.Fatal(err)
	}
	old, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := Write(path, []Tensor{F32("w", []int64{3}, []float32{7, 8, 9})}, map[string]string{"v": "2"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := old.Float32s("w"); !slices.Equal(got, []float32{1, 2}) {
		t.Errorf("old mapping reads %v, want [1 2]", got)
	}
	cur, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if got, _ := cur.Float32s("w"); !slices.Equal(got, []float32{7, 8, 9}) || cur.Metadata()["v"] != "2" {
		t.Errorf("new file reads %v %v", got, cur.Metadata())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %v, want only the output", entries)
	}
}

func TestCloseAndConcurrentReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.safetensors")
	vals := make([]float32, 1000)
	for i := range vals {
		vals[i] = float32(i) / 8
	}
	if err := Write(path, []Tensor{F32("v", []int64{1000}, vals), I64("i", []int64{1}, []int64{5})}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := f.Float32s("v")
				if err != nil || !slices.Equal(got, vals) {
					t.Errorf("concurrent Float32s: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	_, err = f.Bytes("v")
	checkErr(t, err, ErrClosed, `tensor "v"`, path)
	_, err = f.Int64s("i")
	checkErr(t, err, ErrClosed)
	if info, ok := f.Info("v"); !ok || info.Shape[0] != 1000 {
		t.Errorf("Info after Close = %+v, %v; header information stays available", info, ok)
	}
}

func TestEncodeHeaderLengthPrefix(t *testing.T) {
	enc, err := Encode([]Tensor{U8("abc", []int64{3}, []byte{1, 2, 3})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(enc)
	if n%8 != 0 || int(n)+8+3 != len(enc) || !bytes.Equal(enc[len(enc)-3:], []byte{1, 2, 3}) {
		t.Errorf("header length %d, file %d bytes: %q", n, len(enc), enc)
	}
}
