package iostreams

import (
	"strings"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.StartProgress("building %s", "tiny")
	ios.StopProgress()
	if errOut.Len() != 0 {
		t.Errorf("progress off a terminal wrote %q", errOut.String())
	}
	ios.SetStderrTTY(true)
	ios.StartProgress("building %s", "tiny")
	ios.StopProgress()
	ios.StopProgress() // a second stop erases nothing more
	if want := "\r\x1b[Kbuilding tiny…\r\x1b[K"; errOut.String() != want {
		t.Errorf("progress on a terminal wrote %q, want %q", errOut.String(), want)
	}
}

func TestProgressBar(t *testing.T) {
	ios, _, _, errOut := Test()
	bar := ios.ProgressBar("gen", 4)
	bar.Set(1)
	bar.Done()
	if errOut.Len() != 0 {
		t.Errorf("bar off a terminal wrote %q", errOut.String())
	}
	ios.SetStderrTTY(true)
	bar = ios.ProgressBar("gen", 4)
	bar.Set(2)
	bar.Set(2) // unchanged: no redraw
	bar.Set(9) // clamped to 4
	bar.Done()
	want := "\r\x1b[Kgen [===============               ] 2/4" +
		"\r\x1b[Kgen [==============================] 4/4" +
		"\r\x1b[K"
	if errOut.String() != want {
		t.Errorf("bar on a terminal wrote\n%q, want\n%q", errOut.String(), want)
	}
}

func TestRateETA(t *testing.T) {
	for _, tt := range []struct {
		n, total int
		elapsed  time.Duration
		want     string
	}{
		{0, 100, 0, "0 tokens/s, ETA ?"},
		{25, 100, 5 * time.Second, "5.0 tokens/s, ETA 15s"},
		{10, 1000, time.Second, "10.0 tokens/s, ETA 1m39s"},
		{100, 100, 2 * time.Second, "50.0 tokens/s, ETA 0s"},
	} {
		if got := rateETA(tt.n, tt.total, tt.elapsed, "tokens"); got != tt.want {
			t.Errorf("rateETA(%d, %d, %v) = %q, want %q", tt.n, tt.total, tt.elapsed, got, tt.want)
		}
	}
	ios, _, _, errOut := Test()
	ios.SetStderrTTY(true)
	bar := ios.ProgressBar("kv-cache warm-up 1/1", 4).WithRate("tokens")
	bar.Set(1)
	bar.SetLabel("kv-cache run 1/3")
	if s := errOut.String(); !strings.Contains(s, "kv-cache warm-up 1/1 [") || !strings.Contains(s, "\r\x1b[Kkv-cache run 1/3 [") || !strings.Contains(s, " tokens/s, ETA ") {
		t.Errorf("labelled bar wrote %q", s)
	}
}
