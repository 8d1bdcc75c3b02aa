package builder_test

import (
	"fmt"

	"github.com/xt2onnx/xt2onnx/builder"
)

func ExampleParseConfig() {
	cfg, err := builder.ParseConfig([]byte(`{
	  "kind": "TransformerWrapper",
	  "wrapper": {"num_tokens": 256, "max_seq_len": 1024},
	  "attn_layers": {"type": "Decoder", "dim": 512, "depth": 2, "heads": 8,
	                  "alibi_pos_bias": true, "alibi_num_heads": 4, "ff_glu": true}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	l := cfg.Layers
	fmt.Println("layers:", l.LayerTypes(), "causal:", l.Causal())
	fmt.Println("dim_head:", l.DimHead(), "alibi heads:", l.AlibiHeads(), "pos emb:", cfg.PosEmb())
	fmt.Println("logits:", cfg.OutputDim())
	fmt.Println("non-default:", cfg.NonDefault())

	_, err = builder.ParseConfig([]byte(`{"kind": "TransformerWrapper",
	  "wrapper": {"num_tokens": 256, "max_seq_len": 1024},
	  "attn_layers": {"type": "Decoder", "dim": 512, "depth": 2, "attn_qk_nrom": true}}`))
	fmt.Println(err)
	// Output:
	// layers: [a f a f] causal: true
	// dim_head: 64 alibi heads: 4 pos emb: absolute
	// logits: 256
	// non-default: [attn_layers.alibi_pos_bias attn_layers.alibi_num_heads attn_layers.ff_glu]
	// builder: attn_layers: unknown key "attn_qk_nrom"; did you mean "attn_qk_norm"?
}

func ExampleConfig_JSON() {
	layers := builder.DefaultAttentionLayers()
	layers.Type, layers.Dim, layers.Depth = builder.LayersEncoder, 64, 1
	layers.Attn.QKNorm = true
	vit := builder.DefaultViTWrapper()
	vit.ImageSize, vit.PatchSize, vit.NumClasses = 32, 8, new(10)
	cfg := &builder.Config{Kind: builder.KindViTransformerWrapper, ViT: vit, Layers: layers}
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	out, err := cfg.JSON()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {
	//  "kind": "ViTransformerWrapper",
	//  "wrapper": {
	//   "image_size": 32,
	//   "patch_size": 8,
	//   "num_classes": 10
	//  },
	//  "attn_layers": {
	//   "type": "Encoder",
	//   "dim": 64,
	//   "depth": 1,
	//   "attn_qk_norm": true
	//  }
	// }
}

func ExampleXTransformerConfig_DecoderConfig() {
	cfg, err := builder.ParseConfig([]byte(`{"kind": "XTransformer", "wrapper": {
	  "dim": 32, "deepnorm": true,
	  "enc_num_tokens": 64, "enc_max_seq_len": 64, "enc_depth": 2,
	  "dec_num_tokens": 64, "dec_max_seq_len": 64, "dec_depth": 3}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	enc, dec := cfg.XTransformer.EncoderConfig(), cfg.XTransformer.DecoderConfig()
	fmt.Println(enc.Layers.Type, enc.Layers.LayerTypes(), enc.Layers.EffectiveScaleResidualConstant())
	fmt.Println(dec.Layers.Type, dec.Layers.LayerTypes(), dec.Layers.EffectiveScaleResidualConstant())
	// Output:
	// Encoder [a f a f] 1.0317217739919822
	// Decoder [a c f a c f a c f] 1.7320508075688772
}
