package safetensors

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMalformed checks that each kind of damage is rejected on open with an
// error of its own kind that names the file and, where one is to blame, the
// tensor.
func TestMalformed(t *testing.T) {
	const name = "bad.safetensors"
	valid := rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))
	two := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}`
	hugeLen := binary.LittleEndian.AppendUint64(nil, 1<<40)

	tests := []struct {
		name  string
		data  []byte
		kind  error
		wants []string
	}{
		{"empty file", nil, ErrTruncated, []string{"truncated", "0 bytes", "8-byte"}},
		{"short file", []byte{1, 2, 3, 4, 5}, ErrTruncated, []string{"truncated", "5 bytes"}},
		{"truncated header", valid[:30], ErrTruncated, []string{"truncated: header says 54 bytes but file has 22"}},
		{"implausible header length", append(hugeLen, '{', '}'), ErrHeader, []string{"header length 1099511627776 exceeds"}},
		{"empty header", rawFile("", nil), ErrHeader, []string{"header is empty"}},
		{"header not an object", rawFile(`["a"]`, nil), ErrHeader, []string{"must start with '{'"}},
		{"bad JSON", rawFile(`{"a":{"dtype":"F32",}}`, nil), ErrHeader, []string{"invalid JSON header", "invalid character"}},
		{"unterminated JSON", rawFile(`{"a":{"dtype":"F32"`, nil), ErrHeader, []string{"invalid JSON header", "unexpected EOF"}},
		{"garbage after JSON", rawFile(`{} {}`, nil), ErrHeader, []string{"after the header's JSON object"}},
		{"invalid UTF-8", rawFile("{\"\xff\":1}", nil), ErrHeader, []string{"not valid UTF-8"}},
		{"entry not an object", rawFile(`{"a":[1,2]}`, nil), ErrHeader, []string{`tensor "a"`, "must be an object"}},
		{"missing dtype", rawFile(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), ErrHeader, []string{`tensor "a"`, `missing field "dtype"`}},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, make([]byte, 8)), ErrHeader, []string{`missing field "shape"`}},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[2]}}`, make([]byte, 8)), ErrHeader, []string{`missing field "data_offsets"`}},
		{"dtype not a string", rawFile(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrHeader, []string{"dtype must be a string, got 4"}},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrDType, []string{`tensor "a"`, `unknown dtype "F17"`, "BF16"}},
		{"lowercase dtype", rawFile(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), ErrDType, []string{`unknown dtype "f32"`}},
		{"negative shape", rawFile(`{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}}`, make([]byte, 8)), ErrShape, []string{`tensor "a"`, "negative dimension -1 at index 1"}},
		{"fractional shape", rawFile(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, make([]byte, 8)), ErrShape, []string{"shape[0] is 2.5"}},
		{"string shape", rawFile(`{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}`, make([]byte, 8)), ErrShape, []string{`shape[0] is "2"`}},
		{"shape not an array", rawFile(`{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}`, make([]byte, 8)), ErrHeader, []string{"shape must be an array"}},
		{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8)), ErrShape, []string{"too many elements"}},
		{"shape mismatch", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), ErrShape, []string{`tensor "a"`, "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8"}},
		{"sub-byte dtype partial byte", rawFile(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, make([]byte, 2)), ErrShape, []string{"12 bits"}},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, make([]byte, 8)), ErrOffsets, []string{"must be [begin, end]"}},
		{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, make([]byte, 8)), ErrOffsets, []string{"non-negative"}},
		{"offsets out of range", rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,99999999999999999999]}}`, make([]byte, 2)), ErrOffsets, []string{`tensor "a"`, "out of range"}},
		{"end before begin", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, make([]byte, 8)), ErrOffsets, []string{"[8, 0] end before they begin"}},
		{"offsets past data", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, make([]byte, 8)),
			ErrTruncated, []string{`tensor "b"`, "truncated", "out of range", "16 bytes of tensor data but the file has only 8"}},
		{"truncated data", rawFile(two, make([]byte, 15)), ErrTruncated, []string{`tensor "b"`, "truncated", "only 15"}},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)),
			ErrOverlap, []string{`tensor "b"`, `overlap tensor "a" at [0, 8]`}},
		{"same offsets", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)),
			ErrOverlap, []string{`tensor "b"`, `tensor "a"`}},
		{"hole between tensors", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`, make([]byte, 16)),
			ErrHole, []string{`tensor "b"`, "hole", "[8, 12)", `tensor "a"`}},
		{"hole at start", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), ErrHole, []string{"[0, 4)", "must start at 0"}},
		{"trailing bytes", append(rawFile(two, make([]byte, 16)), 0, 0, 0), ErrHole, []string{"3 trailing bytes", "16"}},
		{"data but no tensors", rawFile(`{}`, make([]byte, 4)), ErrHole, []string{"4 trailing bytes"}},
		{"duplicate tensor", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)),
			ErrHeader, []string{`tensor "a"`, "listed twice"}},
		{"metadata value not a string", rawFile(`{"__metadata__":{"format":1}}`, nil), ErrHeader, []string{`__metadata__["format"] must be a string`}},
		{"metadata not an object", rawFile(`{"__metadata__":"pt"}`, nil), ErrHeader, []string{`"__metadata__" must be an object`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.data, name)
			if err == nil {
				f.Close()
			}
			checkErr(t, err, tt.kind, append(tt.wants, name)...)
		})
	}
}

