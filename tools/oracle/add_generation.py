"""add_generation.py FIXTURE_DIR...: add generation references to existing
fixture folders with the x-transformers on the path (1.9.2 in the oracle
venv; 1.9.1 with PYTHONPATH=$venv/x-transformers-1.9.1), keeping every
tensor already in io.safetensors byte for byte.

XTransformer: gen.src (int64 [b, n], the forward input src), gen.src_mask
(uint8 [b, n], its src_mask; all ones without one), gen.start (int64
[b, 4]), gen.out (int64 [b, 8]) = XTransformer.generate(src, start, 8,
mask=src_mask, filter_thres=1 - 0.5/num_tokens) (top-k with k = 1: greedy)
on the float64 model.

ContinuousTransformerWrapper decoders: gen.start (float32 [b, 4, dim_in]),
gen.out (float32) and gen.out_f64 (float64 [b, 8, dim_out]) from
ContinuousAutoregressiveWrapper(model).generate(start, 8), in float32 and
float64.

Non-causal TransformerWrappers (encoders): gen.nar_<variant> (int64 [2,
max_seq_len]) = NonAutoregressiveWrapper(model, mask_id=num_tokens - 1,
steps=6, schedule=..., can_mask_prev_unmasked=...).generate(batch_size=2,
start_temperature=0) on the float64 model, for the variants linear,
cosine and cosine_remask (can_mask_prev_unmasked=True). At temperature 0
1.9.2 still adds Gumbel noise scaled by 1e-3 (PyTorch's RNG, which Go cannot
reproduce); the script checks that the result equals the noise-free argmax,
so that the reference is the deterministic zero-temperature limit.
"""
import json
import os
import sys
import zlib

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import xt2onnx_ref as ref  # noqa: E402


def load(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    model = ref.build(cfg)
    model.load_state_dict(load_file(os.path.join(d, "model.safetensors")))
    return cfg, model.eval()


def add(d):
    cfg, model = load(d)
    path = os.path.join(d, "io.safetensors")
    io = load_file(path)
    with safe_open(path, "pt") as f:
        metadata = f.metadata()
    seed = zlib.crc32(os.path.basename(os.path.normpath(d)).encode())
    gen = torch.Generator().manual_seed(seed)
    new = {}
    with torch.no_grad():
        if cfg["kind"] == "XTransformer":
            src = io["input.src"]
            mask = io.get("input.src_mask")
            mask = torch.ones_like(src, dtype=torch.bool) if mask is None else mask.bool()
            vocab = cfg["wrapper"]["dec_num_tokens"]
            start = torch.randint(0, vocab, (src.shape[0], 4), generator=gen)
            out = model.double().generate(src, start, 8, mask=mask, filter_thres=1 - 0.5 / vocab)
            new = {"gen.src": src, "gen.src_mask": mask.to(torch.uint8), "gen.start": start, "gen.out": out}
        elif cfg["kind"] == "ContinuousTransformerWrapper":
            from x_transformers.continuous_autoregressive_wrapper import ContinuousAutoregressiveWrapper
            dim_in = cfg["wrapper"].get("dim_in") or cfg["attn_layers"]["dim"]
            start = torch.randn((2, 4, dim_in), generator=gen)
            out32 = ContinuousAutoregressiveWrapper(model.float()).generate(start, 8)
            out64 = ContinuousAutoregressiveWrapper(model.double()).generate(start.double(), 8)
            new = {"gen.start": start, "gen.out": out32.float(), "gen.out_f64": out64.double()}
        elif cfg["kind"] == "TransformerWrapper" and cfg["attn_layers"]["type"] == "Encoder":
            import x_transformers.nonautoregressive_wrapper as nar
            vocab = cfg["wrapper"]["num_tokens"]
            m64 = model.double()
            for name, schedule, remask in (("linear", "linear", False), ("cosine", "cosine", False), ("cosine_remask", "cosine", True)):
                w = nar.NonAutoregressiveWrapper(m64, mask_id=vocab - 1, steps=6, schedule=schedule, can_mask_prev_unmasked=remask)
                torch.manual_seed(seed)
                noisy = w.generate(batch_size=2, start_temperature=0.)
                real = nar.gumbel_noise
                nar.gumbel_noise = lambda t: torch.zeros_like(t)
                try:
                    clean = w.generate(batch_size=2, start_temperature=0.)
                finally:
                    nar.gumbel_noise = real
                if not torch.equal(noisy, clean):
                    sys.exit(f"{d}: {name}: 1.9.2's noise at temperature 0 changed the result; pick another seed")
                new["gen.nar_" + name] = clean
        else:
            sys.exit(f"{d}: kind {cfg['kind']}: nothing to add")
    for k in new:
        if k in io:
            sys.exit(f"{d}: io.safetensors already holds {k}")
    before = {k: v.clone() for k, v in io.items()}
    io.update({k: v.contiguous().clone() for k, v in new.items()})
    save_file(io, path, metadata=metadata)
    after = load_file(path)
    for k, v in before.items():
        if v.dtype != after[k].dtype or not torch.equal(v, after[k]):
            sys.exit(f"{d}: {k} changed")
    print(f"{d}: added {', '.join(f'{k} {list(v.shape)}' for k, v in new.items())}", file=sys.stderr)


if __name__ == "__main__":
    for d in sys.argv[1:]:
        add(d)
