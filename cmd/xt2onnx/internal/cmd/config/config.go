package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
)

// NewCmdConfig returns the config command group.
func NewCmdConfig(f *factory.Factory, runF func(*InferOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config <command>",
		Short: "work with model configs",
		Long:  `Work with model configs (the JSON form of the x-transformers constructor keyword arguments).`,
		Args:  cmdutil.NoArgs,
	}
	cmd.AddCommand(NewCmdInfer(f, runF))
	return cmd
}

// InferOptions are the parsed flags of `xt2onnx config infer`.
type InferOptions struct {
	IO          *iostreams.IOStreams
	WeightsPath string
	Output      string
	JSON        bool
}

// NewCmdInfer returns the infer command. runF, when not nil, is called with
// the parsed options instead of inferring (for tests).
func NewCmdInfer(f *factory.Factory, runF func(*InferOptions) error) *cobra.Command {
	opts := &InferOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "infer --weights FILE [-o config.json]",
		Short: "reconstruct a model config from its weights",
		Long: `Reconstruct the config of an x-transformers model from its safetensors
state_dict: the kind, dims, depth and layer layout, vocabulary, feedforward
width and GLU, norms, residual gates and scales, qk-norm gains, rotary width,
memory tokens and key/values, position tables and biases — everything whose
parameters show in the names and shapes.

What the weights cannot show is listed on stderr as "unknown: KEY: reason",
with a guess or the x-transformers default written in its place: the number
of heads when no tensor splits the attention width, Encoder or Decoder,
options without parameters (ALiBi, the qk-norm scale and groups, sparse
top-k, residual attention, …), max_seq_len without a position table, and the
x-transformers release. Edit those, then export:

  xt2onnx export --config config.json --weights model.safetensors -o model.onnx

The config goes to -o (or stdout). It is checked before it is written: it
validates and rebuilds exactly the file's tensor names and shapes. With
--json, one object {"config": …, "unknown": [{"key", "reason"}, …]} goes to
stdout.`,
		Example: `  xt2onnx config infer --weights model.safetensors -o config.json
  xt2onnx config infer --weights model.safetensors --json | jq .unknown`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.WeightsPath == "" {
				return cmdutil.FlagErrorf("--weights is required: name the safetensors state_dict")
			}
			if runF != nil {
				return runF(opts)
			}
			return inferRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.WeightsPath, "weights", "", "safetensors state_dict `FILE`")
	fl.StringVarP(&opts.Output, "output", "o", "", "write the config to `FILE` instead of stdout")
	fl.BoolVar(&opts.JSON, "json", false, "print the config and the unknown keys as one JSON object")
	_ = cmd.MarkFlagFilename("weights", "safetensors")
	_ = cmd.MarkFlagFilename("output", "json")
	return cmd
}

func inferRun(o *InferOptions) error {
	ios := o.IO
	w, err := builder.OpenWeights(o.WeightsPath)
	if err != nil {
		return err
	}
	defer w.Close()
	inf, err := builder.InferConfig(w)
	if err != nil {
		return err
	}
	cfg, err := inf.Config.JSON()
	if err != nil {
		return err
	}
	if o.JSON {
		return cmdutil.WriteJSON(ios.Out, struct {
			Config  json.RawMessage   `json:"config"`
			Unknown []builder.Unknown `json:"unknown"`
		}{cfg, inf.Unknown})
	}
	cfg = append(cfg, '\n')
	if o.Output != "" {
		if err := writeFile(o.Output, cfg); err != nil {
			return err
		}
		fmt.Fprintf(ios.ErrOut, "wrote %s (%s)\n", o.Output, inf.Config.Kind)
	} else if _, err := ios.Out.Write(cfg); err != nil {
		return err
	}
	printUnknown(ios, inf.Unknown)
	return nil
}

// printUnknown writes the guesses one reason a line ("check: KEYS:
// reason"), then one line each for the options left at their defaults and
// those whose other values give the same model.
func printUnknown(ios *iostreams.IOStreams, unknown []builder.Unknown) {
	var order []string
	keys := map[string][]string{}
	var unseen, same []string
	for _, u := range unknown {
		switch u.Kind {
		case builder.UnknownUnseen:
			unseen = append(unseen, u.Key)
			continue
		case builder.UnknownSame:
			same = append(same, u.Key)
			continue
		}
		if _, ok := keys[u.Reason]; !ok {
			order = append(order, u.Reason)
		}
		keys[u.Reason] = append(keys[u.Reason], u.Key)
	}
	for _, r := range order {
		fmt.Fprintf(ios.ErrOut, "check: %s: %s\n", strings.Join(keys[r], ", "), r)
	}
	if len(unseen) > 0 {
		fmt.Fprintf(ios.ErrOut, "left at the x-transformers defaults (they own no parameters; set any the model was built with): %s\n", strings.Join(unseen, ", "))
	}
	if len(same) > 0 {
		fmt.Fprintf(ios.ErrOut, "written one of several ways that give the same model: %s\n", strings.Join(same, ", "))
	}
}

// writeFile writes data to path through a temporary file in its folder.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
