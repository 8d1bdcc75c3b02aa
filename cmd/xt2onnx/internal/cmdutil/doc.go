// Package cmdutil holds what the xt2onnx commands share: the error kinds the
// exit status is chosen from ([FlagError], [ErrSilent]), argument and enum
// flag validation, tables that align on a terminal and are tab-separated
// elsewhere, and JSON output.
package cmdutil
