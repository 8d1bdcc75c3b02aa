package runtime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xt2onnx/xt2onnx/internal/textdist"
)

// ProblemKind classifies one problem found by [CheckInputs].
type ProblemKind int

// The kinds of input problems.
const (
	// MissingInput: a model input has no tensor.
	MissingInput ProblemKind = iota + 1
	// UnknownInput: a tensor is given under a name the model has no input
	// for.
	UnknownInput
	// NilInput: the tensor given for an input is nil.
	NilInput
	// DTypeMismatch: the tensor's dtype differs from the input's.
	DTypeMismatch
	// RankMismatch: the tensor's rank differs from the input's.
	RankMismatch
	// DimMismatch: a fixed dim of the input has another size.
	DimMismatch
	// DimConflict: one symbolic dim name is bound to different sizes.
	DimConflict
	// TokenOutOfRange: a token id is negative or not below the model's
	// vocabulary size (ValueInfo.NumTokens).
	TokenOutOfRange
)

var problemKindNames = map[ProblemKind]string{
	MissingInput:    "missing input",
	UnknownInput:    "unknown input",
	NilInput:        "nil input",
	DTypeMismatch:   "dtype mismatch",
	RankMismatch:    "rank mismatch",
	DimMismatch:     "dim mismatch",
	DimConflict:     "dim conflict",
	TokenOutOfRange: "token out of range",
}

// String names the kind, e.g. "dtype mismatch".
func (k ProblemKind) String() string {
	if s, ok := problemKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("problem(%d)", int(k))
}

// InputProblem is one problem with the inputs given to a run.
type InputProblem struct {
	// Input is the input name the problem is about.
	Input string
	// Kind classifies the problem.
	Kind ProblemKind
	// Message describes it, e.g. `input "x": got float32, model expects
	// int64`.
	Message string
}

// InputError reports every problem [CheckInputs] found, in model input
// order, then unknown names sorted.
type InputError struct {
	Problems []InputProblem
}

// Error joins the problems' messages with "; ".
func (e *InputError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	if len(msgs) == 1 {
		return "runtime: " + msgs[0]
	}
	return fmt.Sprintf("runtime: %d input problems: %s", len(msgs), strings.Join(msgs, "; "))
}

// Has reports whether one of the problems is of kind k.
func (e *InputError) Has(k ProblemKind) bool {
	for _, p := range e.Problems {
		if p.Kind == k {
			return true
		}
	}
	return false
}

type dimBinding struct {
	size  int64
	input string
	dim   int
}

// CheckInputs checks inputs against the model inputs infos: every input
// present and non-nil, no unknown names (with the nearest model input
// suggested), dtypes and ranks equal, fixed dims equal, each symbolic dim
// name bound to one size across all inputs, and every token id of an input
// with NumTokens inside [0, NumTokens). It returns nil or an *InputError
// listing every problem. Backends call it before running.
func CheckInputs(infos []ValueInfo, inputs map[string]*Tensor) error {
	var probs []InputProblem
	add := func(name string, k ProblemKind, format string, args ...any) {
		probs = append(probs, InputProblem{Input: name, Kind: k, Message: fmt.Sprintf(format, args...)})
	}
	known := make(map[string]bool, len(infos))
	bound := map[string]dimBinding{}
	for _, info := range infos {
		known[info.Name] = true
		t, ok := inputs[info.Name]
		if !ok {
			add(info.Name, MissingInput, "missing input %q (%s%s)", info.Name, info.DType, info.ShapeString())
			continue
		}
		if t == nil {
			add(info.Name, NilInput, "input %q is a nil tensor", info.Name)
			continue
		}
		if t.DType() != info.DType {
			add(info.Name, DTypeMismatch, "input %q: got %s, model expects %s", info.Name, t.DType(), info.DType)
		} else if info.NumTokens > 0 {
			if msg := checkTokens(t, info.NumTokens); msg != "" {
				add(info.Name, TokenOutOfRange, "input %q: %s", info.Name, msg)
			}
		}
		if info.Shape == nil {
			continue // rank not declared
		}
		if t.Rank() != len(info.Shape) {
			add(info.Name, RankMismatch, "input %q: got rank %d (shape %s), model expects rank %d %s",
				info.Name, t.Rank(), FormatShape(t.shape), len(info.Shape), info.ShapeString())
			continue
		}
		for i, want := range info.Shape {
			got := t.shape[i]
			if want >= 0 && got != want {
				add(info.Name, DimMismatch, "input %q: dim %d is %d, model expects %d", info.Name, i, got, want)
				continue
			}
			name := info.dimName(i)
			if want >= 0 || name == "" {
				continue
			}
			if b, ok := bound[name]; !ok {
				bound[name] = dimBinding{size: got, input: info.Name, dim: i}
			} else if b.size != got {
				add(info.Name, DimConflict, "input %q: dim %d (%q) is %d, but %q is %d in input %q (dim %d)",
					info.Name, i, name, got, name, b.size, b.input, b.dim)
			}
		}
	}
	var unknown []string
	for name := range inputs {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		add(name, UnknownInput, "unknown input %q%s", name, suggest(name, infos, "inputs"))
	}
	if len(probs) == 0 {
		return nil
	}
	return &InputError{Problems: probs}
}

