package iostreams

import (
	"fmt"
	"strings"
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
}

// ProgressBar starts a bar counting to total (at least 1) after label.
func (s *IOStreams) ProgressBar(label string, total int) *ProgressBar {
	return &ProgressBar{s: s, label: label, total: max(total, 1), cells: -1}
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
	b.s.progress = true
}

// Done erases the bar.
func (b *ProgressBar) Done() { b.s.StopProgress() }
