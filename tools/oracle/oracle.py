#!/usr/bin/env python3
"""The PyTorch oracle for xt2onnx.

Builds models with the real x-transformers 1.9.2, runs them in float32 and
float64 and writes fixtures in exactly the format of
fixtures/xtransformers-1.9.2 (config.json, model.safetensors,
io.safetensors), so that `xt2onnx verify --fixture DIR` can check the Go
builder against PyTorch for any configuration.

  oracle.py fixture --config CONFIG.json --out DIR [--seed N]
  oracle.py sample --n 200 --seed 1 --out ROOT

`sample` draws random configurations across the whole 1.9.2 option space
(seeded), keeps those PyTorch itself can build and run, and writes one
fixture per configuration under ROOT/case_NNNN.
"""
import argparse
import json
import os
import random
import sys
import traceback

import torch
from safetensors.torch import save_file
from x_transformers import (ContinuousTransformerWrapper, CrossAttender,
                            Decoder, Encoder, TransformerWrapper,
                            ViTransformerWrapper, XTransformer)

LAYERS = {"Encoder": Encoder, "Decoder": Decoder, "CrossAttender": CrossAttender}


def build(cfg):
    kind = cfg["kind"]
    if kind == "XTransformer":
        return XTransformer(**cfg["wrapper"])
    layers_kw = dict(cfg["attn_layers"])
    layers = LAYERS[layers_kw.pop("type")](**layers_kw)
    if kind == "CrossAttender":
        return layers
    wrapper = {"TransformerWrapper": TransformerWrapper,
               "ContinuousTransformerWrapper": ContinuousTransformerWrapper,
               "ViTransformerWrapper": ViTransformerWrapper}[kind]
    return wrapper(**cfg["wrapper"], attn_layers=layers)


def perturb(model, gen):
    # Move every parameter off its initial value so that gains initialised
    # to one and biases initialised to zero still show in the output.
    with torch.no_grad():
        for p in model.parameters():
            n1 = torch.randn(p.shape, generator=gen)
            n2 = torch.randn(p.shape, generator=gen)
            p.mul_(1 + 0.2 * n1).add_(0.05 * n2)


def make_inputs(cfg, gen):
    ins = {}
    for name, spec in cfg["inputs"].items():
        shape = spec["shape"]
        if spec["dtype"] == "int64":
            high = spec.get("high", 64)
            ins[name] = torch.randint(0, high, shape, generator=gen)
        elif spec["dtype"] == "bool":
            m = torch.ones(shape, dtype=torch.bool)
            # pad the tail of the second row; keep at least one position
            m[-1, max(1, shape[-1] - 3):] = False
            ins[name] = m
        else:
            ins[name] = torch.randn(shape, generator=gen)
    return ins


def forward(model, cfg, ins):
    kind = cfg["kind"]
    if kind == "TransformerWrapper":
        kw = {k: v for k, v in ins.items() if k in ("mask", "context", "context_mask")}
        return model(ins["x"], **kw)
    if kind == "ContinuousTransformerWrapper":
        return model(ins["x"], mask=ins.get("mask"))
    if kind == "ViTransformerWrapper":
        return model(ins["img"])
    if kind == "CrossAttender":
        return model(ins["x"], context=ins["context"], context_mask=ins.get("context_mask"), mask=ins.get("mask"))
    if kind == "XTransformer":
        mask = ins.get("src_mask")
        enc = model.encoder(ins["src"], mask=mask, return_embeddings=True)
        return model.decoder.net(ins["tgt"], context=enc, context_mask=mask)
    raise ValueError(kind)


