package inputs

import (
	"github.com/spf13/pflag"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
)

// Source is where a command takes model inputs from: a safetensors file
// (--inputs, --prefix) or random values (--random, --batch, --seq,
// --seed). run and parity share it.
type Source struct {
	InputsPath string // --inputs: safetensors file with one tensor per input
	Prefix     string // --prefix: added to input names to find the tensors
	Random     bool   // --random: generate the inputs
	Batch      int64
	Seq        int64
	Seed       uint64
}

// AddFlags registers the input flags on fl.
func (s *Source) AddFlags(fl *pflag.FlagSet) {
	fl.StringVar(&s.InputsPath, "inputs", "", "safetensors `FILE` with one tensor per model input")
	fl.StringVar(&s.Prefix, "prefix", "", "prefix of the input tensor names in --inputs, e.g. input.")
	fl.BoolVar(&s.Random, "random", false, "generate random inputs (see --batch, --seq, --seed)")
	fl.Int64Var(&s.Batch, "batch", 1, "batch size of --random inputs")
	fl.Int64Var(&s.Seq, "seq", 16, "sequence length of --random inputs")
	fl.Uint64Var(&s.Seed, "seed", 0, "seed of --random inputs")
}

// Validate checks the input flags; changed reports whether a flag was set
// on the command line.
func (s *Source) Validate(changed func(name string) bool) error {
	switch {
	case s.InputsPath == "" && !s.Random:
		return cmdutil.FlagErrorf("no inputs given: use --inputs FILE.safetensors or --random")
	case s.InputsPath != "" && s.Random:
		return cmdutil.FlagErrorf("--inputs and --random cannot be used together")
	case changed("prefix") && s.InputsPath == "":
		return cmdutil.FlagErrorf("--prefix applies to --inputs only")
	case !s.Random && (changed("batch") || changed("seq") || changed("seed")):
		return cmdutil.FlagErrorf("--batch, --seq and --seed apply to --random only")
	case s.Batch < 1:
		return cmdutil.FlagErrorf("--batch %d: must be at least 1", s.Batch)
	case s.Seq < 1:
		return cmdutil.FlagErrorf("--seq %d: must be at least 1", s.Seq)
	}
	return nil
}
