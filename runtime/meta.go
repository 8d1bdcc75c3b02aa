package runtime

import "encoding/json"

// The metadata keys xt2onnx writes into the models it exports (the same
// values as package builder's Meta* constants, which build the models;
// runtime code reads them from here so that it never depends on builder).
const (
	// MetaConfig holds the model's config JSON (the PyTorch constructor
	// kwargs).
	MetaConfig = "xt2onnx.config"
	// MetaMaxSeqLen holds the wrapper's max_seq_len in decimal.
	MetaMaxSeqLen = "xt2onnx.max_seq_len"
	// MetaKVCache is "1" when the model takes past_* inputs (a KV cache).
	MetaKVCache = "xt2onnx.kv_cache"
)

// TokenRanges returns the vocabulary size of each token-id input of a model
// exported by xt2onnx, from its config JSON (the value of MetaConfig): "x"
// for a TransformerWrapper, "src" and "tgt" for an XTransformer. It returns
// nil for other models or a config it cannot read; the backends copy the
// sizes into ValueInfo.NumTokens.
func TokenRanges(config string) map[string]int64 {
	var c struct {
		Kind    string `json:"kind"`
		Wrapper struct {
			NumTokens    int64 `json:"num_tokens"`
			EncNumTokens int64 `json:"enc_num_tokens"`
			DecNumTokens int64 `json:"dec_num_tokens"`
		} `json:"wrapper"`
	}
	if config == "" || json.Unmarshal([]byte(config), &c) != nil {
		return nil
	}
	out := map[string]int64{}
	switch c.Kind {
	case "TransformerWrapper":
		out["x"] = c.Wrapper.NumTokens
	case "XTransformer":
		out["src"], out["tgt"] = c.Wrapper.EncNumTokens, c.Wrapper.DecNumTokens
	}
	for k, n := range out {
		if n <= 0 {
			delete(out, k)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// SetTokenRanges copies ranges (see TokenRanges) into the NumTokens of the
// integer inputs they name.
func SetTokenRanges(infos []ValueInfo, ranges map[string]int64) {
	for i := range infos {
		if n, ok := ranges[infos[i].Name]; ok && (infos[i].DType == Int64 || infos[i].DType == Int32) {
			infos[i].NumTokens = n
		}
	}
}
