// Package sysmem reports how much memory this process may use: the
// machine's physical memory, lowered by a cgroup (container) limit when one
// is set. The allocation budgets of the native backend and the CLI are
// derived from it.
package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
)

// fallback is the memory assumed when the system cannot be asked (no
// /proc, an unreadable cgroup): 8 GiB, a modest machine.
const fallback = 8 << 30

var (
	once  sync.Once
	limit int64
)

// Limit returns the bytes of memory available to the process: the smaller
// of the machine's physical memory (MemTotal of /proc/meminfo) and the
// memory limit of its cgroup (v2 memory.max, v1 memory.limit_in_bytes).
// Where neither can be read it returns 8 GiB. The value is read once.
func Limit() int64 {
	once.Do(func() { limit = read("/proc/meminfo", "/sys/fs/cgroup") })
	return limit
}

// read computes Limit from the given meminfo file and cgroup root.
func read(meminfo, cgroupRoot string) int64 {
	total := memTotal(meminfo)
	if total <= 0 {
		total = fallback
	}
	for _, f := range []string{cgroupRoot + "/memory.max", cgroupRoot + "/memory/memory.limit_in_bytes"} {
		if c := cgroupLimit(f); c > 0 && c < total {
			total = c
		}
	}
	return total
}

// memTotal returns MemTotal of a /proc/meminfo file in bytes, or 0.
func memTotal(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb <= 0 {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cgroupLimit reads a cgroup memory limit file: a byte count, or "max"
// (v2) or a huge number (v1) for none, which give 0.
func cgroupLimit(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0
	}
	return n
}

// FormatBytes renders n bytes for messages: "512 B", "1.5 KiB", "40.0 GiB".
func FormatBytes(n int64) string {
	if n < 0 {
		return "more than 8 EiB"
	}
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}

// ParseBytes parses a byte count as users write it: "1073741824", "512MB",
// "1.5GiB", "2g". Decimal (kB, MB, GB, TB) and binary (KiB, MiB, GiB,
// TiB; K, M, G, T) units are accepted, case-insensitively.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, &strconv.NumError{Func: "ParseBytes", Num: s, Err: strconv.ErrSyntax}
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
		"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
	}[unit]
	if mult == 0 {
		return 0, &strconv.NumError{Func: "ParseBytes", Num: s, Err: strconv.ErrSyntax}
	}
	b := v * mult
	if b >= 1<<63 {
		return 0, &strconv.NumError{Func: "ParseBytes", Num: s, Err: strconv.ErrRange}
	}
	return int64(b), nil
}
