"""python -m xt2onnx_ref --config CONFIG.json --state-dict FILE --out DIR

Builds the model the config describes, loads the state_dict (a
torch.save'd dict, .pt/.bin, or a .safetensors file), checks that the two
match name for name and shape for shape, and writes the reference folder.
"""
import argparse
import json
import sys

from . import KwargsError, ReferenceError, build, write


def load_state_dict(path):
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    import torch
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    return sd


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m xt2onnx_ref", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="config in xt2onnx's JSON form (kind, wrapper, attn_layers)")
    p.add_argument("--state-dict", required=True, help="the trained weights: .pt/.bin (torch.save) or .safetensors")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=None)
    p.add_argument("--context-len", type=int, default=None)
    p.add_argument("--mask", choices=["auto", "on", "off"], default="auto", help="key-padding mask input")
    p.add_argument("--generate", type=int, default=8, help="greedy tokens to generate for decoders (0: none)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    try:
        with open(a.config) as f:
            cfg = json.load(f)
        model = build(cfg)
        sd = load_state_dict(a.state_dict)
        # check before load_state_dict so that the message names the kwarg
        from ._check import check_kwargs
        check_kwargs(_ShapesOnly(sd), cfg)
        model.load_state_dict(sd)
        mask = {"auto": None, "on": True, "off": False}[a.mask]
        err = write(model, cfg, a.out, batch=a.batch, seq_len=a.seq_len, context_len=a.context_len,
                    mask=mask, seed=a.seed, generate=a.generate, check=False)
    except (KwargsError, ReferenceError, OSError, ValueError) as e:
        print(f"xt2onnx_ref: {e}", file=sys.stderr)
        return 1
    print(f"xt2onnx_ref: wrote {a.out} (PyTorch's own float32 error {err:.3g})", file=sys.stderr)
    return 0


class _ShapesOnly:
    """A stand-in model whose state_dict is a loaded one."""

    def __init__(self, sd):
        self._sd = sd

    def state_dict(self):
        return self._sd


if __name__ == "__main__":
    sys.exit(main())
