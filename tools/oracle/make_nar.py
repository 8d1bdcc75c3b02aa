"""make_nar.py FIXTURE_DIR...: add a NonAutoregressiveWrapper around the
network of an existing non-causal TransformerWrapper fixture (made by
oracle.py from tools/oracle/fixtures/corners-1.9.2/<name>.json), with the
x-transformers 1.9.2 of the oracle venv. The wrapper's keyword arguments
per folder are in VARIANTS below. Writes into the folder:

  nar.json          the xt2onnx config: the fixture's network plus a
                    "nonautoregressive" object with the wrapper's kwargs
                    (token_critic as a {"wrapper", "attn_layers"} object)
  nar.safetensors   the wrapper's whole state_dict (net.*, null_embed,
                    to_self_cond.weight, token_critic.*), float32; with
                    self_token_critic it holds token_critic.net.* too, as
                    PyTorch's state_dict does
and adds to io.safetensors (every tensor already there kept byte for byte):

  gen.nar           int64 [2, max_seq_len]: wrapper.generate(batch_size=2,
                    start_temperature=0, noise_level_scale=0) on the
                    float64 wrapper
  gen.nar_cosine_remask  the same with schedule cosine and
                    can_mask_prev_unmasked=True
  nar.critic_x      int64 [2, max_seq_len], random tokens, and
  nar.critic_f64    float64 [2, max_seq_len]: the token critic's scores of
                    them (token_critic(x)[..., 0]); critic fixtures only

1.9.2 draws Gumbel noise from PyTorch's RNG even at start_temperature 0
(scaled by 1e-3) and adds critic noise scaled by noise_level_scale; Go
cannot reproduce that RNG. The references are made at noise_level_scale 0
and the script checks that the result equals the noise-free run (Gumbel
noise replaced by zeros) and the float32 wrapper's, so that each reference
is the deterministic zero-temperature limit, robust to rounding.
"""
import copy
import json
import os
import sys
import zlib

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import xt2onnx_ref as ref  # noqa: E402

CRITIC = {"wrapper": {"num_tokens": 32, "max_seq_len": 12, "logits_dim": 1},
          "attn_layers": {"type": "Encoder", "dim": 16, "depth": 1, "heads": 2, "attn_dim_head": 8}}

VARIANTS = {
    "nar_self_cond": {"mask_id": 31, "steps": 6, "self_cond": True},
    "nar_token_critic": {"mask_id": 31, "steps": 6, "token_critic": CRITIC},
    "nar_self_critic": {"mask_id": 31, "steps": 6, "self_cond": True, "self_token_critic": True},
}


def perturb(module, gen):
    with torch.no_grad():
        for p in module.parameters():
            n1 = torch.randn(p.shape, generator=gen)
            n2 = torch.randn(p.shape, generator=gen)
            p.mul_(1 + 0.2 * n1).add_(0.05 * n2)


def generate(w, noise, **kw):
    import x_transformers.nonautoregressive_wrapper as nar
    real = nar.gumbel_noise
    if not noise:
        nar.gumbel_noise = lambda t: torch.zeros_like(t)
    try:
        return w.generate(batch_size=2, start_temperature=0., noise_level_scale=0., **kw)
    finally:
        nar.gumbel_noise = real


def add(d):
    import x_transformers.nonautoregressive_wrapper as nar
    name = os.path.basename(os.path.normpath(d))
    kw = copy.deepcopy(VARIANTS[name])
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    net = ref.build(cfg)
    net.load_state_dict(load_file(os.path.join(d, "model.safetensors")))
    seed = zlib.crc32(("nar:" + name).encode())
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    critic_cfg = kw.pop("token_critic", None)
    critic = None
    if critic_cfg is not None:
        critic = ref.build({"kind": "TransformerWrapper", **critic_cfg})
    w = nar.NonAutoregressiveWrapper(net, token_critic=critic, **kw)
    # Perturb the wrapper's own parameters (the network's already are).
    own = [m for n, m in w.named_children() if n != "net"]
    for m in own:
        if isinstance(m, nar.SelfCritic):
            perturb(m.to_logits, gen)
        else:
            perturb(m, gen)
    if kw.get("self_cond"):
        with torch.no_grad():
            w.null_embed.copy_(torch.randn(w.null_embed.shape, generator=gen))
    w.eval()
    state = {k: v.detach().contiguous().clone().float() for k, v in w.state_dict().items()}
    xcfg = {k: cfg[k] for k in ("kind", "x_transformers_version", "wrapper", "attn_layers") if k in cfg}
    xcfg["nonautoregressive"] = dict(VARIANTS[name])
    new = {}
    w64 = copy.deepcopy(w).double()
    w32 = w
    for ref_name, extra in (("gen.nar", {}), ("gen.nar_cosine_remask", {"schedule": "cosine", "can_mask_prev_unmasked": True})):
        for m in (w64, w32):
            m.can_mask_prev_unmasked = extra.get("can_mask_prev_unmasked", kw.get("can_mask_prev_unmasked", False))
            m.schedule_fn = nar.cosine_schedule if extra.get("schedule", kw.get("schedule", "linear")) == "cosine" else nar.linear_schedule
        with torch.no_grad():
            torch.manual_seed(seed)
            noisy = generate(w64, True)
            clean = generate(w64, False)
            f32 = generate(w32, False)
        if not torch.equal(noisy, clean) or not torch.equal(clean, f32):
            sys.exit(f"{d}: {ref_name}: 1.9.2's noise or float32 rounding changed the result; pick another seed")
        if len(set(clean.flatten().tolist())) < 3:
            sys.exit(f"{d}: {ref_name}: degenerate result {clean.tolist()}")
        new[ref_name] = clean
    if w.token_critic is not None:
        x = torch.randint(0, cfg["wrapper"]["num_tokens"], (2, cfg["wrapper"]["max_seq_len"]), generator=gen)
        with torch.no_grad():
            new["nar.critic_x"] = x
            new["nar.critic_f64"] = w64.token_critic(x)[..., 0].double()
    path = os.path.join(d, "io.safetensors")
    io = load_file(path)
    with safe_open(path, "pt") as f:
        metadata = f.metadata()
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
    save_file(state, os.path.join(d, "nar.safetensors"))
    with open(os.path.join(d, "nar.json"), "w") as f:
        json.dump(xcfg, f, indent=1)
        f.write("\n")
    print(f"{d}: wrote nar.json, nar.safetensors ({len(state)} tensors); added "
          + ", ".join(f"{k} {list(v.shape)}" for k, v in new.items()), file=sys.stderr)
    for k, v in new.items():
        if k.startswith("gen."):
            print(f"  {k} = {v.tolist()}", file=sys.stderr)


if __name__ == "__main__":
    for d in sys.argv[1:]:
        add(d)