// SelectOutputs returns the outputs named by names, in model order, or all
// of them (copied) when names is empty. Unknown and repeated names are
// errors.
func SelectOutputs(all []ValueInfo, names []string) ([]ValueInfo, error) {
	if len(names) == 0 {
		return CloneValueInfos(all), nil
	}
	want := make(map[string]bool, len(names))
	var errs []string
	for _, n := range names {
		if want[n] {
			errs = append(errs, fmt.Sprintf("output %q requested twice", n))
		}
		want[n] = true
	}
	have := make(map[string]bool, len(all))
	var out []ValueInfo
	for _, v := range all {
		have[v.Name] = true
		if want[v.Name] {
			out = append(out, v.Clone())
		}
	}
	for _, n := range names {
		if !have[n] {
			errs = append(errs, fmt.Sprintf("unknown output %q%s", n, suggest(n, all, "outputs")))
			have[n] = true // report once
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("runtime: Options.OutputNames: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// Clone returns a deep copy of v.
func (v ValueInfo) Clone() ValueInfo {
	v.Shape = slices.Clone(v.Shape)
	v.DimNames = slices.Clone(v.DimNames)
	return v
}

// CloneValueInfos returns a deep copy of infos.
func CloneValueInfos(infos []ValueInfo) []ValueInfo {
	out := make([]ValueInfo, len(infos))
	for i, v := range infos {
		out[i] = v.Clone()
	}
	return out
}

// suggest returns `; did you mean "y"? (model inputs: a, b)` for the nearest
// name in infos, or just the list when none is close.
func suggest(name string, infos []ValueInfo, what string) string {
	names := make([]string, len(infos))
	for i, v := range infos {
		names[i] = v.Name
	}
	list := fmt.Sprintf(" (model %s: %s)", what, strings.Join(names, ", "))
	if len(infos) == 0 {
		list = fmt.Sprintf(" (the model has no %s)", what)
	}
	if best := textdist.Nearest(name, names); best != "" {
		return fmt.Sprintf("; did you mean %q?%s", best, list)
	}
	return list
}

// checkTokens returns a message naming the first token id of t outside
// [0, vocab), with its position and the count of such ids, or "".
func checkTokens(t *Tensor, vocab int64) string {
	var ids []int64
	switch v := t.data.(type) {
	case []int64:
		ids = v
	case []int32:
		ids = make([]int64, len(v))
		for i, x := range v {
			ids[i] = int64(x)
		}
	default:
		return ""
	}
	first, bad := -1, 0
	for i, id := range ids {
		if id < 0 || id >= vocab {
			if first < 0 {
				first = i
			}
			bad++
		}
	}
	if first < 0 {
		return ""
	}
	pos := make([]int64, len(t.shape))
	rest := int64(first)
	for d := len(t.shape) - 1; d >= 0; d-- {
		if t.shape[d] > 0 {
			pos[d] = rest % t.shape[d]
			rest /= t.shape[d]
		}
	}
	where := "index " + FormatShape(pos)
	if len(pos) == 2 {
		where = fmt.Sprintf("row %d, position %d", pos[0], pos[1])
	}
	msg := fmt.Sprintf("token id %d at %s is outside the vocabulary [0, %d)", ids[first], where, vocab)
	if bad > 1 {
		msg += fmt.Sprintf("; %d of the %d ids are", bad, len(ids))
	}
	return msg
}
