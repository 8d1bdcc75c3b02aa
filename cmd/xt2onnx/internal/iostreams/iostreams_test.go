package iostreams

import "testing"

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