def make_fixture(cfg, out, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build(cfg).eval()
    perturb(model, gen)
    ins = make_inputs(cfg, gen)
    with torch.no_grad():
        y32 = forward(model, cfg, ins)
        model64 = model.double()
        ins64 = {k: (v.double() if v.is_floating_point() else v) for k, v in ins.items()}
        y64 = forward(model64, cfg, ins64)
    if not torch.isfinite(y64).all():
        raise ValueError("PyTorch output is not finite")
    os.makedirs(out, exist_ok=True)
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(out, "model.safetensors"))
    io = {"input." + k: (v.to(torch.uint8) if v.dtype == torch.bool else v).contiguous() for k, v in ins.items()}
    io["output"] = y32.float().contiguous()
    io["output_f64"] = y64.contiguous()
    save_file(io, os.path.join(out, "io.safetensors"))
    cfg = dict(cfg)
    cfg["inputs"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in ins.items()}
    cfg["output_shape"] = list(y64.shape)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    return (y32.double() - y64).abs().max().item()


# --- random configurations -------------------------------------------------

def maybe(r, p=0.3):
    return r.random() < p


def sample_layers(r, typ, dim):
    kw = {"type": typ, "dim": dim, "depth": r.choice([1, 2, 3]), "heads": r.choice([1, 2, 3, 4])}
    heads = kw["heads"]
    rotary = maybe(r, 0.2)
    xpos = typ == "Decoder" and maybe(r, 0.1)
    dh = r.choice([32, 48]) if (rotary or xpos) else r.choice([8, 12, 16, 24])
    kw["attn_dim_head"] = dh
    if rotary:
        kw["rotary_pos_emb"] = True
        if maybe(r, 0.5):
            kw["rotary_emb_dim"] = r.choice([32, dh])
    if xpos:
        kw["rotary_xpos"] = True
        if maybe(r):
            kw["rotary_xpos_scale_base"] = r.choice([64, 256])
    pos = r.choice(["none", "none", "alibi", "rel", "dyn"])
    if pos == "alibi":
        kw["alibi_pos_bias"] = True
        if maybe(r, 0.5):
            kw["alibi_learned"] = True
        elif maybe(r, 0.5):
            kw["alibi_num_heads"] = r.randint(1, heads)
    elif pos == "rel":
        kw["rel_pos_bias"] = True
        if maybe(r, 0.5):
            kw["rel_pos_num_buckets"] = r.choice([8, 16])
            kw["rel_pos_max_distance"] = r.choice([16, 64])
    elif pos == "dyn":
        kw["dynamic_pos_bias"] = True
        kw["dynamic_pos_bias_log_distance"] = maybe(r, 0.5)
        kw["dynamic_pos_bias_mlp_depth"] = r.choice([1, 2, 3])
        kw["dynamic_pos_bias_norm"] = maybe(r, 0.5)
    norm = r.choice(["ln", "ln", "scale", "rms"])
    if norm == "scale":
        kw["use_scalenorm"] = True
    elif norm == "rms":
        kw["use_rmsnorm"] = True
    structure = r.choice(["pre", "pre", "post", "sandwich", "deepnorm"])
    if structure == "post":
        kw["pre_norm"] = False
    elif structure == "sandwich":
        kw["sandwich_norm"] = True
    elif structure == "deepnorm":
        kw["deepnorm"] = True
    for k in ["residual_attn", "macaron", "gate_residual", "scale_residual"]:
        if maybe(r, 0.15):
            kw[k] = True
    if structure != "deepnorm" and maybe(r, 0.1):
        kw["scale_residual_constant"] = r.choice([0.5, 2.0])
    if maybe(r, 0.15):
        kw["shift_tokens"] = r.choice([1, 2])
    layout = r.choice(["default"] * 6 + ["custom", "sandwich_coef", "par_ratio"])
    if layout == "custom":
        kw["custom_layers"] = r.choice([["a", "f", "a"], ["f", "a", "f"], ["a", "a", "f"]])
    elif layout == "sandwich_coef":
        kw["depth"] = 3
        kw["sandwich_coef"] = r.choice([1, 2])
    elif layout == "par_ratio":
        kw["depth"] = 3
        kw["par_ratio"] = r.choice([2, 3])
    # attention options
    if maybe(r, 0.2):
        kw["attn_qk_norm"] = True
        g = r.choice([1, 2]) if dh % 2 == 0 and dh // 2 > 2 else 1
        kw["attn_qk_norm_groups"] = g
        if maybe(r, 0.5):
            kw["attn_qk_norm_scale"] = r.choice([4, 8.5, 16])
        kw["attn_qk_norm_dim_scale"] = maybe(r, 0.5)
    for k in ["attn_talking_heads", "attn_head_scale", "attn_on_attn", "attn_gate_values", "attn_tensor_product"]:
        if maybe(r, 0.12):
            kw[k] = True
    if maybe(r, 0.12):
        kw["attn_sparse_topk"] = r.choice([2, 5])
    if maybe(r, 0.12):
        kw["attn_max_attend_past"] = r.choice([2, 6])
    one_kv = maybe(r, 0.12)
    if one_kv:
        kw["attn_one_kv_head"] = True
    if maybe(r, 0.1):
        kw["attn_shared_kv"] = True
    elif maybe(r, 0.1) and not (rotary or xpos):
        kw["attn_value_dim_head"] = r.choice([8, 16])
    if not one_kv and pos != "dyn" and "attn_value_dim_head" not in kw and maybe(r, 0.15):
        kw["attn_num_mem_kv"] = r.choice([1, 2])
    # feedforward options
    if maybe(r, 0.2):
        kw["ff_mult"] = r.choice([1, 2, 1.5])
    for k in ["ff_glu", "ff_swish", "ff_relu_squared", "ff_post_act_ln", "ff_no_bias"]:
        if maybe(r, 0.15):
            kw[k] = True
    return kw


