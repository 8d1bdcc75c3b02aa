package runtime

import "encoding/json"

// MetaConfig is the metadata key under which xt2onnx stores the model's
// config JSON (the PyTorch constructor kwargs).
const MetaConfig = "xt2onnx.config"

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
