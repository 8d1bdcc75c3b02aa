package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes v as indented JSON followed by a newline.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON output: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// Float is a float64 that encodes NaN and ±Inf, which JSON cannot hold, as
// null.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// Table prints rows: on a terminal with a header and aligned columns, and
// otherwise as tab-separated fields without a header, one row a line.
type Table struct {
	w      io.Writer
	tty    bool
	header []string
	rows   [][]string
}

// NewTable returns a table written to w by Render.
func NewTable(w io.Writer, tty bool, header ...string) *Table {
	return &Table{w: w, tty: tty, header: header}
}

// Row adds a row.
func (t *Table) Row(fields ...string) { t.rows = append(t.rows, fields) }

// RenderWithHeader writes the table with its header line off a terminal
// too: the header's fields tab-separated as the rows' (run --header).
func (t *Table) RenderWithHeader() error {
	if !t.tty && len(t.header) > 0 {
		if _, err := fmt.Fprintln(t.w, strings.Join(t.header, "\t")); err != nil {
			return err
		}
	}
	return t.Render()
}

// Render writes the table.
func (t *Table) Render() error {
	if !t.tty {
		for _, r := range t.rows {
			if _, err := fmt.Fprintln(t.w, strings.Join(r, "\t")); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(t.w, 0, 4, 2, ' ', 0)
	if len(t.header) > 0 {
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	}
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
