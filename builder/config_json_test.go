package builder

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTripFixtures(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(configFixtureDir, "*", "config.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, p := range paths {
		c, err := LoadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, p, c)
	}
}

func checkRoundTrip(t *testing.T, name string, c *Config) {
	t.Helper()
	out, err := c.JSON()
	if err != nil {
		t.Fatalf("%s: JSON: %v", name, err)
	}
	back, err := ParseConfig(out)
	if err != nil {
		t.Fatalf("%s: re-parse: %v\n%s", name, err, out)
	}
	if !reflect.DeepEqual(c, back) {
		t.Errorf("%s: round trip changed the config\nfirst:  %+v\nsecond: %+v\njson: %s", name, c, back, out)
	}
	// encoding/json goes through MarshalJSON / UnmarshalJSON.
	compact, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("%s: json.Marshal: %v", name, err)
	}
	var viaStd Config
	if err := json.Unmarshal(compact, &viaStd); err != nil {
		t.Fatalf("%s: json.Unmarshal: %v", name, err)
	}
	if !reflect.DeepEqual(c, &viaStd) {
		t.Errorf("%s: encoding/json round trip changed the config: %s", name, compact)
	}
}

func TestRoundTripNonDefaults(t *testing.T) {
	docs := []string{
		`{"kind": "TransformerWrapper",
		  "wrapper": {"num_tokens": 10, "max_seq_len": 20, "emb_dim": 16, "logits_dim": 7, "num_memory_tokens": 0,
		              "use_abs_pos_emb": false, "emb_frac_gradient": 0.1, "max_mem_len": 5, "shift_mem_down": 1},
		  "attn_layers": {"type": "Encoder", "dim": 32, "depth": 3, "heads": 2, "shift_tokens": [1, 0, 2, 0, 1, 1],
		                  "layer_dropout": [0.1, 0, 0, 0, 0, 0.25], "custom_layers": ["a", "f", "a", "f", "a", "f"],
		                  "cross_attend": false, "ff_mult": 2.5, "ff_dim_out": 32, "attn_value_dim_head": 8,
		                  "attn_qk_norm_scale": 12.5, "attn_max_attend_past": 4, "rotary_xpos_scale_base": 256,
		                  "scale_residual_constant": 0.5, "rotary_emb_dim": 0.0e0}}`,
		`{"kind": "CrossAttender", "attn_layers": {"type": "CrossAttender", "dim": 8, "depth": 1, "causal": true, "custom_layers": "cfc"},
		  "output_shape": []}`,
		`{"kind": "XTransformer", "wrapper": {"dim": 16, "deepnorm": true, "ignore_index": 0,
		  "enc_num_tokens": 5, "enc_max_seq_len": 6, "enc_depth": 1, "enc_num_memory_tokens": 2, "enc_shift_tokens": 1,
		  "dec_num_tokens": 7, "dec_max_seq_len": 8, "dec_depth": 2, "dec_attn_dim_head": 8, "dec_use_abs_pos_emb": false},
		  "inputs": {"b": {"shape": [1, 2], "dtype": "int64"}, "a": {"shape": [3], "dtype": "bool"}}}`,
	}
	for i, doc := range docs {
		doc = strings.Replace(doc, `, "rotary_emb_dim": 0.0e0`, "", 1)
		c, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		checkRoundTrip(t, doc, c)
	}
}

