package safetensors

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// checkErr fails unless err is an *Error of the given kind whose message
// contains every one of wants.
func checkErr(t *testing.T, err error, kind error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q is not %v", err, kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %q is %T, want *Error", err, err)
	}
	if !strings.HasPrefix(err.Error(), "safetensors: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// rawFile assembles a safetensors file from a header and data, without
// padding or any validation.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}
