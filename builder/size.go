package builder

import (
	"errors"
	"fmt"
	"math"

	"github.com/xt2onnx/xt2onnx/internal/sysmem"
)

// ParamInfo is one parameter (or persistent buffer) of a model: its
// state_dict name and PyTorch shape.
type ParamInfo struct {
	Name  string
	Shape []int64
}

// Elements returns the parameter's element count, saturating at the
// largest int64.
func (p ParamInfo) Elements() int64 { return satProduct(p.Shape) }

// Size is what a config's weights amount to.
type Size struct {
	// Params is the number of parameters (float32 elements), saturating at
	// the largest int64.
	Params int64
	// Tensors is the number of parameter tensors.
	Tensors int
	// Largest is the biggest tensor.
	Largest ParamInfo
}

// Bytes returns the float32 bytes of all parameters (-1 on overflow).
func (s Size) Bytes() int64 { return satMul(s.Params, 4) }

// String describes the size: "1.02 billion parameters (3.8 GiB of
// float32; largest attn_layers.layers.0.1.to_q.weight [2048 2048])".
func (s Size) String() string {
	return fmt.Sprintf("%s parameters (%s of float32 weights; largest tensor %s %v, %s)",
		humanCount(s.Params), sysmem.FormatBytes(s.Bytes()), s.Largest.Name, s.Largest.Shape, sysmem.FormatBytes(satMul(s.Largest.Elements(), 4)))
}

// Params lists every parameter the model of cfg has, in build order, with
// its shape, without reading, generating or allocating any weight: a dry
// build of the graph. It is how a config's size is known before its
// weights exist, and the state_dict a config expects.
func Params(cfg *Config, opts Options) ([]ParamInfo, error) {
	if cfg == nil {
		return nil, errors.New("builder: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if u := Unsupported(cfg, opts); len(u) > 0 {
		return nil, &UnsupportedError{Options: u}
	}
	if opts.Opset == 0 {
		opts.Opset = DefaultOpset
	}
	p := newParams(RandomWeights{}, "(dry run)")
	if _, _, err := build(cfg, opts, p, true); err != nil {
		return nil, err
	}
	out := make([]ParamInfo, len(p.specs))
	for i, s := range p.specs {
		out[i] = ParamInfo{Name: s.name, Shape: append([]int64(nil), s.shape...)}
	}
	return out, nil
}

// EstimateSize returns the size of the weights of cfg's model (see Params).
func EstimateSize(cfg *Config, opts Options) (Size, error) {
	ps, err := Params(cfg, opts)
	if err != nil {
		return Size{}, err
	}
	var s Size
	for _, p := range ps {
		n := p.Elements()
		s.Params = satAdd(s.Params, n)
		s.Tensors++
		if n > s.Largest.Elements() || s.Largest.Name == "" {
			s.Largest = p
		}
	}
	return s, nil
}

// A SizeError reports a config whose weights are too large for what it is
// to be done with: held in memory, or written into one protobuf file.
type SizeError struct {
	// Size is the estimate, Limit the bound in bytes, and What what bounds
	// it ("memory", "a protobuf file").
	Size  Size
	Limit int64
	What  string
	// Hint says what to do about it.
	Hint string
}

func (e *SizeError) Error() string {
	msg := fmt.Sprintf("builder: the config describes %s: more than %s allows (%s)", e.Size, e.What, sysmem.FormatBytes(e.Limit))
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// checkLargest refuses a streamed config whose largest tensor (generated
// or transposed in memory while it is written) exceeds half of memory.
func checkLargest(cfg *Config, opts Options) error {
	s, err := EstimateSize(cfg, opts)
	if err != nil {
		return err
	}
	mem := sysmem.Limit()
	if b := satMul(s.Largest.Elements(), 4); b < 0 || b > mem/2 {
		return &SizeError{Size: s, Limit: mem / 2, What: "half of this machine's memory for its largest tensor", Hint: "check num_tokens, dim and max_seq_len"}
	}
	return nil
}

// checkSize refuses a config whose random weights would not fit in memory,
// or whose largest tensor exceeds half of it.
func checkSize(cfg *Config, opts Options) error {
	s, err := EstimateSize(cfg, opts)
	if err != nil {
		return err
	}
	mem := sysmem.Limit()
	if b := s.Bytes(); b < 0 || b > mem/2 {
		return &SizeError{Size: s, Limit: mem / 2, What: "half of this machine's memory", Hint: "check num_tokens, dim, depth and max_seq_len"}
	}
	return nil
}

func satProduct(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt64/d {
			return math.MaxInt64
		}
		n *= d
	}
	return n
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a < 0 || b < 0 {
		return -1
	}
	if b != 0 && a > math.MaxInt64/b {
		return -1
	}
	return a * b
}

// humanCount renders a count as "140,815", "19.2 million", "1.02 billion".
func humanCount(n int64) string {
	switch {
	case n == math.MaxInt64:
		return "more than 9e18"
	case n >= 1e9:
		return fmt.Sprintf("%.3g billion", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3g million", float64(n)/1e6)
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
