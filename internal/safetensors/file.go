package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxHeaderSize is the largest header accepted, as in the reference
// implementation (100 MB).
const maxHeaderSize = 100_000_000

// metadataKey is the reserved header key holding free-form string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a File.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int64 // empty for a scalar
}

// File is an opened, fully validated safetensors file. Its methods may be
// called concurrently, except Close, which must not overlap any other call.
type File struct {
	name    string
	data    []byte       // the whole file
	release func() error // unmaps data; nil when data is ordinary memory
	closed  bool
	tensors map[string]*tensorEntry
	names   []string // sorted
	meta    map[string]string
}

type tensorEntry struct {
	info       TensorInfo
	begin, end int64 // byte positions: in the data section while parsing, then in File.data
}

// Open memory-maps the safetensors file at path read-only (reading it whole
// on platforms without mmap support) and validates its header and layout.
// Tensor data is neither read nor copied until accessed. Call Close to
// release the mapping; slices returned by Bytes become invalid then.
//
// The file must not be truncated or rewritten in place while open (Write's
// atomic rename is safe). Malformed files give an *Error naming the file and,
// where relevant, the tensor.
func Open(path string) (*File, error) {
	data, release, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parse(data, path)
	if err != nil {
		if release != nil {
			_ = release() // the validation error is the one worth reporting
		}
		return nil, err
	}
	f.release = release
	return f, nil
}

// Parse validates the safetensors file held in data; name identifies it in
// error messages. The File aliases data, which must not be modified while the
// File is in use.
func Parse(data []byte, name string) (*File, error) {
	return parse(data, name)
}

// Close releases the file's memory mapping. Slices returned by Bytes must
// not be used afterwards, and the data accessors (Bytes, Float32s, ...)
// return ErrClosed; Names, Info and Metadata keep working. Closing an
// already closed File does nothing and returns nil.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	rel := f.release
	f.release = nil
	f.data = nil
	if rel != nil {
		if err := rel(); err != nil {
			return fmt.Errorf("safetensors: unmap %s: %w", f.name, err)
		}
	}
	return nil
}

// Names returns the names of all tensors, sorted.
func (f *File) Names() []string {
	return slices.Clone(f.names)
}

// Info returns the dtype and shape of the named tensor, and whether it
// exists.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	info := t.info
	info.Shape = slices.Clone(info.Shape)
	return info, true
}

// Metadata returns a copy of the header's "__metadata__" strings; it is
// empty, not nil, when the file has none.
func (f *File) Metadata() map[string]string {
	m := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		m[k] = v
	}
	return m
}

// Bytes returns the raw little-endian data of the named tensor, without
// copying: the slice views the file's memory mapping, which is read-only
// (writing to it crashes the program) and invalid after Close.
func (f *File) Bytes(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.data[t.begin:t.end:t.end], nil
}

// DontNeed advises that the named tensor's pages of the mapping will not be
// read again soon, so that they leave the process's resident set (a
// streamed export calls it after each tensor). Slices from Bytes stay
// valid: touched again, the pages are read from the file. A no-op for
// files held in ordinary memory.
func (f *File) DontNeed(name string) {
	t, err := f.lookup(name)
	if err != nil || f.release == nil {
		return
	}
	dontNeed(f.data[t.begin:t.end])
}

func (f *File) lookup(name string) (*tensorEntry, error) {
	if f.closed {
		return nil, &Error{File: f.name, Tensor: name, Kind: ErrClosed, Msg: "file is closed"}
	}
	t, ok := f.tensors[name]
	if !ok {
		return nil, &Error{File: f.name, Kind: ErrNotFound, Msg: notFoundMsg(name, f.names)}
	}
	return t, nil
}

