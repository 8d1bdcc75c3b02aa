package textdist

import (
	"fmt"
	"testing"
)

// osa is the textbook full-matrix optimal-string-alignment distance, the
// reference the three-row version is checked against.
func osa(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"kitten", "sitting", 3},
		{"attn_qk_nrom", "attn_qk_norm", 1}, // one swap
		{"ca", "abc", 3},                    // OSA, not unrestricted Damerau (2)
		{"heads", "Heads", 1},               // case-sensitive
		{"ümlaut", "umlaut", 1},             // runes, not bytes
		{"past_key_0", "past_key_1", 1},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Distance(tc.b, tc.a); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func FuzzDistance(f *testing.F) {
	f.Add("attn_qk_nrom", "attn_qk_norm")
	f.Add("abcdef", "badcfe")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 64 || len(b) > 64 {
			return
		}
		if got, want := Distance(a, b), osa(a, b); got != want {
			t.Errorf("Distance(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}

func TestNearest(t *testing.T) {
	keys := []string{"dim", "depth", "heads", "attn_qk_norm", "rotary_pos_emb", "use_abs_pos_emb"}
	for _, tc := range []struct{ name, want string }{
		{"hedas", "heads"},
		{"HEADS", "heads"},
		{"attn_qk_nrom", "attn_qk_norm"},
		{"dpeth", "depth"},
		{"xyz", ""},        // 3 from dim: over the limit of 2
		{"rotary_emb", ""}, // 4 from rotary_pos_emb: words, not letters
		{"dims", "dim"},
	} {
		if got := Nearest(tc.name, keys); got != tc.want {
			t.Errorf("Nearest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := Nearest("ab", []string{"ax", "ay"}); got != "ax" {
		t.Errorf("tie: Nearest = %q, want the first, ax", got)
	}
}

func TestRanked(t *testing.T) {
	names := []string{"token_emb.emb.weight", "to_logits.weight", "norm.weight", "to_logits.bias"}
	got := Ranked("to_logit.weight", names, 3)
	if want := []string{"to_logits.weight", "to_logits.bias", "norm.weight"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Ranked = %q, want %q", got, want)
	}
	if got := Ranked("x", nil, 3); len(got) != 0 {
		t.Errorf("Ranked of nothing = %q", got)
	}
}

func TestNearestWords(t *testing.T) {
	keys := []string{"rotary_pos_emb", "rotary_emb_dim", "use_abs_pos_emb", "rel_pos_bias", "heads"}
	for _, tc := range []struct{ name, want string }{
		{"rotary_emb", "rotary_pos_emb"}, // one word apart as rotary_emb_dim, but its ends kept
		{"abs_pos_emb", "use_abs_pos_emb"},
		{"use_rel_pos_bias", "rel_pos_bias"},
		{"Rotary_Pos", "rotary_pos_emb"},
		{"pos", ""},            // one word: no evidence
		{"emb_rotary", ""},     // words out of order
		{"rel_bias_pos", ""},   // out of order
		{"rotary_pos_emb", ""}, // the same words: not a word difference
	} {
		if got := NearestWords(tc.name, keys, "_"); got != tc.want {
			t.Errorf("NearestWords(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := NearestWords("rotary_emb", []string{"rotary_emb_dim", "rotary_pos_emb"}, "_"); got != "rotary_pos_emb" {
		t.Errorf("NearestWords(rotary_emb) with rotary_emb_dim first = %q, want rotary_pos_emb", got)
	}
}
