package safetensors

import (
	"fmt"
	"slices"
	"strings"
)

// maxSuggestions is how many close names a not-found error lists.
const maxSuggestions = 3

// notFoundMsg describes a missing tensor and lists the closest existing
// names by edit distance.
func notFoundMsg(name string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("tensor %q not found: the file has no tensors", name)
	}
	type scored struct {
		name string
		dist int
	}
	cands := make([]scored, len(names))
	for i, n := range names {
		cands[i] = scored{n, editDistance(name, n)}
	}
	slices.SortStableFunc(cands, func(a, b scored) int { return a.dist - b.dist }) // names are sorted already
	k := min(maxSuggestions, len(cands))
	quoted := make([]string, k)
	for i := range k {
		quoted[i] = fmt.Sprintf("%q", cands[i].name)
	}
	return fmt.Sprintf("tensor %q not found among %d tensors; closest names: %s", name, len(names), strings.Join(quoted, ", "))
}

// editDistance returns the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
