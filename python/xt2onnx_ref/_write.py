"""Write a reference folder: config.json, model.safetensors, io.safetensors."""
import copy
import json
import math
import os

from ._check import check_kwargs
from ._model import ModelError, ReferenceError, check_version

# The inputs each kind takes, as xt2onnx names them.
_INPUTS = {
    "TransformerWrapper": ("x", "mask", "context", "context_mask"),
    "ContinuousTransformerWrapper": ("x", "mask"),
    "ViTransformerWrapper": ("img",),
    "XTransformer": ("src", "tgt", "src_mask"),
    "CrossAttender": ("x", "mask", "context", "context_mask"),
}


def _layers(cfg):
    return cfg.get("attn_layers") or {}


def is_decoder_lm(cfg):
    """A decoder-only TransformerWrapper (no context): the models xt2onnx
    generates with."""
    l = _layers(cfg)
    return cfg["kind"] == "TransformerWrapper" and l.get("type") == "Decoder" and not l.get("cross_attend")


def random_mask(shape, gen, pattern="random", allow_empty=False):
    """A bool keep mask [batch, n]: pattern "tail" pads the end of the
    last row, "random" mixes padding at either end, holes and full rows,
    and with allow_empty (rarely) rows with nothing kept, which PyTorch's
    float64 attention turns into NaN unless qk-norm is on (its softmax
    runs in float32 and -max(float64) becomes -inf)."""
    import torch
    b, n = shape
    m = torch.ones(shape, dtype=torch.bool)
    if pattern == "tail":
        m[-1, max(1, n - 3):] = False
        return m
    for r in range(b):
        kind = int(torch.randint(0, 6, (1,), generator=gen))
        if kind == 1:    # right padding
            m[r, int(torch.randint(1, n + 1, (1,), generator=gen)):] = False
        elif kind == 2:  # left padding
            m[r, : int(torch.randint(0, n, (1,), generator=gen))] = False
        elif kind == 3 or kind == 4:  # holes
            m[r] = torch.rand(n, generator=gen) < 0.6
            m[r, int(torch.randint(0, n, (1,), generator=gen))] = True
        elif kind == 5 and float(torch.rand(1, generator=gen)) < 0.15 and allow_empty:
            m[r] = False  # nothing kept: PyTorch attends uniformly
    return m