def sample_config(r):
    kind = r.choice(["TransformerWrapper"] * 5 + ["ContinuousTransformerWrapper", "ViTransformerWrapper",
                                                   "XTransformer", "CrossAttender"])
    dim = r.choice([16, 24, 32])
    b = 2
    if kind == "TransformerWrapper":
        typ = r.choice(["Decoder", "Encoder"])
        layers = sample_layers(r, typ, dim)
        w = {"num_tokens": 64, "max_seq_len": 32}
        if maybe(r, 0.2):
            w["emb_dim"] = r.choice([8, 16])
        for k in ["post_emb_norm", "l2norm_embed", "scaled_sinu_pos_emb"]:
            if maybe(r, 0.15):
                w[k] = True
        if maybe(r, 0.15):
            w["use_abs_pos_emb"] = False
        if maybe(r, 0.15):
            w["num_memory_tokens"] = r.choice([1, 2])
        if maybe(r, 0.1):
            w["logits_dim"] = 10
        n = r.randint(3, 20)
        ins = {"x": {"shape": [b, n], "dtype": "int64"}}
        if typ == "Encoder" and maybe(r, 0.6):
            ins["mask"] = {"shape": [b, n], "dtype": "bool"}
        if maybe(r, 0.1):
            layers["cross_attend"] = True
            m = r.randint(2, 9)
            ins["context"] = {"shape": [b, m, dim], "dtype": "float32"}
            if maybe(r, 0.5):
                ins["context_mask"] = {"shape": [b, m], "dtype": "bool"}
        return {"kind": kind, "wrapper": w, "attn_layers": layers, "inputs": ins}
    if kind == "ContinuousTransformerWrapper":
        typ = r.choice(["Decoder", "Encoder"])
        layers = sample_layers(r, typ, dim)
        w = {"max_seq_len": 32}
        din = dim
        if maybe(r, 0.6):
            w["dim_in"] = din = r.choice([4, 8])
        if maybe(r, 0.6):
            w["dim_out"] = r.choice([3, 5])
        if maybe(r, 0.2):
            w["post_emb_norm"] = True
        if maybe(r, 0.2):
            w["scaled_sinu_pos_emb"] = True
        n = r.randint(3, 20)
        ins = {"x": {"shape": [b, n, din], "dtype": "float32"}}
        if maybe(r, 0.5):
            ins["mask"] = {"shape": [b, n], "dtype": "bool"}
        return {"kind": kind, "wrapper": w, "attn_layers": layers, "inputs": ins}
    if kind == "ViTransformerWrapper":
        layers = sample_layers(r, "Encoder", dim)
        p = r.choice([2, 4])
        w = {"image_size": 8, "patch_size": p, "channels": r.choice([1, 3])}
        if maybe(r, 0.7):
            w["num_classes"] = 5
        if maybe(r, 0.3):
            w["post_emb_norm"] = True
        return {"kind": kind, "wrapper": w, "attn_layers": layers,
                "inputs": {"img": {"shape": [b, w["channels"], 8, 8], "dtype": "float32"}}}
    if kind == "CrossAttender":
        layers = sample_layers(r, "CrossAttender", dim)
        for k in list(layers):  # self-attention-only options do not apply
            if k.startswith(("rotary", "alibi", "rel_pos", "dynamic_pos")) or k in ("residual_attn", "rotary_emb_dim"):
                del layers[k]
        n, m = r.randint(2, 12), r.randint(2, 12)
        ins = {"x": {"shape": [b, n, dim], "dtype": "float32"}, "context": {"shape": [b, m, dim], "dtype": "float32"}}
        if maybe(r, 0.6):
            ins["context_mask"] = {"shape": [b, m], "dtype": "bool"}
        return {"kind": kind, "wrapper": None, "attn_layers": layers, "inputs": ins}
    # XTransformer
    w = {"dim": dim, "enc_num_tokens": 64, "enc_max_seq_len": 32, "dec_num_tokens": 64, "dec_max_seq_len": 32}
    for side, typ in (("enc", "Encoder"), ("dec", "Decoder")):
        lk = sample_layers(r, typ, dim)
        for k in ("type", "dim"):
            lk.pop(k)
        if lk.get("deepnorm"):
            lk.pop("deepnorm")
        for k, v in lk.items():
            w[f"{side}_{k}"] = v
    if maybe(r, 0.2):
        w["tie_token_emb"] = True
    if maybe(r, 0.15):
        w["deepnorm"] = True
        for side in ("enc", "dec"):
            w.pop(f"{side}_scale_residual_constant", None)
    s, t = r.randint(3, 15), r.randint(2, 12)
    ins = {"src": {"shape": [b, s], "dtype": "int64"}, "tgt": {"shape": [b, t], "dtype": "int64"}}
    if maybe(r, 0.7):
        ins["src_mask"] = {"shape": [b, s], "dtype": "bool"}
    return {"kind": "XTransformer", "wrapper": w, "attn_layers": None, "inputs": ins}