// TestOpenMalformedNamesPath checks that Open (not just Parse) reports the
// file path and cleans up after a validation failure.
func TestOpenMalformedNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "truncated.safetensors")
	full := rawFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 16))
	if err := os.WriteFile(path, full[:len(full)-5], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	checkErr(t, err, ErrTruncated, path, `tensor "w"`, "truncated")

	dir := t.TempDir()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), dir+": is a directory") {
		t.Errorf("Open of a directory: %v", err)
	}

	_, err = Open(filepath.Join(t.TempDir(), "missing.safetensors"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v, want a not-exist error", err)
	}
}

// TestLenientButValid checks inputs the reference implementation accepts:
// whitespace inside the JSON, keys in any order, unknown extra fields, null
// metadata, scalars, zero-size tensors and unsupported-but-known dtypes.
func TestLenientButValid(t *testing.T) {
	header := `{ "z" : { "shape" : [ ], "dtype" : "U16", "data_offsets" : [ 4 , 6 ], "extra": {"x": [1]} },` +
		` "__metadata__" : null, "empty":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},` +
		` "a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]} }` + "\n\t  "
	data := []byte{0, 0, 0x80, 0x3f, 0x34, 0x12}
	f, err := Parse(rawFile(header, data), "lenient")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Names(); len(got) != 3 || got[0] != "a" || got[1] != "empty" || got[2] != "z" {
		t.Fatalf("Names() = %q", got)
	}
	if len(f.Metadata()) != 0 || f.Metadata() == nil {
		t.Errorf("Metadata() = %#v, want empty non-nil", f.Metadata())
	}
	if v, err := f.Float32s("a"); err != nil || len(v) != 1 || v[0] != 1 {
		t.Errorf("Float32s(a) = %v, %v, want [1]", v, err)
	}
	if v, err := f.Float32s("empty"); err != nil || len(v) != 0 {
		t.Errorf("Float32s(empty) = %v, %v, want []", v, err)
	}
	info, _ := f.Info("z")
	if info.DType != DTypeU16 || len(info.Shape) != 0 {
		t.Errorf("Info(z) = %+v, want U16 scalar", info)
	}
	if b, err := f.Bytes("z"); err != nil || len(b) != 2 || b[0] != 0x34 || b[1] != 0x12 {
		t.Errorf("Bytes(z) = %v, %v", b, err)
	}
	_, err = f.Float32s("z")
	checkErr(t, err, ErrUnsupported, `tensor "z"`, "cannot convert U16 to float32", "F32, F64, F16, BF16", "Bytes")
	_, err = f.Int64s("z")
	checkErr(t, err, ErrUnsupported, "cannot convert U16 to int64")
}