func TestJSONCanonicalForm(t *testing.T) {
	c := loadConfigFixture(t, "dec_embed_variants")
	out, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
 "kind": "TransformerWrapper",
 "wrapper": {
  "num_tokens": 64,
  "max_seq_len": 64,
  "emb_dim": 16,
  "post_emb_norm": true,
  "num_memory_tokens": 2,
  "scaled_sinu_pos_emb": true
 },
 "attn_layers": {
  "type": "Decoder",
  "dim": 32,
  "depth": 2,
  "heads": 4,
  "attn_dim_head": 8
 },
 "inputs": {
  "x": {
   "shape": [
    2,
    17
   ],
   "dtype": "int64"
  }
 },
 "output_shape": [
  2,
  17,
  64
 ]
}`
	if string(out) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", out, want)
	}
	// An XTransformer writes everything flat in "wrapper" and no attn_layers.
	x := loadConfigFixture(t, "enc_dec")
	x.Inputs, x.OutputShape = nil, nil
	compact, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	wantX := `{"kind":"XTransformer","wrapper":{"dim":32,"enc_num_tokens":64,"enc_max_seq_len":64,"enc_depth":1,"enc_heads":4,` +
		`"enc_attn_dim_head":8,"dec_num_tokens":64,"dec_max_seq_len":64,"dec_depth":1,"dec_heads":4,"dec_attn_dim_head":8}}`
	if string(compact) != wantX {
		t.Errorf("XTransformer JSON =\n%s\nwant\n%s", compact, wantX)
	}
}

func TestJSONIncompleteConfig(t *testing.T) {
	if _, err := (&Config{Kind: KindTransformerWrapper, Layers: DefaultAttentionLayers()}).JSON(); err == nil ||
		!strings.Contains(err.Error(), "has no Wrapper") {
		t.Errorf("missing wrapper: err = %v", err)
	}
	if _, err := (&Config{Kind: "Foo"}).JSON(); err == nil || !strings.Contains(err.Error(), `unknown config kind "Foo"`) {
		t.Errorf("unknown kind: err = %v", err)
	}
}

// base returns a valid TransformerWrapper/Decoder config document with the
// layer kwargs in layers (raw JSON members) added.
func baseConfigDoc(layers string) string {
	if layers != "" {
		layers = ", " + layers
	}
	return `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 64},
	 "attn_layers": {"type": "Decoder", "dim": 32, "depth": 2, "heads": 4, "attn_dim_head": 8` + layers + `}}`
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // the whole error message
	}{
		{"misspelled attn kwarg", baseConfigDoc(`"attn_qk_nrom": true`),
			`builder: attn_layers: unknown key "attn_qk_nrom"; did you mean "attn_qk_norm"?`},
		{"missing attn_ prefix", baseConfigDoc(`"qk_norm": true`),
			`builder: attn_layers: unknown key "qk_norm"; did you mean "attn_qk_norm"?`},
		{"attn_ prefix on a layers kwarg", baseConfigDoc(`"attn_heads": 2`),
			`builder: attn_layers: unknown key "attn_heads"; did you mean "heads"?`},
		{"misspelled ff kwarg", baseConfigDoc(`"ff_gul": true`),
			`builder: attn_layers: unknown key "ff_gul"; did you mean "ff_glu"?`},
		{"wrapper key in attn_layers", baseConfigDoc(`"num_tokens": 3`),
			`builder: attn_layers: unknown key "num_tokens"; it belongs in "wrapper"`},
		{"no suggestion", baseConfigDoc(`"zzzzzzzz": 1`),
			`builder: attn_layers: unknown key "zzzzzzzz"`},
		{"misspelled wrapper kwarg",
			`{"kind": "TransformerWrapper", "wrapper": {"num_tokns": 64, "max_seq_len": 64}, "attn_layers": {"type": "Decoder", "dim": 8, "depth": 1}}`,
			`builder: 2 problems in the model config:` +
				"\n\t" + `wrapper: unknown key "num_tokns"; did you mean "num_tokens"?` +
				"\n\t" + `wrapper: missing required key "num_tokens"`},
		{"layers key in wrapper",
			`{"kind": "ContinuousTransformerWrapper", "wrapper": {"max_seq_len": 64, "depth": 2}, "attn_layers": {"type": "Encoder", "dim": 8, "depth": 1}}`,
			`builder: wrapper: unknown key "depth"; it belongs in "attn_layers"`},
		{"misspelled top level", `{"kind": "CrossAttender", "attn_layer": {}}`,
			`builder: 2 problems in the model config:` +
				"\n\t" + `unknown key "attn_layer"; did you mean "attn_layers"?` +
				"\n\t" + `attn_layers: missing; kind CrossAttender needs it`},
		{"flat PyTorch-style config", `{"kind": "TransformerWrapper", "num_tokens": 256, "max_seq_len": 128, "dim": 64, "rotary_emb": true}`,
			`builder: 6 problems in the model config:` +
				"\n\t" + `unknown key "num_tokens"; it belongs in "wrapper" (a TransformerWrapper keyword argument: {"wrapper": {"num_tokens": …}})` +
				"\n\t" + `unknown key "max_seq_len"; it belongs in "wrapper" (a TransformerWrapper keyword argument: {"wrapper": {"max_seq_len": …}})` +
				"\n\t" + `unknown key "dim"; it belongs in "attn_layers" (a keyword argument of the attention layers: {"attn_layers": {"dim": …}})` +
				"\n\t" + `unknown key "rotary_emb"; did you mean "rotary_pos_emb", under "attn_layers"?` +
				"\n\t" + `wrapper: missing; kind TransformerWrapper needs it` +
				"\n\t" + `attn_layers: missing; kind TransformerWrapper needs it`},
		{"flat config without a kind", `{"num_tokens": 256}`,
			`builder: 2 problems in the model config:` +
				"\n\t" + `unknown key "num_tokens"; it belongs in "wrapper" (a TransformerWrapper keyword argument: {"wrapper": {"num_tokens": …}})` +
				"\n\t" + `kind: missing; use one of TransformerWrapper, ContinuousTransformerWrapper, ViTransformerWrapper, XTransformer, CrossAttender`},
		{"flat ViT key", `{"kind": "ViTransformerWrapper", "patch_size": 4, "wrapper": {"image_size": 8, "patch_size": 4}, "attn_layers": {"type": "Encoder", "dim": 8, "depth": 1}}`,
			`builder: unknown key "patch_size"; it belongs in "wrapper" (a ViTransformerWrapper keyword argument: {"wrapper": {"patch_size": …}})`},
		{"flat XTransformer keys", `{"kind": "XTransformer", "enc_depth": 1, "heads": 2, "wrapper": {"dim": 8, "enc_num_tokens": 5, "enc_max_seq_len": 5, "enc_depth": 1,
			"dec_num_tokens": 5, "dec_max_seq_len": 5, "dec_depth": 1}}`,
			`builder: 2 problems in the model config:` +
				"\n\t" + `unknown key "enc_depth"; it belongs in "wrapper" (an XTransformer keyword argument: {"wrapper": {"enc_depth": …}})` +
				"\n\t" + `unknown key "heads"; XTransformer takes the attention-layer options under "wrapper" with a prefix: "enc_heads" and/or "dec_heads"`},
		{"flat CrossAttender key", `{"kind": "CrossAttender", "depth": 1, "attn_layers": {"type": "CrossAttender", "dim": 8, "depth": 1}}`,
			`builder: unknown key "depth"; it belongs in "attn_layers" (a keyword argument of the attention layers: {"attn_layers": {"depth": …}})`},
		{"word-based suggestion", baseConfigDoc(`"rotary_emb": true`),
			`builder: attn_layers: unknown key "rotary_emb"; did you mean "rotary_pos_emb"?`},
		{"misspelled kind", `{"kind": "TransformerWraper"}`,
			`builder: kind: unknown kind "TransformerWraper"; did you mean "TransformerWrapper"?`},
		{"unrelated kind", `{"kind": "GPT"}`,
			`builder: kind: unknown kind "GPT"; use one of TransformerWrapper, ContinuousTransformerWrapper, ViTransformerWrapper, XTransformer, CrossAttender`},
		{"missing kind", `{}`,
			`builder: kind: missing; use one of TransformerWrapper, ContinuousTransformerWrapper, ViTransformerWrapper, XTransformer, CrossAttender`},
		{"misspelled type", strings.Replace(baseConfigDoc(""), `"Decoder"`, `"Decodr"`, 1),
			`builder: attn_layers.type: unknown attention layers type "Decodr"; did you mean "Decoder"?`},
		{"missing type", strings.Replace(baseConfigDoc(""), `"type": "Decoder", `, ``, 1),
			`builder: attn_layers: missing required key "type" ("Encoder", "Decoder" or "CrossAttender")`},
		{"string for int", strings.Replace(baseConfigDoc(""), `"heads": 4`, `"heads": "four"`, 1),
			`builder: attn_layers.heads: expected an integer, got "four"`},
		{"float for int", strings.Replace(baseConfigDoc(""), `"heads": 4`, `"heads": 4.5`, 1),
			`builder: attn_layers.heads: expected an integer, got 4.5`},
		{"int for bool", baseConfigDoc(`"pre_norm": 1`),
			`builder: attn_layers.pre_norm: expected a boolean (true or false), got 1`},
		{"string for float", baseConfigDoc(`"ff_mult": "x"`),
			`builder: attn_layers.ff_mult: expected a number, got "x"`},
		{"null for float", baseConfigDoc(`"attn_qk_norm_scale": null`),
			`builder: attn_layers.attn_qk_norm_scale: expected a number, got null`},
		{"bad optional int", baseConfigDoc(`"attn_sparse_topk": true`),
			`builder: attn_layers.attn_sparse_topk: expected an integer or null, got true`},
		{"bad shift tokens", baseConfigDoc(`"shift_tokens": "1"`),
			`builder: attn_layers.shift_tokens: expected an integer or a list of integers, got "1"`},
		{"bad shift tokens entry", baseConfigDoc(`"shift_tokens": [1, 0.5]`),
			`builder: attn_layers.shift_tokens: entry 1: expected an integer, got 0.5`},
		{"bad custom layer", baseConfigDoc(`"custom_layers": ["a", "x"]`),
			`builder: attn_layers.custom_layers: entry 1: invalid layer type "x"; use "a" (self-attention), "c" (cross-attention) or "f" (feedforward)`},
		{"attn_layers not an object", `{"kind": "CrossAttender", "attn_layers": [1]}`,
			`builder: attn_layers: expected an object of keyword arguments, got a list`},
		{"kind not a string", `{"kind": 3}`, `builder: kind: expected a string, got 3`},
		{"top level not an object", `[1, 2]`,
			`builder: expected a JSON object with "kind", "wrapper" and "attn_layers", got a list`},
		{"duplicate key", baseConfigDoc(`"heads": 2`), `builder: attn_layers.heads: duplicate key; give it once`},
		{"wrapper for CrossAttender", `{"kind": "CrossAttender", "wrapper": {}, "attn_layers": {"type": "CrossAttender", "dim": 8, "depth": 1}}`,
			`builder: wrapper: must be null or absent for kind CrossAttender (the model is the bare attention layers)`},
		{"bad inputs key", strings.TrimSuffix(baseConfigDoc(""), "}") + `, "inputs": {"x": {"shap": [1], "dtype": "int64"}}}`,
			`builder: inputs.x: unknown key "shap"; did you mean "shape"?`},
		{"bad output shape", strings.TrimSuffix(baseConfigDoc(""), "}") + `, "output_shape": [2, "n"]}`,
			`builder: output_shape: entry 1: expected an integer, got "n"`},
		{"xtransformer enc_dim", `{"kind": "XTransformer", "wrapper": {"dim": 8, "enc_dim": 8, "enc_num_tokens": 5, "enc_max_seq_len": 5, "enc_depth": 1,
			"dec_num_tokens": 5, "dec_max_seq_len": 5, "dec_depth": 1}}`,
			`builder: wrapper: unknown key "enc_dim"; XTransformer sets the dimension of both encoder and decoder with "dim" (x-transformers asserts that enc_dim and dec_dim are not given)`},
		{"xtransformer dropped wrapper kwarg", `{"kind": "XTransformer", "wrapper": {"dim": 8, "enc_emb_dim": 8, "enc_num_tokens": 5, "enc_max_seq_len": 5, "enc_depth": 1,
			"dec_num_tokens": 5, "dec_max_seq_len": 5, "dec_depth": 1}}`,
			`builder: wrapper: unknown key "enc_emb_dim"; XTransformer in x-transformers 1.9.2 does not pass "emb_dim" to the encoder's TransformerWrapper (it would be silently ignored); remove it`},
		{"xtransformer dec memory tokens", `{"kind": "XTransformer", "wrapper": {"dim": 8, "enc_num_tokens": 5, "enc_max_seq_len": 5, "enc_depth": 1,
			"dec_num_tokens": 5, "dec_max_seq_len": 5, "dec_depth": 1, "dec_num_memory_tokens": 2}}`,
			`builder: wrapper: unknown key "dec_num_memory_tokens"; x-transformers 1.9.2 passes num_memory_tokens to the encoder only (dec_num_memory_tokens would be silently ignored); remove it`},
		{"xtransformer unprefixed", `{"kind": "XTransformer", "wrapper": {"dim": 8, "heads": 2, "enc_num_tokens": 5, "enc_max_seq_len": 5, "enc_depth": 1,
			"dec_num_tokens": 5, "dec_max_seq_len": 5, "dec_depth": 1}}`,
			`builder: wrapper: unknown key "heads"; XTransformer takes encoder and decoder options with a prefix: use "enc_heads" and/or "dec_heads"`},
		{"xtransformer misspelled", `{"kind": "XTransformer", "wrapper": {"dim": 8, "enc_num_tokens": 5, "enc_max_seq_len": 5, "enc_depht": 1,
			"dec_num_tokens": 5, "dec_max_seq_len": 5, "dec_depth": 1}}`,
			`builder: 2 problems in the model config:` + "\n\t" + `wrapper: unknown key "enc_depht"; did you mean "enc_depth"?` +
				"\n\t" + `wrapper: missing required key "enc_depth"`},
		{"xtransformer with attn_layers", `{"kind": "XTransformer", "wrapper": {"dim": 8, "enc_num_tokens": 5, "enc_max_seq_len": 5, "enc_depth": 1,
			"dec_num_tokens": 5, "dec_max_seq_len": 5, "dec_depth": 1}, "attn_layers": {}}`,
			`builder: attn_layers: must be null or absent for kind XTransformer; give the encoder and decoder options in "wrapper" with the enc_ and dec_ prefixes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.doc))
			if err == nil {
				t.Fatalf("ParseConfig succeeded: %+v", c)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *ConfigError: %v", err, err)
			}
			if err.Error() != tt.want {
				t.Errorf("error =\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		line, col int
		want      string
	}{
		{"bad value", "{\"kind\": x}", 1, 10, "builder: line 1, column 10: malformed JSON: invalid character 'x' looking for beginning of value"},
		{"stray comma", "{\n \"kind\": \"TransformerWrapper\",\n \"wrapper\": {,}\n}", 3, 14,
			"builder: line 3, column 14: malformed JSON: invalid character ',' looking for beginning of object key string"},
		{"truncated", "{\n \"kind\": ", 2, 9, "builder: line 2, column 9: malformed JSON: unexpected end of JSON input"},
		{"trailing data", "{}\n{}", 2, 1, "builder: line 2, column 1: malformed JSON: invalid character '{' after top-level value"},
		{"empty", "", 1, 1, "builder: line 1, column 1: malformed JSON: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.doc))
			var se *ConfigSyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *ConfigSyntaxError: %v", err, err)
			}
			if se.Line != tt.line || se.Column != tt.col {
				t.Errorf("position %d:%d, want %d:%d", se.Line, se.Column, tt.line, tt.col)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			var js *json.SyntaxError
			if !errors.As(err, &js) {
				t.Errorf("error does not wrap *json.SyntaxError")
			}
		})
	}
}

func TestLoadConfigNamesFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "config.json")
	if err := os.WriteFile(bad, []byte("{\n \"kind\": nope\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(bad)
	if want := "builder: " + bad + ":2:11: malformed JSON: invalid character 'o' in literal null (expecting 'u')"; err == nil || err.Error() != want {
		t.Errorf("syntax error = %v, want %s", err, want)
	}
	invalid := filepath.Join(dir, "invalid.json")
	if err := os.WriteFile(invalid, []byte(baseConfigDoc(`"attn_qk_nrom": true`)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(invalid)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.File != invalid || !strings.HasPrefix(err.Error(), "builder: "+invalid+": attn_layers: unknown key") {
		t.Errorf("decode error = %v", err)
	}
	notValid := filepath.Join(dir, "notvalid.json")
	doc := strings.NewReplacer(`"Decoder"`, `"Encoder"`, `"attn_dim_head": 8`, `"attn_dim_head": 32`).Replace(baseConfigDoc(`"rotary_xpos": true`))
	if err := os.WriteFile(notValid, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(notValid)
	if want := "builder: " + notValid + ": attn_layers.rotary_xpos: rotary xpos is not compatible with bidirectional attention: it needs causal attention (a Decoder)"; err == nil || err.Error() != want {
		t.Errorf("validation error = %v, want %s", err, want)
	}
	_, err = LoadConfig(filepath.Join(dir, "missing.json"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file error = %v", err)
	}
}

func TestSuggestName(t *testing.T) {
	valid := []string{"heads", "attn_dim_head", "attn_qk_norm", "attn_qk_norm_groups", "depth", "ff_mult"}
	tests := []struct{ in, want string }{
		{"heds", "heads"},
		{"HEADS", "heads"},
		{"dim_head", "attn_dim_head"},
		{"attn_depth", "depth"},
		{"mult", "ff_mult"},
		{"attn_qk_norm_group", "attn_qk_norm_groups"},
		{"xyz", ""},
		{"completely_different", ""},
		{"qk_norm_attn_groups", ""}, // words out of order
	}
	for _, tt := range tests {
		if got := suggestKey(tt.in, valid); got != tt.want {
			t.Errorf("suggestKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
