#!/usr/bin/env python3
"""The PyTorch oracle for xt2onnx.

Builds models with the real x-transformers (1.9.1 or 1.9.2, --xt-version),
moves every parameter off its initial value, and writes reference folders
with python/xt2onnx_ref (config.json, model.safetensors, io.safetensors:
the format of fixtures/), so that `xt2onnx verify --fixture DIR` can check
the Go builder against PyTorch for any configuration.

  oracle.py fixture --config CONFIG.json --out DIR [--seed N] [--scale-param NAME=F ...]
  oracle.py sample --n 200 --seed 1 --out ROOT

`sample` draws random configurations across the option space (seeded),
keeps those PyTorch itself can build and run, writes one folder per
configuration under ROOT/case_NNNN, and lists every sampled option value
with its count (ROOT/options.txt). A configuration x-transformers refuses
(its constructor or forward pass raises, or its output is not finite) is
skipped and counted by reason; any other error is the oracle's own and
stops it with a traceback and exit status 1.
"""
import argparse
import copy
import json
import os
import random
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import torch  # noqa: E402

import xt2onnx_ref as ref  # noqa: E402


def perturb(model, gen):
    # Move every parameter off its initial value so that gains initialised
    # to one and biases initialised to zero still show in the output.
    with torch.no_grad():
        for p in model.parameters():
            n1 = torch.randn(p.shape, generator=gen)
            n2 = torch.randn(p.shape, generator=gen)
            p.mul_(1 + 0.2 * n1).add_(0.05 * n2)


def scale_params(model, specs):
    """Multiply the parameters whose names contain NAME by F (NAME=F)."""
    with torch.no_grad():
        for spec in specs:
            name, f = spec.rsplit("=", 1)
            hit = [n for n, p in model.named_parameters() if name in n]
            if not hit:
                raise SystemExit(f"oracle: --scale-param {spec}: no parameter name contains {name!r}")
            for n, p in model.named_parameters():
                if name in n:
                    p.mul_(float(f))


def make_inputs(cfg, gen):
    """Inputs from the config's "inputs" spec: {name: {shape, dtype[, high,
    pattern]}}."""
    ins = {}
    for name, spec in cfg["inputs"].items():
        shape = spec["shape"]
        if spec["dtype"] == "int64":
            ins[name] = torch.randint(0, spec.get("high", 64), shape, generator=gen)
        elif spec["dtype"] == "bool":
            ins[name] = ref.random_mask(shape, gen, spec.get("pattern", "random"), allow_empty=True)
        else:
            ins[name] = torch.randn(shape, generator=gen)
    return ins


