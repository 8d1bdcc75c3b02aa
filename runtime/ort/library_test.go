package ort

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestFetchedPath(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XT2ONNX_CACHE": "/c", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/c/onnxruntime/1.30.0/libonnxruntime.so.1"},
		{map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/xt2onnx/onnxruntime/1.30.0/libonnxruntime.so.1"},
		{map[string]string{"HOME": "/h"}, "/h/.cache/xt2onnx/onnxruntime/1.30.0/libonnxruntime.so.1"},
		{map[string]string{}, ""},
	}
	for _, tc := range tests {
		got := fetchedPath(func(k string) string { return tc.env[k] })
		if got != tc.want {
			t.Errorf("fetchedPath(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

func touch(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("lib"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	explicit := touch(t, filepath.Join(dir, "explicit", "libonnxruntime.so"))
	envLib := touch(t, filepath.Join(dir, "env", "libonnxruntime.so.1.30.0"))
	cacheRoot := filepath.Join(dir, "cache")
	fetched := touch(t, filepath.Join(cacheRoot, "onnxruntime", "1.30.0", "libonnxruntime.so.1"))
	emptyCache := filepath.Join(dir, "emptycache")
	sysDir := filepath.Join(dir, "usrlocal")
	sysLib := touch(t, filepath.Join(sysDir, "libonnxruntime.so.1"))

	loaderHas := func(name, path string) func(string) (string, error) {
		return func(n string) (string, error) {
			if n == name {
				return path, nil
			}
			return "", errors.New(n + ": cannot open shared object file")
		}
	}
	loaderNone := loaderHas("", "")

	tests := []struct {
		name     string
		explicit string
		env      map[string]string
		probe    func(string) (string, error)
		dirs     []string
		want     string
		wantErr  []string
		notFound bool
	}{
		{name: "explicit wins", explicit: explicit, env: map[string]string{"ONNXRUNTIME_LIB": envLib, "XT2ONNX_CACHE": cacheRoot},
			probe: loaderNone, want: explicit},
		{name: "explicit missing is an error", explicit: filepath.Join(dir, "nope.so"), env: map[string]string{"XT2ONNX_CACHE": cacheRoot},
			probe: loaderNone, wantErr: []string{`ort: Options.LibraryPath "` + filepath.Join(dir, "nope.so") + `": no such file`, "make ort"}},
		{name: "explicit bare name goes to the loader", explicit: "libonnxruntime.so.1", probe: loaderHas("libonnxruntime.so.1", "/usr/lib/libonnxruntime.so.1"),
			want: "/usr/lib/libonnxruntime.so.1"},
		{name: "env before cache", env: map[string]string{"ONNXRUNTIME_LIB": envLib, "XT2ONNX_CACHE": cacheRoot},
			probe: loaderNone, want: envLib},
		{name: "env missing is an error", env: map[string]string{"ONNXRUNTIME_LIB": filepath.Join(dir, "gone.so"), "XT2ONNX_CACHE": cacheRoot},
			probe: loaderNone, wantErr: []string{`ort: ONNXRUNTIME_LIB="` + filepath.Join(dir, "gone.so") + `": no such file; fix the variable or unset it`}},
		{name: "env is a directory", env: map[string]string{"ONNXRUNTIME_LIB": dir},
			probe: loaderNone, wantErr: []string{"is a directory"}},
		{name: "fetched copy via XT2ONNX_CACHE", env: map[string]string{"XT2ONNX_CACHE": cacheRoot},
			probe: loaderHas("libonnxruntime.so", "/sys/lib.so"), want: fetched},
		{name: "XDG_CACHE_HOME locates the fetched copy", env: map[string]string{"XDG_CACHE_HOME": dir + "/xdg", "HOME": "/nonexistent"},
			probe: loaderNone, wantErr: []string{dir + "/xdg/xt2onnx/onnxruntime/1.30.0/libonnxruntime.so.1 (no such file)"}, notFound: true},
		{name: "system loader after cache", env: map[string]string{"XT2ONNX_CACHE": emptyCache},
			probe: loaderHas("libonnxruntime.so.1", "/usr/lib/x86_64-linux-gnu/libonnxruntime.so.1.30.0"),
			want:  "/usr/lib/x86_64-linux-gnu/libonnxruntime.so.1.30.0"},
		{name: "system dir last", env: map[string]string{"XT2ONNX_CACHE": emptyCache}, probe: loaderNone, dirs: []string{filepath.Join(dir, "none"), sysDir},
			want: sysLib},
		{name: "nothing found", env: map[string]string{"XT2ONNX_CACHE": emptyCache}, probe: loaderNone, dirs: []string{filepath.Join(dir, "none")},
			notFound: true,
			wantErr: []string{
				"ort: ONNX Runtime shared library not found; tried: ONNXRUNTIME_LIB (unset); ",
				emptyCache + "/onnxruntime/1.30.0/libonnxruntime.so.1 (no such file); ",
				"dynamic loader libonnxruntime.so (libonnxruntime.so: cannot open shared object file); ",
				"dynamic loader libonnxruntime.so.1 (libonnxruntime.so.1: cannot open shared object file); ",
				"libonnxruntime.so, libonnxruntime.so.1 in " + filepath.Join(dir, "none") + " (not found)",
				"fix: run `make ort` (scripts/fetch-onnxruntime.sh) or set ONNXRUNTIME_LIB",
			}},
		{name: "no HOME at all", env: map[string]string{}, probe: loaderNone, notFound: true,
			wantErr: []string{"the fetched copy (XT2ONNX_CACHE, XDG_CACHE_HOME and HOME are all unset)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := discovery{
				getenv: func(k string) string { return tc.env[k] },
				probe:  tc.probe,
				dirs:   tc.dirs,
				names:  []string{"libonnxruntime.so", "libonnxruntime.so.1"},
			}
			got, err := discover(tc.explicit, d)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("discover = %q, want an error", got)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q\nlacks %q", err, w)
					}
				}
				var nf *LibraryNotFoundError
				if errors.As(err, &nf) != tc.notFound {
					t.Errorf("error %T: LibraryNotFoundError = %v, want %v", err, !tc.notFound, tc.notFound)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("discover = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSystemNames(t *testing.T) {
	tests := map[string]string{"linux": "libonnxruntime.so,libonnxruntime.so.1", "darwin": "libonnxruntime.dylib", "windows": "onnxruntime.dll"}
	for goos, want := range tests {
		if got := strings.Join(systemNames(goos), ","); got != want {
			t.Errorf("systemNames(%s) = %s, want %s", goos, got, want)
		}
	}
}

func TestProbeLoader(t *testing.T) {
	requireORT(t)
	// The real loader: a name it cannot find, and the loaded library by
	// full path (dladdr must report the same file).
	if _, err := probeLoader("libxt2onnx-does-not-exist.so"); err == nil || !strings.Contains(err.Error(), "libxt2onnx-does-not-exist.so") {
		t.Errorf("probe of a missing library: %v", err)
	}
	lib := env.path
	got, err := probeLoader(lib)
	if err != nil {
		t.Fatal(err)
	}
	if !sameFile(got, lib) {
		t.Errorf("probeLoader(%s) = %s", lib, got)
	}
	// A shared library that is not ONNX Runtime.
	if _, err := probeLoader("libdl.so.2"); err == nil || !strings.Contains(err.Error(), "not an ONNX Runtime library") {
		t.Errorf("probe of libdl: %v", err)
	}
}

func TestLibStateCachesFailures(t *testing.T) {
	var st libState
	calls := map[string]int{}
	fail := func(p string) (string, string, error) {
		calls[p]++
		return "", "", errors.New("ort: no library at " + p)
	}
	e1 := second(st.ensure("", fail))
	e2 := second(st.ensure("", fail))
	if e1 == nil || e1 != e2 || calls[""] != 1 {
		t.Errorf("failed load: errors %v, %v, %d loads; want the same error from one load", e1, e2, calls[""])
	}
	// Another explicit path is a new request.
	if e := second(st.ensure("/x.so", fail)); e == nil || calls["/x.so"] != 1 {
		t.Errorf("explicit path: %v, %d loads", e, calls["/x.so"])
	}

	lib := touch(t, filepath.Join(t.TempDir(), "libonnxruntime.so"))
	other := touch(t, filepath.Join(t.TempDir(), "libonnxruntime.so"))
	ok := func(p string) (string, string, error) { calls["ok"]++; return lib, "9.9.9", nil }
	if p, err := st.ensure(lib, ok); err != nil || p != lib || st.version != "9.9.9" {
		t.Fatalf("ensure = %q, %v", p, err)
	}
	// Loaded: empty and same path succeed without loading again; another
	// file is refused.
	for _, p := range []string{"", lib, filepath.Join(filepath.Dir(lib), ".", "libonnxruntime.so")} {
		if got, err := st.ensure(p, ok); err != nil || got != lib {
			t.Errorf("ensure(%q) after load = %q, %v", p, got, err)
		}
	}
	if calls["ok"] != 1 {
		t.Errorf("%d loads, want 1", calls["ok"])
	}
	err := second(st.ensure(other, ok))
	if err == nil || !strings.Contains(err.Error(), "already loaded from "+lib) {
		t.Errorf("ensure(other) = %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestInitAndVersion(t *testing.T) {
	requireORT(t)
	v := Version()
	m := regexp.MustCompile(`^1\.(\d+)\.\d+`).FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("Version() = %q", v)
	}
	if minor, _ := strconv.Atoi(m[1]); minor < 24 {
		t.Errorf("Version() = %q, want >= 1.24", v)
	}
	if err := Init(env.path); err != nil {
		t.Errorf("Init(loaded path): %v", err)
	}
	other := touch(t, filepath.Join(t.TempDir(), "libonnxruntime.so"))
	if err := Init(other); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("Init(another library) = %v", err)
	}
}

// TestLoadFailureSubprocess loads a file that is not a library, in a child
// process (the parent has ONNX Runtime loaded already), and checks that the
// error names the file and the fix and is the same on the second call.
func TestLoadFailureSubprocess(t *testing.T) {
	if os.Getenv("XT2ONNX_ORT_CHILD") == "1" {
		e1 := Init("")
		e2 := Init("")
		if e1 == nil || e1 != e2 {
			t.Fatalf("child: errors %v / %v", e1, e2)
		}
		os.Stdout.WriteString("CHILD-ERROR: " + e1.Error() + "\n")
		return
	}
	bad := touch(t, filepath.Join(t.TempDir(), "libonnxruntime.so"))
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadFailureSubprocess$", "-test.v")
	cmd.Env = append(os.Environ(), "XT2ONNX_ORT_CHILD=1", "ONNXRUNTIME_LIB="+bad)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	for _, w := range []string{"CHILD-ERROR: ort: load ONNX Runtime library " + bad, "make ort", "ONNXRUNTIME_LIB"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("child output lacks %q:\n%s", w, out)
		}
	}
}
