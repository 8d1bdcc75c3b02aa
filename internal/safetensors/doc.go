// Package safetensors reads and writes the safetensors tensor file format.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON describing every tensor (dtype, shape and byte offsets into the data
// section) plus optional "__metadata__" strings, then the raw little-endian
// tensor data. The data section must be covered by the tensors exactly: no
// overlaps, no holes and no trailing bytes.
//
// [Open] memory-maps the file read-only on Unix (and reads it whole
// elsewhere), validates the entire header up front and never copies tensor
// data: [File.Bytes] returns a view into the mapping, while the typed
// accessors ([File.Float32s], [File.Float64s], [File.Int64s], [File.Bools])
// return freshly allocated, converted copies. Opening is therefore
// independent of the size of the tensor data.
//
// [Write] and [Encode] produce files byte-identical to the reference
// (Rust/Python) implementation: tensors are laid out in decreasing dtype
// alignment order and then by name, and the header is padded with spaces to
// a multiple of 8 bytes, so every tensor is naturally aligned. [Write]
// replaces its output atomically.
//
// Errors describing malformed input or invalid arguments are [*Error]
// values; use [errors.Is] with the Err* sentinels to branch on their kind.
package safetensors