def make_fixture(cfg, out, seed, scale=()):
    """Build, perturb and write one case. Returns PyTorch's own float32
    error. Raises ref.ModelError when x-transformers refuses the config."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    cfg = copy.deepcopy(cfg)
    spec = cfg.pop("inputs")
    gen_steps = cfg.pop("generate", 8)
    model = ref.build(cfg).eval()
    perturb(model, gen)
    scale_params(model, scale)
    ins = make_inputs({"inputs": spec}, gen)
    return ref.write(model, cfg, out, inputs=ins, seed=seed, generate=gen_steps, check=True)


# --- random configurations -------------------------------------------------

def maybe(r, p=0.3):
    return r.random() < p


def sample_layers(r, typ, dim, cross=False):
    kw = {"type": typ, "dim": dim, "depth": r.choice([1, 2, 3]), "heads": r.choice([1, 2, 3, 4])}
    heads = kw["heads"]
    rotary = maybe(r, 0.2)
    xpos = typ == "Decoder" and maybe(r, 0.1)
    if maybe(r, 0.08):
        dh = 64  # x-transformers' default head size: no attn_dim_head
    else:
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
    if cross:
        kw["cross_attend"] = True
    if (cross or typ == "CrossAttender") and maybe(r, 0.3):
        kw["cross_residual_attn"] = True
    if cross and maybe(r, 0.25):
        kw["only_cross"] = True
    layout = r.choice(["default"] * 6 + ["custom", "sandwich_coef", "par_ratio"])
    if layout == "custom":
        if cross or typ == "CrossAttender":
            kw["custom_layers"] = r.choice([["a", "c", "f"], ["c", "a", "f", "f"], ["c", "f", "a", "c", "f"], ["c", "c", "f"]])
        else:
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
        groups = [g for g in (1, 2, 3, 4, 6, 8) if dh % g == 0 and dh // g > 2]
        g = r.choice(groups)
        if g != 1 or maybe(r, 0.5):
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
    # token shifting: one amount for every layer, or one per layer
    if maybe(r, 0.15):
        kw["shift_tokens"] = r.choice([1, 2])
    elif maybe(r, 0.1):
        kw["shift_tokens"] = [r.choice([0, 1, 2]) for _ in range(layer_count(kw))]
    return kw


def layer_count(kw):
    """len(layer_types) as AttentionLayers computes it."""
    cross = kw.get("cross_attend") or kw["type"] == "CrossAttender"
    only = kw["type"] == "CrossAttender" or (cross and kw.get("only_cross"))
    block = ["c", "f"] if only else (["a", "c", "f"] if cross else ["a", "f"])
    if kw.get("macaron"):
        block = ["f"] + block
    depth = kw["depth"]
    if kw.get("custom_layers"):
        return len(kw["custom_layers"])
    if kw.get("par_ratio"):
        return depth * len(block)
    if kw.get("sandwich_coef"):
        c = kw["sandwich_coef"]
        return 2 * c + (depth - c) * len(block)
    return depth * len(block)


def mask_spec(shape, r):
    return {"shape": shape, "dtype": "bool", "pattern": "tail" if maybe(r, 0.2) else "random"}


def sample_config(r):
    kind = r.choice(["TransformerWrapper"] * 5 + ["ContinuousTransformerWrapper", "ViTransformerWrapper",
                                                   "XTransformer", "CrossAttender"])
    dim = r.choice([16, 24, 32])
    b = 2
    if kind == "TransformerWrapper":
        typ = r.choice(["Decoder", "Encoder"])
        cross = maybe(r, 0.15)
        layers = sample_layers(r, typ, dim, cross)
        n = r.randint(3, 20)
        w = {"num_tokens": 64, "max_seq_len": r.choice([32, max(n, 6), r.randint(max(n, 6), 32)])}
        if maybe(r, 0.2):
            w["emb_dim"] = r.choice([8, 16])
        for k in ["post_emb_norm", "l2norm_embed", "scaled_sinu_pos_emb"]:
            if maybe(r, 0.15):
                w[k] = True
        if maybe(r, 0.15):
            w["use_abs_pos_emb"] = False
        mem = 0
        if maybe(r, 0.15):
            w["num_memory_tokens"] = mem = r.choice([1, 2])
        if maybe(r, 0.1):
            w["logits_dim"] = 10
        ins = {"x": {"shape": [b, n], "dtype": "int64"}}
        if maybe(r, 0.6 if typ == "Encoder" else 0.3):
            ins["mask"] = mask_spec([b, n], r)
        if cross:
            with_ctx_mask = maybe(r, 0.5)
            # without a context mask 1.9.2 masks the context with the query
            # mask, which needs the lengths to match
            m = n + mem if ("mask" in ins and not with_ctx_mask) else r.randint(2, 9)
            ins["context"] = {"shape": [b, m, dim], "dtype": "float32"}
            if with_ctx_mask:
                ins["context_mask"] = mask_spec([b, m], r)
        cfg = {"kind": kind, "wrapper": w, "attn_layers": layers, "inputs": ins}
        if typ == "Decoder" and not cross:
            # sometimes long enough for the window to slide
            cfg["generate"] = r.choice([6, 8, w["max_seq_len"] - 4 + 3])
        return cfg
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
            ins["mask"] = mask_spec([b, n], r)
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
        n = r.randint(2, 12)
        ins = {"x": {"shape": [b, n, dim], "dtype": "float32"}}
        with_mask, with_ctx_mask = maybe(r, 0.4), maybe(r, 0.6)
        m = n if (with_mask and not with_ctx_mask) else r.randint(2, 12)
        if with_mask:
            ins["mask"] = mask_spec([b, n], r)
        ins["context"] = {"shape": [b, m, dim], "dtype": "float32"}
        if with_ctx_mask:
            ins["context_mask"] = mask_spec([b, m], r)
        return {"kind": kind, "wrapper": None, "attn_layers": layers, "inputs": ins}
    # XTransformer
    w = {"dim": dim, "enc_num_tokens": 64, "enc_max_seq_len": r.choice([16, 32]),
         "dec_num_tokens": 64, "dec_max_seq_len": r.choice([16, 32])}
    for side, typ in (("enc", "Encoder"), ("dec", "Decoder")):
        lk = sample_layers(r, typ, dim)
        for k in ("type", "dim"):
            lk.pop(k)
        if lk.get("deepnorm"):
            lk.pop("deepnorm")
        if side == "dec" and "shift_tokens" in lk and isinstance(lk["shift_tokens"], list):
            lk["shift_tokens"] = lk["shift_tokens"] + [0] * 8  # the decoder gains cross-attention layers
        for k, v in lk.items():
            w[f"{side}_{k}"] = v
        if maybe(r, 0.15):
            w[f"{side}_scaled_sinu_pos_emb"] = True
        if maybe(r, 0.12):
            w[f"{side}_use_abs_pos_emb"] = False
        if maybe(r, 0.1):
            w[f"{side}_emb_dropout"] = 0.1
    if maybe(r, 0.2):
        w["enc_num_memory_tokens"] = r.choice([1, 2])
    if maybe(r, 0.2):
        w["tie_token_emb"] = True
    if maybe(r, 0.15):
        w["deepnorm"] = True
        for side in ("enc", "dec"):
            w.pop(f"{side}_scale_residual_constant", None)
    s, t = r.randint(3, 15), r.randint(2, 12)
    ins = {"src": {"shape": [b, s], "dtype": "int64"}, "tgt": {"shape": [b, t], "dtype": "int64"}}
    if maybe(r, 0.7):
        ins["src_mask"] = mask_spec([b, s], r)
    return {"kind": "XTransformer", "wrapper": w, "attn_layers": None, "inputs": ins}


# --- what was sampled ---------------------------------------------------------

def option_values(cfg):
    """The (option, value) pairs of a case, for the sampled-values table."""
    out = [("kind", cfg["kind"])]
    for section in ("wrapper", "attn_layers"):
        for k, v in (cfg.get(section) or {}).items():
            out.append((f"{section}.{k}", json.dumps(v)))
    for name, spec in cfg.get("inputs", {}).items():
        out.append((f"input.{name}", spec.get("pattern", "present")))
    if "generate" in cfg:
        out.append(("generate", "long" if cfg["generate"] > 8 else "short"))
    return out


# Each corner the issue asks the oracle to sample, with its test.
def _layer_sets(cfg):
    if cfg["kind"] == "XTransformer":
        w = cfg["wrapper"]
        return [{k[len(p):]: v for k, v in w.items() if k.startswith(p)} for p in ("enc_", "dec_")]
    return [cfg["attn_layers"]]


REQUIRED = {
    "only_cross": lambda c: any(l.get("only_cross") for l in _layer_sets(c)),
    "cross_residual_attn": lambda c: any(l.get("cross_residual_attn") for l in _layer_sets(c)),
    "default head size 64": lambda c: any("attn_dim_head" not in l for l in _layer_sets(c)),
    "attn_qk_norm_groups > 2": lambda c: any(l.get("attn_qk_norm_groups", 1) > 2 for l in _layer_sets(c)),
    "per-layer shift_tokens list": lambda c: any(isinstance(l.get("shift_tokens"), list) for l in _layer_sets(c)),
    "custom_layers with cross-attention": lambda c: any("c" in (l.get("custom_layers") or []) for l in _layer_sets(c)),
    "mask on a decoder": lambda c: c["kind"] == "TransformerWrapper" and c["attn_layers"]["type"] == "Decoder" and "mask" in c["inputs"],
    "mask on a CrossAttender": lambda c: c["kind"] == "CrossAttender" and "mask" in c["inputs"],
    "mask without context_mask (cross)": lambda c: "mask" in c["inputs"] and "context" in c["inputs"] and "context_mask" not in c["inputs"],
    "random mask pattern": lambda c: any(s.get("pattern") == "random" for s in c["inputs"].values()),
    "XTransformer enc_/dec_ wrapper options": lambda c: c["kind"] == "XTransformer" and any(
        k in c["wrapper"] for k in ("enc_num_memory_tokens", "enc_scaled_sinu_pos_emb", "dec_scaled_sinu_pos_emb",
                                    "enc_use_abs_pos_emb", "dec_use_abs_pos_emb", "enc_emb_dropout", "dec_emb_dropout")),
    "generation (decoder)": lambda c: "generate" in c,
    "generation past max_seq_len": lambda c: "generate" in c and 4 + c["generate"] > c["wrapper"]["max_seq_len"],
    "KV cache (decoder without rotary_xpos)": lambda c: "generate" in c and not c["attn_layers"].get("rotary_xpos"),
}


def report(cases, out):
    counts = {}
    for cfg in cases:
        for kv in option_values(cfg):
            counts[kv] = counts.get(kv, 0) + 1
    lines = [f"{k}={v}: {n}" for (k, v), n in sorted(counts.items())]
    corners = [(name, sum(1 for c in cases if test(c))) for name, test in REQUIRED.items()]
    lines += [f"corner {name}: {n}" for name, n in corners]
    with open(os.path.join(out, "options.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return corners


def cmd_sample(args):
    have = ref.xt_version()
    if have != args.xt_version:
        sys.exit(f"oracle: x-transformers {have} is on the path, {args.xt_version} was asked for "
                 f"(XT_VERSION={args.xt_version}: run 'make oracle-venv')")
    r = random.Random(args.seed)
    made = tried = 0
    skipped, cases = {}, []
    os.makedirs(args.out, exist_ok=True)
    while made < args.n:
        tried += 1
        if tried > 20 * args.n:
            sys.exit(f"oracle: gave up after {tried - 1} configurations; PyTorch refused too many: {skipped}")
        cfg = sample_config(r)
        cfg["x_transformers_version"] = args.xt_version
        out = os.path.join(args.out, f"case_{made:04d}")
        try:
            err = make_fixture(cfg, out, seed=r.randrange(1 << 30))
        except ref.ModelError as e:  # x-transformers itself refuses this configuration
            key = str(e).splitlines()[0][:120]
            skipped[key] = skipped.get(key, 0) + 1
            continue
        made += 1
        cases.append(cfg)
        if args.verbose:
            print(f"{out} f32-vs-f64 {err:.2e}", file=sys.stderr)
    print(f"oracle: wrote {made} cases under {args.out} with x-transformers {have} "
          f"({tried - made} configurations PyTorch refused)", file=sys.stderr)
    for k, v in sorted(skipped.items(), key=lambda kv: -kv[1]):
        print(f"  refused x{v}: {k}", file=sys.stderr)
    corners = report(cases, args.out)
    missing = [name for name, n in corners if n == 0]
    if missing and args.n >= 100:
        sys.exit(f"oracle: {args.n} cases sampled none of: {', '.join(missing)} (see {args.out}/options.txt)")


def cmd_fixture(args):
    have = ref.xt_version()
    with open(args.config) as f:
        cfg = json.load(f)
    cfg.setdefault("x_transformers_version", have)
    if cfg["x_transformers_version"] != have:
        sys.exit(f"oracle: {args.config} names x-transformers {cfg['x_transformers_version']}, {have} is on the path")
    scale = cfg.pop("scale", []) + args.scale_param
    err = make_fixture(cfg, args.out, cfg.pop("seed", args.seed), scale)
    print(f"oracle: wrote {args.out} with x-transformers {have} (PyTorch f32 vs f64 max abs diff {err:.2e})", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixture", help="write a reference folder for one config")
    f.add_argument("--config", required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--scale-param", action="append", default=[], metavar="NAME=F",
                   help="after perturbing, multiply the parameters whose names contain NAME by F")
    s = sub.add_parser("sample", help="write reference folders for random configs")
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out", required=True)
    s.add_argument("--xt-version", default="1.9.2", choices=ref.SUPPORTED_VERSIONS)
    s.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    {"fixture": cmd_fixture, "sample": cmd_sample}[args.cmd](args)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException:
        # the oracle's own failure: never a refusal, never quiet
        traceback.print_exc()
        print("oracle: internal error (not a PyTorch refusal); fix the oracle", file=sys.stderr)
        sys.exit(1)
