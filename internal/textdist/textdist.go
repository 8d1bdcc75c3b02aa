// Package textdist finds the name a user most likely meant: the edit
// distance every "did you mean" in xt2onnx uses (config keys and values,
// model inputs and outputs, tensor names), and a word-based match for names
// that differ by whole words ("rotary_emb" for "rotary_pos_emb").
package textdist

import (
	"slices"
	"strings"
)

// Distance is the Damerau-Levenshtein distance between a and b over runes
// in its optimal-string-alignment form: insertions, deletions and
// substitutions cost one, and so does swapping two adjacent runes, so
// "qk_nrom" is 1 away from "qk_norm". It is case-sensitive.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: two back for transpositions.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Limit is the largest distance at which a candidate still counts as what
// name meant: a third of its length, and at least 2.
func Limit(name string) int { return max(2, len([]rune(name))/3) }

// Nearest returns the candidate closest to name ignoring case (the first in
// order on a tie) when its distance is at most Limit(name), else "".
func Nearest(name string, candidates []string) string {
	best, bestDist := "", Limit(name)+1
	low := strings.ToLower(name)
	for _, c := range candidates {
		if d := Distance(low, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// Ranked returns the candidates ordered by distance to name (case-sensitive;
// equal distances keep their order), at most k of them.
func Ranked(name string, candidates []string, k int) []string {
	type scored struct {
		s string
		d int
	}
	sc := make([]scored, len(candidates))
	for i, c := range candidates {
		sc[i] = scored{c, Distance(name, c)}
	}
	slices.SortStableFunc(sc, func(a, b scored) int { return a.d - b.d })
	out := make([]string, 0, min(k, len(sc)))
	for _, s := range sc[:min(k, len(sc))] {
		out = append(out, s.s)
	}
	return out
}

// NearestWords returns the candidate that has the same words as name with
// words added or left out, when the one's words appear in the other's in
// order ("rotary_emb" and "rotary_pos_emb", "use_abs_pos" and
// "use_abs_pos_emb"); words are separated by sep and compared ignoring case.
// Of several, it takes the one with the fewest differing words, then the
// one that keeps name's first and last words at its ends ("rotary_emb" is
// nearer "rotary_pos_emb" than "rotary_emb_dim"), then the first in order;
// with none, "". A single-word name matches nothing: one shared word is no
// evidence.
func NearestWords(name string, candidates []string, sep string) string {
	words := strings.Split(strings.ToLower(name), sep)
	if len(words) < 2 {
		return ""
	}
	best, bestScore := "", -1
	for _, c := range candidates {
		cw := strings.Split(strings.ToLower(c), sep)
		short, long := words, cw
		if len(short) > len(long) {
			short, long = long, short
		}
		if len(short) < 2 || len(short) == len(long) || !subsequence(short, long) {
			continue
		}
		// Two points a differing word, one for each end that moved.
		score := 2 * (len(long) - len(short))
		if short[0] != long[0] {
			score++
		}
		if short[len(short)-1] != long[len(long)-1] {
			score++
		}
		if bestScore < 0 || score < bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// subsequence reports whether every word of short appears in long, in order.
func subsequence(short, long []string) bool {
	i := 0
	for _, w := range long {
		if i < len(short) && short[i] == w {
			i++
		}
	}
	return i == len(short)
}