def sample_inputs(cfg, batch=2, seq_len=None, context_len=None, mask=None, context_mask=None, seed=0, mask_pattern="random"):
    """Sample inputs for the model's kind: token ids below the vocabulary,
    standard-normal embeddings and images, and keep masks. mask and
    context_mask: True to add one, False for none, None for the kind's
    default (encoders and XTransformer sources get one)."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    kind, l, w = cfg["kind"], _layers(cfg), cfg.get("wrapper") or {}
    ins = {}
    if kind == "XTransformer":
        s = seq_len or min(16, w["enc_max_seq_len"])
        t = context_len or min(12, w["dec_max_seq_len"])
        ins["src"] = torch.randint(0, w["enc_num_tokens"], (batch, s), generator=gen)
        ins["tgt"] = torch.randint(0, w["dec_num_tokens"], (batch, t), generator=gen)
        if mask is not False:
            ins["src_mask"] = random_mask((batch, s), gen, mask_pattern)
        return ins
    if kind == "ViTransformerWrapper":
        ins["img"] = torch.randn(batch, w.get("channels", 3), w["image_size"], w["image_size"], generator=gen)
        return ins
    dim = l["dim"]
    n = seq_len or min(16, w.get("max_seq_len", 16))
    if kind == "TransformerWrapper":
        ins["x"] = torch.randint(0, w["num_tokens"], (batch, n), generator=gen)
    elif kind == "ContinuousTransformerWrapper":
        ins["x"] = torch.randn(batch, n, w.get("dim_in") or dim, generator=gen)
    else:
        ins["x"] = torch.randn(batch, n, dim, generator=gen)
    if mask or (mask is None and l.get("type") == "Encoder" and kind != "CrossAttender"):
        ins["mask"] = random_mask((batch, n), gen, mask_pattern)
    if kind == "CrossAttender" or l.get("cross_attend"):
        m = context_len or n
        ins["context"] = torch.randn(batch, m, dim, generator=gen)
        if context_mask or (context_mask is None and kind == "CrossAttender"):
            ins["context_mask"] = random_mask((batch, m), gen, mask_pattern)
    return ins


def forward(model, cfg, ins):
    """Run the model on the inputs as xt2onnx's exported graph computes
    it (see fixtures/xtransformers-1.9.2/README.md)."""
    kind = cfg["kind"]
    try:
        if kind == "TransformerWrapper":
            kw = {k: ins[k] for k in ("mask", "context", "context_mask") if k in ins}
            return model(ins["x"], **kw)
        if kind == "ContinuousTransformerWrapper":
            return model(ins["x"], mask=ins.get("mask"))
        if kind == "ViTransformerWrapper":
            return model(ins["img"])
        if kind == "CrossAttender":
            return model(ins["x"], context=ins["context"], mask=ins.get("mask"), context_mask=ins.get("context_mask"))
        if kind == "XTransformer":
            mask = ins.get("src_mask")
            enc = model.encoder(ins["src"], mask=mask, return_embeddings=True)
            return model.decoder.net(ins["tgt"], context=enc, context_mask=mask)
    except Exception as e:
        raise ModelError(f"the forward pass failed: {type(e).__name__}: {e}") from e
    raise ReferenceError(f"unknown kind {kind!r}")


def greedy(model64, cfg, start, steps):
    """Greedy generation with x-transformers' AutoregressiveWrapper.generate
    (top-k with k = 1) on the float64 model; returns (tokens, margins):
    the new tokens and, per step, the float64 gap between the best and
    second-best logit (0 for a tie, where any of the tied tokens is right)."""
    import torch
    from x_transformers.autoregressive_wrapper import AutoregressiveWrapper, top_k
    vocab = cfg["wrapper"].get("logits_dim") or cfg["wrapper"]["num_tokens"]
    try:
        out = AutoregressiveWrapper(model64).generate(start, steps, filter_logits_fn=top_k, filter_thres=1 - 0.5 / vocab)
    except Exception as e:
        raise ModelError(f"generation failed: {type(e).__name__}: {e}") from e
    seq = torch.cat((start, out), dim=-1)
    max_len = cfg["wrapper"]["max_seq_len"]
    margins = torch.zeros(out.shape, dtype=torch.float64)
    for i in range(steps):
        n = start.shape[1] + i
        logits = model64(seq[:, max(0, n - max_len):n])[:, -1]
        top = logits.topk(2, dim=-1).values if logits.shape[-1] > 1 else torch.cat((logits, logits), -1)
        margins[:, i] = top[:, 0] - top[:, 1]
        best = logits.argmax(dim=-1)
        picked = out[:, i]
        # generate's token must be one of the best (ties may pick either)
        if not bool((logits.gather(1, picked[:, None])[:, 0] == logits.gather(1, best[:, None])[:, 0]).all()):
            raise ReferenceError(f"greedy step {i}: AutoregressiveWrapper.generate picked {picked.tolist()}, the best logits are at {best.tolist()}")
    return out, margins


def _save(tensors, path, metadata=None):
    from safetensors.torch import save_file
    # clone: safetensors refuses tensors that share memory (tied weights)
    save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, path, metadata=metadata)


def write(model, cfg, out, batch=2, seq_len=None, context_len=None, inputs=None, mask=None, context_mask=None,
          seed=0, generate=8, gen_start_len=4, mask_pattern="random", check=True):
    """Write the reference folder out for model (an x-transformers model
    built from cfg's kwargs, trained or not; it is not modified).

    inputs, when given, is {name: tensor}; otherwise inputs are sampled
    (see sample_inputs). generate > 0 adds a greedy generation of that
    many tokens for decoder-only TransformerWrappers. Returns PyTorch's own
    float32 error (max |float32 - float64|).
    """
    import torch
    cfg = copy.deepcopy(cfg)
    version = check_version(cfg.get("x_transformers_version"))
    cfg["x_transformers_version"] = version
    if check:
        check_kwargs(model, cfg)
    ins = inputs if inputs is not None else sample_inputs(
        cfg, batch, seq_len, context_len, mask, context_mask, seed, mask_pattern)
    ins = {k: v.cpu() for k, v in ins.items()}
    m32 = copy.deepcopy(model).cpu().float().eval()
    m64 = copy.deepcopy(model).cpu().double().eval()
    ins64 = {k: (v.double() if v.is_floating_point() else v) for k, v in ins.items()}
    with torch.no_grad():
        y32 = forward(m32, cfg, ins)
        y64 = forward(m64, cfg, ins64)
        if not (torch.isfinite(y64).all() and torch.isfinite(y32).all()):
            raise ModelError("PyTorch's output is not finite")
        io = {"input." + k: (v.to(torch.uint8) if v.dtype == torch.bool else v) for k, v in ins.items()}
        io["output"] = y32.float()
        io["output_f64"] = y64
        if generate and is_decoder_lm(cfg):
            gen = torch.Generator().manual_seed(seed + 1)
            start = torch.randint(0, cfg["wrapper"]["num_tokens"], (batch, gen_start_len), generator=gen)
            tokens, margins = greedy(m64, cfg, start, generate)
            io["gen.start"], io["gen.out"], io["gen.margin"] = start, tokens, margins
    os.makedirs(out, exist_ok=True)
    state = {k: v.float() for k, v in model.state_dict().items()}
    _save(state, os.path.join(out, "model.safetensors"))
    _save(io, os.path.join(out, "io.safetensors"), {"x_transformers_version": version, "torch": torch.__version__})
    cfg["inputs"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in ins.items()}
    cfg["output_shape"] = list(y64.shape)
    if cfg.get("wrapper") is None:
        cfg.pop("wrapper", None)
    if cfg.get("attn_layers") is None:
        cfg.pop("attn_layers", None)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    err = (y32.double() - y64).abs().max().item()
    return 0.0 if math.isnan(err) else err