def cmd_sample(args):
    r = random.Random(args.seed)
    made = tried = 0
    skipped = {}
    while made < args.n:
        tried += 1
        if tried > 20 * args.n:
            sys.exit(f"oracle: gave up after {tried - 1} configurations; PyTorch refused too many: {skipped}")
        cfg = sample_config(r)
        out = os.path.join(args.out, f"case_{made:04d}")
        try:
            err = make_fixture(cfg, out, seed=r.randrange(1 << 30))
        except Exception as e:  # PyTorch itself refuses this configuration
            key = f"{type(e).__name__}: {str(e).splitlines()[0][:100]}"
            skipped[key] = skipped.get(key, 0) + 1
            continue
        made += 1
        if args.verbose:
            print(f"{out} f32-vs-f64 {err:.2e}", file=sys.stderr)
    print(f"oracle: wrote {made} fixtures under {args.out} ({tried - made} configurations PyTorch 1.9.2 refused)", file=sys.stderr)
    for k, v in sorted(skipped.items(), key=lambda kv: -kv[1]):
        print(f"  refused x{v}: {k}", file=sys.stderr)


def cmd_fixture(args):
    with open(args.config) as f:
        cfg = json.load(f)
    err = make_fixture(cfg, args.out, args.seed)
    print(f"oracle: wrote {args.out} (PyTorch f32 vs f64 max abs diff {err:.2e})", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixture", help="write a fixture for one config")
    f.add_argument("--config", required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("sample", help="write fixtures for random configs")
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out", required=True)
    s.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    {"fixture": cmd_fixture, "sample": cmd_sample}[args.cmd](args)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(1)
