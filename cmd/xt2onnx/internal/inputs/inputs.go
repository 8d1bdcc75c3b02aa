package inputs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/internal/sysmem"
	"github.com/xt2onnx/xt2onnx/internal/tensorio"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// DefaultVocab is the token range Random uses for an integer input the
// model's metadata gives no num_tokens for.
const DefaultVocab = 2

// FixturePrefix is the prefix of the input tensors in the reference
// fixtures' io.safetensors.
const FixturePrefix = "input."

// Limits are what the x-transformers metadata says about valid inputs.
type Limits struct {
	// Vocab maps an integer input's name to its token range [0, n).
	Vocab map[string]int64
	// MaxSeqLen is the longest sequence the model takes; 0 when unknown.
	MaxSeqLen int64
}

// Tokens returns the token range of an integer input: the config's
// num_tokens for it, or DefaultVocab.
func (l Limits) Tokens(input string) int64 {
	if n, ok := l.Vocab[input]; ok {
		return n
	}
	return DefaultVocab
}

// CheckSeq returns an error when inputs of seq positions would be longer
// than the model's max_seq_len (when it is known).
func (l Limits) CheckSeq(seq int64) error {
	if l.MaxSeqLen > 0 && seq > l.MaxSeqLen {
		return fmt.Errorf("--seq %d is longer than the model's max_seq_len %d: use --seq %d or less", seq, l.MaxSeqLen, l.MaxSeqLen)
	}
	return nil
}

// ReadLimits reads the token ranges and the max sequence length from the
// metadata of the model file at path. A model without (readable) metadata
// gets the defaults: the runtime reports a broken file better.
func ReadLimits(path string) Limits {
	m, err := onnximport.ReadFileWith(path, onnximport.ReadOptions{SkipTensorData: true})
	if err != nil {
		return Limits{Vocab: map[string]int64{}}
	}
	return LimitsOf(m)
}

// LimitsOf reads the token ranges and the max sequence length from a
// model's metadata.
func LimitsOf(m *graph.Model) Limits {
	l := Limits{Vocab: map[string]int64{}}
	if s, ok := m.MetadataValue(builder.MetaMaxSeqLen); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			l.MaxSeqLen = n
		}
	}
	s, ok := m.MetadataValue(builder.MetaConfig)
	if !ok {
		return l
	}
	cfg, err := builder.ParseConfig([]byte(s))
	if err != nil {
		return l
	}
	switch {
	case cfg.Wrapper != nil:
		l.Vocab[builder.InputTokens] = int64(cfg.Wrapper.NumTokens)
	case cfg.XTransformer != nil:
		l.Vocab[builder.InputSource] = int64(cfg.XTransformer.Enc.NumTokens)
		l.Vocab[builder.InputTarget] = int64(cfg.XTransformer.Dec.NumTokens)
	}
	for k, n := range l.Vocab {
		if n < 1 {
			delete(l.Vocab, k)
		}
	}
	return l
}

// Read reads one tensor per input from the safetensors file at path, named
// prefix + input name, converted to the input's dtype where that is exact.
// When the names lack the fixtures' prefix, the error says to add it.
func Read(path, prefix string, infos []runtime.ValueInfo) (map[string]*runtime.Tensor, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	inputs, err := tensorio.ReadInputs(f, path, prefix, infos)
	if err != nil && prefix == "" && hasAll(f, FixturePrefix, infos) {
		return nil, fmt.Errorf("%w\n(the file names the inputs %s…: add --prefix %s)", err, FixturePrefix, FixturePrefix)
	}
	if err != nil {
		return nil, err
	}
	if err := checkExtra(f, path, prefix, infos); err != nil {
		return nil, err
	}
	return inputs, nil
}

// checkExtra refuses a tensor meant for an input the model does not have,
// such as a mask for a model exported without one, which would otherwise
// be dropped silently and change the result. With a prefix every tensor
// under it is an input; without one, a mask (mask, *_mask) is.
func checkExtra(f *safetensors.File, path, prefix string, infos []runtime.ValueInfo) error {
	names := make([]string, len(infos))
	known := map[string]bool{}
	for i, in := range infos {
		names[i], known[in.Name] = in.Name, true
	}
	for _, n := range f.Names() {
		input, ok := strings.CutPrefix(n, prefix)
		if !ok || known[input] || (prefix == "" && input != "mask" && !strings.HasSuffix(input, "_mask")) {
			continue
		}
		hint := "leave the tensor out, or use a model that takes it"
		if input == "mask" || strings.HasSuffix(input, "_mask") {
			hint = "export the model with --mask on to use the mask, or leave the tensor out"
		}
		return fmt.Errorf("inputs %s: the file holds %q, but the model has no input %q (its inputs: %s): %s", path, n, input, strings.Join(names, ", "), hint)
	}
	return nil
}

// hasAll reports whether f holds a tensor prefix+name for every input.
func hasAll(f *safetensors.File, prefix string, infos []runtime.ValueInfo) bool {
	for _, in := range infos {
		if _, ok := f.Info(prefix + in.Name); !ok {
			return false
		}
	}
	return len(infos) > 0
}

// isSeqDim reports whether dim i of info is a sequence axis: one named seq
// or *_seq (src_seq, context_seq), or an unnamed dynamic second dim.
func isSeqDim(info runtime.ValueInfo, i int) bool {
	name := dimName(info, i)
	return name == "seq" || strings.HasSuffix(name, "_seq") || (name == "" && i == 1 && info.Shape[i] < 0)
}