// formatErr builds an *Error for file-level validation failures.
func formatErr(file, tensor string, kind error, format string, args ...any) *Error {
	return &Error{File: file, Tensor: tensor, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// parse validates data as a safetensors file and indexes its tensors.
func parse(data []byte, name string) (*File, error) {
	if len(data) < 8 {
		return nil, formatErr(name, "", ErrTruncated,
			"truncated: file is %d bytes, shorter than the 8-byte header length prefix", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxHeaderSize {
		return nil, formatErr(name, "", ErrHeader,
			"header length %d exceeds the %d-byte limit: corrupt length prefix or not a safetensors file", n, maxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, formatErr(name, "", ErrTruncated,
			"truncated: header says %d bytes but file has %d after the 8-byte length prefix", n, len(data)-8)
	}
	header := data[8 : 8+n]
	base := 8 + int(n)
	dataLen := int64(len(data) - base)

	entries, meta, err := decodeHeader(header, name)
	if err != nil {
		return nil, err
	}
	if err := checkLayout(entries, dataLen, name); err != nil {
		return nil, err
	}

	f := &File{
		name:    name,
		data:    data,
		tensors: make(map[string]*tensorEntry, len(entries)),
		names:   make([]string, 0, len(entries)),
		meta:    meta,
	}
	for _, e := range entries {
		e.begin += int64(base)
		e.end += int64(base)
		f.tensors[e.info.Name] = e
		f.names = append(f.names, e.info.Name)
	}
	slices.Sort(f.names)
	return f, nil
}

// decodeHeader parses and validates the JSON header. The returned entries
// hold offsets relative to the data section.
func decodeHeader(header []byte, file string) ([]*tensorEntry, map[string]string, error) {
	if len(header) == 0 {
		return nil, nil, formatErr(file, "", ErrHeader, "header is empty, want a JSON object")
	}
	if !utf8.Valid(header) {
		return nil, nil, formatErr(file, "", ErrHeader, "header is not valid UTF-8")
	}
	if header[0] != '{' {
		return nil, nil, formatErr(file, "", ErrHeader, "header must start with '{', got %q", header[0])
	}
	jsonErr := func(err error) error {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return &Error{File: file, Kind: ErrHeader, Msg: "invalid JSON header", Err: err}
	}

	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil { // the opening '{', checked above
		return nil, nil, jsonErr(err)
	}
	var (
		entries []*tensorEntry
		meta    map[string]string
		seen    = make(map[string]bool)
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, jsonErr(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, formatErr(file, "", ErrHeader, "invalid JSON header: object key is %v, want a string", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, jsonErr(err)
		}
		raw = bytes.TrimSpace(raw)
		if seen[key] {
			if key == metadataKey {
				return nil, nil, formatErr(file, "", ErrHeader, "duplicate %q key in header", metadataKey)
			}
			return nil, nil, formatErr(file, key, ErrHeader, "tensor listed twice in header")
		}
		seen[key] = true
		if key == metadataKey {
			if meta, err = decodeMetadata(raw, file); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := decodeEntry(key, raw, file)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, jsonErr(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, jsonErr(err)
		}
		return nil, nil, formatErr(file, "", ErrHeader,
			"unexpected %v after the header's JSON object (only space padding may follow it)", tok)
	}
	return entries, meta, nil
}

func decodeMetadata(raw json.RawMessage, file string) (map[string]string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, formatErr(file, "", ErrHeader, "%q must be an object of strings, got %s", metadataKey, abbrev(raw))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &Error{File: file, Kind: ErrHeader, Msg: "invalid " + metadataKey, Err: err}
	}
	meta := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := jsonString(v)
		if !ok {
			return nil, formatErr(file, "", ErrHeader, "%s[%q] must be a string, got %s", metadataKey, k, abbrev(v))
		}
		meta[k] = s
	}
	return meta, nil
}

// decodeEntry parses one tensor's header entry and checks it on its own:
// known dtype, valid shape, well-formed offsets whose span matches the shape.
func decodeEntry(name string, raw json.RawMessage, file string) (*tensorEntry, error) {
	if raw[0] != '{' {
		return nil, formatErr(file, name, ErrHeader, "header entry must be an object with dtype, shape and data_offsets, got %s", abbrev(raw))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, &Error{File: file, Tensor: name, Kind: ErrHeader, Msg: "invalid header entry", Err: err}
	}
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if _, ok := fields[k]; !ok {
			return nil, formatErr(file, name, ErrHeader, "header entry is missing field %q", k)
		}
	}

	dtypeName, ok := jsonString(fields["dtype"])
	if !ok {
		return nil, formatErr(file, name, ErrHeader, "dtype must be a string, got %s", abbrev(fields["dtype"]))
	}
	dt, err := ParseDType(dtypeName)
	if err != nil {
		return nil, formatErr(file, name, ErrDType, "unknown dtype %q (known: %s)", dtypeName, knownDTypes())
	}

	dims, ok := jsonArray(fields["shape"])
	if !ok {
		return nil, formatErr(file, name, ErrHeader, "shape must be an array of integers, got %s", abbrev(fields["shape"]))
	}
	shape := make([]int64, len(dims))
	for i, d := range dims {
		v, err := strconv.ParseInt(string(d), 10, 64)
		if err != nil {
			return nil, formatErr(file, name, ErrShape, "shape[%d] is %s, want a non-negative integer", i, abbrev(d))
		}
		if v < 0 {
			return nil, formatErr(file, name, ErrShape, "shape %v has negative dimension %d at index %d", shape[:i+1], v, i)
		}
		shape[i] = v
	}

	offs, ok := jsonArray(fields["data_offsets"])
	if !ok || len(offs) != 2 {
		return nil, formatErr(file, name, ErrOffsets, "data_offsets must be [begin, end], got %s", abbrev(fields["data_offsets"]))
	}
	var be [2]int64
	for i, o := range offs {
		v, err := strconv.ParseInt(string(o), 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange):
			return nil, formatErr(file, name, ErrOffsets, "data_offsets %s out of range", abbrev(fields["data_offsets"]))
		case err != nil || v < 0:
			return nil, formatErr(file, name, ErrOffsets, "data_offsets %s must be non-negative integers", abbrev(fields["data_offsets"]))
		}
		be[i] = v
	}
	if be[1] < be[0] {
		return nil, formatErr(file, name, ErrOffsets, "data_offsets [%d, %d] end before they begin", be[0], be[1])
	}

	size, err := byteSize(dt, shape)
	if err != nil {
		return nil, &Error{File: file, Tensor: name, Kind: ErrShape, Msg: err.Error()}
	}
	if span := be[1] - be[0]; span != size {
		return nil, formatErr(file, name, ErrShape,
			"shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d", shape, dt, size, be[0], be[1], span)
	}
	return &tensorEntry{info: TensorInfo{Name: name, DType: dt, Shape: shape}, begin: be[0], end: be[1]}, nil
}

// byteSize returns the number of bytes a tensor of dtype dt and the given
// shape occupies, failing on overflow or a partial trailing byte.
func byteSize(dt DType, shape []int64) (int64, error) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n = lo
	}
	hi, nbits := bits.Mul64(n, uint64(dt.Bits()))
	if hi != 0 || nbits/8 > math.MaxInt64 {
		return 0, fmt.Errorf("shape %v of %s is too large", shape, dt)
	}
	if nbits%8 != 0 {
		return 0, fmt.Errorf("shape %v of %s is %d bits, not a whole number of bytes", shape, dt, nbits)
	}
	return int64(nbits / 8), nil
}

// checkLayout sorts entries by offset and checks that they tile the data
// section exactly: no overlap, no hole, nothing missing or left over.
func checkLayout(entries []*tensorEntry, dataLen int64, file string) error {
	slices.SortFunc(entries, func(a, b *tensorEntry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.info.Name, b.info.Name))
	})
	var end int64
	var prev *tensorEntry
	for _, e := range entries {
		switch {
		case e.begin < end:
			return formatErr(file, e.info.Name, ErrOverlap,
				"data_offsets [%d, %d] overlap tensor %q at [%d, %d]", e.begin, e.end, prev.info.Name, prev.begin, prev.end)
		case e.begin > end && prev == nil:
			return formatErr(file, e.info.Name, ErrHole,
				"hole: data section bytes [0, %d) belong to no tensor; the first tensor must start at 0", e.begin)
		case e.begin > end:
			return formatErr(file, e.info.Name, ErrHole,
				"hole: data section bytes [%d, %d) between tensor %q and this one belong to no tensor", end, e.begin, prev.info.Name)
		}
		end = e.end
		prev = e
	}
	if end > dataLen {
		return formatErr(file, prev.info.Name, ErrTruncated,
			"truncated: data_offsets [%d, %d] out of range: the header describes %d bytes of tensor data but the file has only %d after the header",
			prev.begin, prev.end, end, dataLen)
	}
	if end < dataLen {
		return formatErr(file, "", ErrHole,
			"%d trailing bytes after the tensor data: tensors end at byte %d of a %d-byte data section", dataLen-end, end, dataLen)
	}
	return nil
}

// jsonString decodes raw if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonArray splits raw into its elements if it is a JSON array.
func jsonArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, false
	}
	for i := range a {
		a[i] = bytes.TrimSpace(a[i])
	}
	return a, true
}

// abbrev returns raw JSON for an error message, shortened if long.
func abbrev(raw json.RawMessage) string {
	const limit = 60
	if len(raw) > limit {
		return string(raw[:limit]) + "..."
	}
	return string(raw)
}
