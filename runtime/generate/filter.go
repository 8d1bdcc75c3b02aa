package generate

import (
	"math"
	"slices"
)

// The filters reimplement x-transformers 1.9.2's top_k, top_p and top_a
// (autoregressive_wrapper.py) on one step's logits, one row per sequence.
// Removed entries become -Inf; the rows are changed in place. Sorting is
// stable, so among equal logits the lower token id ranks first.

// topKCount returns 1.9.2's k = ceil((1 - thres) · vocab), in float64 as
// Python computes it, clamped to [1, vocab].
func topKCount(thres float64, vocab int) int {
	k := int(math.Ceil((1 - thres) * float64(vocab)))
	return min(max(k, 1), vocab)
}

// order returns the token ids of row sorted by descending logit, ties by
// ascending id.
func order(row []float64) []int {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case row[a] > row[b]:
			return -1
		case row[a] < row[b]:
			return 1
		}
		return 0
	})
	return idx
}

// topK keeps the k largest logits of each row.
func topK(rows [][]float64, thres float64) {
	for _, row := range rows {
		k := topKCount(thres, len(row))
		for _, i := range order(row)[k:] {
			row[i] = math.Inf(-1)
		}
	}
}

// topP is 1.9.2's nucleus filter: with the logits sorted in descending order
// and p their softmax, token j (in sorted order) is removed when the
// cumulative probability of the tokens before it exceeds 1 - thres. The
// first token is always kept. (1.9.2 compares cum_probs > 1 - thres and then
// shifts the mask right by one, so thres = 0.9 keeps the smallest prefix
// whose probability exceeds 0.1, not 0.9.)
func topP(rows [][]float64, thres float64) {
	for _, row := range rows {
		idx := order(row)
		sorted := make([]float64, len(row))
		for j, i := range idx {
			sorted[j] = row[i]
		}
		probs := softmax(sorted)
		cum := 0.0
		for j, i := range idx {
			if j > 0 && cum > 1-thres {
				row[i] = math.Inf(-1)
			}
			cum += probs[j]
		}
	}
}

// topA is 1.9.2's top_a: limit = max(p)^minPPow · minPRatio, where p is the
// softmax of each row and the max is taken over the whole batch (1.9.2 calls
// torch.max on the [batch, vocab] probabilities); logits with p < limit
// become -Inf and the others 1, so the kept tokens are equally likely.
func topA(rows [][]float64, minPPow, minPRatio float64) {
	probs := make([][]float64, len(rows))
	maxP := math.Inf(-1)
	for r, row := range rows {
		probs[r] = softmax(row)
		maxP = max(maxP, slices.Max(probs[r]))
	}
	limit := math.Pow(maxP, minPPow) * minPRatio
	for r, row := range rows {
		for i, p := range probs[r] {
			if p < limit {
				row[i] = math.Inf(-1)
			} else {
				row[i] = 1
			}
		}
	}
}

// softmax returns the softmax of x; -Inf entries get probability 0.
func softmax(x []float64) []float64 {
	m := slices.Max(x)
	out := make([]float64, len(x))
	sum := 0.0
	for i, v := range x {
		out[i] = math.Exp(v - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// argmax returns the index of the largest value, the lowest one on ties.
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// sample draws an index from the (unnormalised, non-negative) weights p
// given u uniform in [0, 1): the first index whose cumulative weight exceeds
// u·sum(p). Zero-weight entries are never drawn.
func sample(p []float64, u float64) int {
	total := 0.0
	last := -1
	for i, w := range p {
		if w > 0 {
			total += w
			last = i
		}
	}
	target := u * total
	cum := 0.0
	for i, w := range p {
		if w <= 0 {
			continue
		}
		cum += w
		if cum > target {
			return i
		}
	}
	return last
}