func dimName(info runtime.ValueInfo, i int) string {
	if i < len(info.DimNames) {
		return info.DimNames[i]
	}
	return ""
}

// CheckSeq refuses inputs whose sequence dim exceeds maxSeqLen (0:
// unknown); file names the inputs' source in the message.
func CheckSeq(infos []runtime.ValueInfo, inputs map[string]*runtime.Tensor, maxSeqLen int64, file string) error {
	if maxSeqLen == 0 {
		return nil
	}
	for _, info := range infos {
		t := inputs[info.Name]
		if t == nil || len(info.Shape) != t.Rank() {
			continue // the runtime reports it
		}
		for i, d := range t.Shape() {
			if isSeqDim(info, i) && d > maxSeqLen {
				return fmt.Errorf("inputs %s: input %q has sequence length %d (dim %d), longer than the model's max_seq_len %d: truncate it to %d", file, info.Name, d, i, maxSeqLen, maxSeqLen)
			}
		}
	}
	return nil
}

// cacheLenInput is a buffer-layout KV cache's length input
// (builder.CacheLenInput).
const cacheLenInput = "cache_len"

// Random generates one tensor per input from seed: token ids in [0,
// tokens(input name)), all-true masks, N(0, 1) floats. Dynamic dims named
// batch (or an unnamed first dim) get batch, sequence dims (named seq or
// *_seq, or an unnamed second dim) get seq. A KV-cache model's cache
// inputs are empty, so the run is a prompt (prefill) of length seq: past_*
// get past_seq dims 0 and zero values; a buffer-layout model's cache_*
// buffers a capacity of 1 (zeros) and cache_len 0. An input larger than maxBytes (0:
// runtime.DefaultMaxTensorBytes()) is refused before anything is
// allocated, whatever shape the model declares.
func Random(infos []runtime.ValueInfo, batch, seq int64, seed uint64, tokens func(input string) int64, maxBytes int64) (map[string]*runtime.Tensor, error) {
	if maxBytes <= 0 {
		maxBytes = runtime.DefaultMaxTensorBytes()
	}
	rng := rand.New(rand.NewPCG(seed, 0x72756e))
	out := make(map[string]*runtime.Tensor, len(infos))
	for _, info := range infos {
		if info.Shape == nil {
			return nil, fmt.Errorf("input %q has no declared shape, so --random cannot size it: give the inputs with --inputs", info.Name)
		}
		shape := make([]int64, len(info.Shape))
		for i, d := range info.Shape {
			name := dimName(info, i)
			switch {
			case d >= 0:
				shape[i] = d
			case name == "batch" || (name == "" && i == 0):
				shape[i] = batch
			case name == "past_seq":
				shape[i] = 0
			case name == "cache_capacity":
				shape[i] = 1
			case isSeqDim(info, i):
				shape[i] = seq
			default:
				return nil, fmt.Errorf("input %s: dynamic dim %d (%s) is neither batch nor seq, so --random cannot size it: give the inputs with --inputs", info, i, name)
			}
		}
		n, err := runtime.NumElementsOf(shape)
		if err != nil {
			return nil, fmt.Errorf("input %s: --random cannot make shape %s: %w", info, runtime.FormatShape(shape), err)
		}
		if size := int64(info.DType.Size()); size > 0 && (int64(n) > math.MaxInt64/size || int64(n)*size > maxBytes) {
			return nil, fmt.Errorf("input %q: --random would make %s%s, %s, more than the tensor budget of %s: give smaller --batch/--seq, real inputs with --inputs, or raise --max-tensor-bytes",
				info.Name, info.DType, runtime.FormatShape(shape), sysmem.FormatBytes(satMul(int64(n), size)), sysmem.FormatBytes(maxBytes))
		}
		var t *runtime.Tensor
		vocab := tokens(info.Name)
		switch info.DType {
		case runtime.Int64:
			v := make([]int64, n)
			for i := range v {
				if info.Name != cacheLenInput {
					v[i] = rng.Int64N(vocab)
				}
			}
			t, err = runtime.NewInt64(shape, v)
		case runtime.Int32:
			v := make([]int32, n)
			for i := range v {
				v[i] = int32(rng.Int64N(vocab))
			}
			t, err = runtime.NewInt32(shape, v)
		case runtime.Bool:
			v := make([]bool, n)
			for i := range v {
				v[i] = true
			}
			t, err = runtime.NewBool(shape, v)
		case runtime.Float32:
			v := make([]float32, n)
			if !strings.HasPrefix(info.Name, "past_") && !strings.HasPrefix(info.Name, "cache_") {
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
			}
			t, err = runtime.NewFloat32(shape, v)
		case runtime.Float64:
			v := make([]float64, n)
			for i := range v {
				v[i] = rng.NormFloat64()
			}
			t, err = runtime.NewFloat64(shape, v)
		default:
			return nil, fmt.Errorf("input %s: --random cannot generate %s values: give the inputs with --inputs", info, info.DType)
		}
		if err != nil {
			return nil, err
		}
		out[info.Name] = t
	}
	return out, nil
}

// satMul multiplies non-negative a and b, giving -1 (printed "more than
// 8 EiB") on overflow.
func satMul(a, b int64) int64 {
	if b != 0 && a > math.MaxInt64/b {
		return -1
	}
	return a * b
}
