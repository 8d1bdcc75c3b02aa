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
