package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "-compiler", Value: "gc"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "ab14ca9d0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"none", nil, "dev"},
		{"go install at a tag", &debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: "v0.2.0"}}, "v0.2.0"},
		{"go build in a checkout", &debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: "v0.2.1-0.20261204020000-ab14ca9d0123+dirty"}},
			"v0.2.1-0.20261204020000-ab14ca9d0123+dirty"},
		{"devel with a revision", &debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: "(devel)"}, Settings: vcs(rev, "false")}, "devel-ab14ca9d0123"},
		{"devel with changes", &debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: "(devel)"}, Settings: vcs(rev, "true")}, "devel-ab14ca9d0123+dirty"},
		{"devel without VCS", &debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: "(devel)"}}, "dev"},
		{"a dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v1.0.0"},
			Deps: []*debug.Module{{Path: "golang.org/x/sys", Version: "v0.50.0"}, {Path: ModulePath, Version: "v0.2.0"}}}, "v0.2.0"},
		{"a replaced dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: ModulePath, Version: "v0.2.0", Replace: &debug.Module{Path: "../", Version: ""}}}}, "v0.2.0"},
		{"a dependency replaced by a version", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: ModulePath, Version: "v0.2.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v0.2.1"}}}}, "v0.2.1"},
		{"not linked in", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v1.0.0"}}, "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromBuildInfo(tc.bi); got != tc.want {
				t.Errorf("FromBuildInfo = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVersionPrefersLdflags(t *testing.T) {
	if got := Version("v9.8.7"); got != "v9.8.7" {
		t.Errorf("Version(v9.8.7) = %q", got)
	}
	// A test binary's main module is xt2onnx built from the checkout, so
	// without ldflags the version comes from the build information.
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build information in the test binary")
	}
	for _, ld := range []string{"", "dev"} {
		if got, want := Version(ld), FromBuildInfo(bi); got != want {
			t.Errorf("Version(%q) = %q, want %q (from the build information)", ld, got, want)
		}
	}
}
