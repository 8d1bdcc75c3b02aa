package cmdutil

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// NoArgs rejects positional arguments with a *FlagError.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("unexpected argument %q: %s takes flags only", args[0], cmd.CommandPath())
	}
	return nil
}

// ExactArgs requires n positional arguments; missing gives a *FlagError
// with message missing, extra ones a *FlagError naming the first.
func ExactArgs(n int, missing string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("%s", missing)
		}
		if len(args) > n {
			return FlagErrorf("unexpected argument %q: %s takes %d argument(s)", args[n], cmd.CommandPath(), n)
		}
		return nil
	}
}

// enumValue is a string flag restricted to a list of values.
type enumValue struct {
	p       *string
	options []string
}

func (e *enumValue) String() string { return *e.p }
func (e *enumValue) Type() string   { return "string" }

func (e *enumValue) Set(v string) error {
	for _, o := range e.options {
		if v == o {
			*e.p = v
			return nil
		}
	}
	return fmt.Errorf("want %s", orList(e.options))
}

// StringEnumFlag defines a string flag that accepts only options; a bad value
// fails flag parsing with `invalid argument "x" for "--name" flag: want a, b
// or c`. The usage text gets the options appended.
func StringEnumFlag(fs *pflag.FlagSet, p *string, name, shorthand, def string, options []string, usage string) *pflag.Flag {
	*p = def
	fs.VarP(&enumValue{p: p, options: options}, name, shorthand, fmt.Sprintf("%s: {%s}", usage, strings.Join(options, "|")))
	return fs.Lookup(name)
}

// orList renders ["a", "b", "c"] as "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// OrList renders values as "17 or 18", "a, b or c".
func OrList[T any](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = fmt.Sprint(v)
	}
	return orList(s)
}

// Options returns the values the flag accepts (for shell completion).
func (e *enumValue) Options() []string { return e.options }

// AddOpsetFlag defines an --opset flag accepting one of opsets (checked
// by the command), listed in its help and offered by completion.
func AddOpsetFlag(cmd *cobra.Command, p *int64, def int64, opsets []int64, usage string) {
	values := make([]string, len(opsets))
	for i, o := range opsets {
		values[i] = strconv.FormatInt(o, 10)
	}
	cmd.Flags().Int64Var(p, "opset", def, EnumUsage(usage, values))
	_ = cmd.RegisterFlagCompletionFunc("opset", cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// EnumUsage appends the values to a flag's help text as StringEnumFlag
// does: "usage: {a|b}".
func EnumUsage(usage string, options []string) string {
	return fmt.Sprintf("%s: {%s}", usage, strings.Join(options, "|"))
}

// RegisterEnumCompletions makes every StringEnumFlag of root and its subcommands complete its values, unless
// the command registered its own completion for the flag.
func RegisterEnumCompletions(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		register := func(f *pflag.Flag) {
			if e, ok := f.Value.(interface{ Options() []string }); ok {
				if _, exists := c.GetFlagCompletionFunc(f.Name); !exists {
					_ = c.RegisterFlagCompletionFunc(f.Name, cobra.FixedCompletions(e.Options(), cobra.ShellCompDirectiveNoFileComp))
				}
			}
		}
		c.Flags().VisitAll(register)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
