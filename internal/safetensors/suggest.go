package safetensors

import (
	"fmt"
	"strings"

	"github.com/xt2onnx/xt2onnx/internal/textdist"
)

// maxSuggestions is how many close names a not-found error lists.
const maxSuggestions = 3

// notFoundMsg describes a missing tensor and lists the closest existing
// names by edit distance.
func notFoundMsg(name string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("tensor %q not found: the file has no tensors", name)
	}
	close := textdist.Ranked(name, names, maxSuggestions) // names are sorted already
	quoted := make([]string, len(close))
	for i, c := range close {
		quoted[i] = fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("tensor %q not found among %d tensors; closest names: %s", name, len(names), strings.Join(quoted, ", "))
}
