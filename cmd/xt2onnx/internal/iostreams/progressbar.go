package iostreams

import (
	"fmt"
	"strings"
	"time"
)

// barWidth is the number of cells of a progress bar.
const barWidth = 30

// ProgressBar is a one-line bar such as "generating [=====     ] 12/64" on
// ErrOut. It draws only when ErrOut is a terminal; otherwise its methods do
// nothing.
type ProgressBar struct {
	s     *IOStreams
	label string
	total int
	cells int // cells drawn, -1 before the first draw
	n     int

	unit  string    // with WithRate: what is counted ("tokens")
	start time.Time // when WithRate was called
}

// ProgressBar starts a bar counting to total (at least 1) after label.
func (s *IOStreams) ProgressBar(label string, total int) *ProgressBar {
	return &ProgressBar{s: s, label: label, total: max(total, 1), cells: -1}
}

// WithRate makes the bar show the rate (unit per second, since now) and
// the estimated time left after the count.
func (b *ProgressBar) WithRate(unit string) *ProgressBar {
	b.unit, b.start = unit, time.Now()
	return b
}

// SetLabel changes the label (the phase of the work) from the next draw on.
func (b *ProgressBar) SetLabel(label string) {
	b.label, b.cells = label, -1
	b.Set(b.n)
}

// Set moves the bar to n of total, redrawing when a cell or the count
// changes.
func (b *ProgressBar) Set(n int) {
	if !b.s.stderrTTY {
		return
	}
	n = min(max(n, 0), b.total)
	cells := n * barWidth / b.total
	if cells == b.cells && n == b.n {
		return
	}
	b.cells, b.n = cells, n
	fmt.Fprintf(b.s.ErrOut, "\r\x1b[K%s [%s%s] %d/%d", b.label, strings.Repeat("=", cells), strings.Repeat(" ", barWidth-cells), n, b.total)
	if b.unit != "" {
		fmt.Fprintf(b.s.ErrOut, " %s", rateETA(n, b.total, time.Since(b.start), b.unit))
	}
	b.s.progress = true
}

// Done erases the bar.
func (b *ProgressBar) Done() { b.s.StopProgress() }

// rateETA is "12.5 tokens/s, ETA 1m20s" for n of total done in elapsed
// ("ETA ?" before the first).
func rateETA(n, total int, elapsed time.Duration, unit string) string {
	if n == 0 || elapsed <= 0 {
		return fmt.Sprintf("0 %s/s, ETA ?", unit)
	}
	rate := float64(n) / elapsed.Seconds()
	left := time.Duration(float64(total-n) / rate * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("%.1f %s/s, ETA %s", rate, unit, left)
}
