package sysmem

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	meminfo := filepath.Join(dir, "meminfo")
	if err := os.WriteFile(meminfo, []byte("MemTotal:       24576000 kB\nMemFree: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const total = 24576000 << 10
	cg := filepath.Join(dir, "cg")
	if err := os.MkdirAll(filepath.Join(cg, "memory"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		v2, v1  string // file contents; "" = absent
		meminfo string
		want    int64
	}{
		{name: "no cgroup", meminfo: meminfo, want: total},
		{name: "v2 max", v2: "max\n", meminfo: meminfo, want: total},
		{name: "v2 limit", v2: "4294967296\n", meminfo: meminfo, want: 4 << 30},
		{name: "v2 above total", v2: "99999999999999\n", meminfo: meminfo, want: total},
		{name: "v1 limit", v1: "2147483648\n", meminfo: meminfo, want: 2 << 30},
		{name: "v1 unlimited", v1: "9223372036854771712\n", meminfo: meminfo, want: total},
		{name: "no meminfo", meminfo: filepath.Join(dir, "absent"), want: fallback},
		{name: "no meminfo, v2 limit", v2: "1073741824", meminfo: filepath.Join(dir, "absent"), want: 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for f, c := range map[string]string{filepath.Join(cg, "memory.max"): tt.v2, filepath.Join(cg, "memory", "memory.limit_in_bytes"): tt.v1} {
				_ = os.Remove(f)
				if c != "" {
					if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := read(tt.meminfo, cg); got != tt.want {
				t.Errorf("read = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestLimitPositive(t *testing.T) {
	if l := Limit(); l < 64<<20 {
		t.Errorf("Limit() = %d, want at least 64 MiB on any machine that runs the tests", l)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{40e9, "37.3 GiB"}, {1 << 40, "1.0 TiB"}, {-1, "more than 8 EiB"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1024", want: 1024},
		{in: "512MB", want: 512e6},
		{in: "512MiB", want: 512 << 20},
		{in: "1.5GiB", want: 3 << 29},
		{in: "2g", want: 2 << 30},
		{in: " 3 TB ", want: 3e12},
		{in: "-1", wantErr: true},
		{in: "12 parsecs", wantErr: true},
		{in: "", wantErr: true},
		{in: "99999999999TiB", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
