"""xt2onnx_ref: reference folders for xt2onnx from an x-transformers model.

    import xt2onnx_ref as ref
    cfg = ref.config("TransformerWrapper", wrapper={...}, attn_layers={"type": "Decoder", ...})
    model = ref.build(cfg)            # or your own model built with the same kwargs
    ref.write(model, cfg, "ref/")     # config.json, model.safetensors, io.safetensors

then `xt2onnx export ... --validate ref/` or `xt2onnx verify --fixture ref/`.
Supports x-transformers 1.9.1 and 1.9.2 (the installed one is recorded in
config.json as "x_transformers_version").
"""
from ._check import KwargsError, check_kwargs, find_fixes
from ._model import (SUPPORTED_VERSIONS, ModelError, ReferenceError, build, build_meta, check_version,
                     config, xt_version)
from ._write import forward, greedy, is_decoder_lm, random_mask, sample_inputs, write

__all__ = [
    "SUPPORTED_VERSIONS", "KwargsError", "ModelError", "ReferenceError", "build", "build_meta", "check_kwargs",
    "check_version", "config", "find_fixes", "forward", "greedy", "is_decoder_lm", "random_mask",
    "sample_inputs", "write", "xt_version",
]
