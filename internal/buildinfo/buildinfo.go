// Package buildinfo gives the xt2onnx version a binary or a program that
// imports xt2onnx was built with: the value release builds set with
// -ldflags when there is one, otherwise what the Go toolchain recorded
// (runtime/debug.ReadBuildInfo): the module version of a `go install
// …@v0.2.0` or of a dependency, the tag or pseudo-version `go build` derives
// from the checkout, or the VCS revision. Only when none of these is known
// is it "dev".
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// ModulePath is the path of the xt2onnx module.
const ModulePath = "github.com/xt2onnx/xt2onnx"

// Unknown is the version of a build that records none.
const Unknown = "dev"

// Version returns ldflags when it is set (not "" and not Unknown), else
// the version of the xt2onnx module in this binary's build information.
func Version(ldflags string) string {
	if ldflags != "" && ldflags != Unknown {
		return ldflags
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Unknown
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo returns the version of the xt2onnx module that bi records:
// the main module's version when xt2onnx is the main module, else the
// version of the dependency (or of what replaces it). A main module built
// from a checkout without a version ("(devel)") is named by its VCS
// revision (12 digits, "+dirty" with local changes); with none, Unknown.
func FromBuildInfo(bi *debug.BuildInfo) string {
	if bi == nil {
		return Unknown
	}
	if bi.Main.Path == ModulePath {
		if v := known(bi.Main.Version); v != "" {
			return v
		}
		return fromVCS(bi.Settings)
	}
	for _, m := range bi.Deps {
		if m.Path != ModulePath {
			continue
		}
		if m.Replace != nil {
			if v := known(m.Replace.Version); v != "" {
				return v
			}
		}
		if v := known(m.Version); v != "" {
			return v
		}
	}
	return Unknown
}

// known returns v unless it says no version was recorded.
func known(v string) string {
	if v == "" || v == "(devel)" {
		return ""
	}
	return v
}

// fromVCS names a build by its VCS revision.
func fromVCS(settings []debug.BuildSetting) string {
	var rev string
	dirty := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return Unknown
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return "devel-" + strings.ToLower(rev)
}
