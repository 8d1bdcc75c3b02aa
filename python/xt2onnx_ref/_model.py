"""Configs in xt2onnx's JSON form, and the x-transformers models they describe."""
import copy
import glob
import os

SUPPORTED_VERSIONS = ("1.9.1", "1.9.2")
KINDS = ("TransformerWrapper", "ContinuousTransformerWrapper", "ViTransformerWrapper",
         "XTransformer", "CrossAttender")
LAYER_TYPES = ("Encoder", "Decoder", "CrossAttender")


class ReferenceError(Exception):
    """Base class of the errors xt2onnx_ref raises."""


class ModelError(ReferenceError):
    """x-transformers or PyTorch refused the model: its constructor or its
    forward pass raised (the original exception is the cause), or its
    output is not finite."""


def xt_version():
    """Return the version of the x_transformers package that `import
    x_transformers` finds, read from the dist-info beside it (so that a
    copy installed with pip --target and put first on PYTHONPATH reports
    its own version)."""
    import x_transformers
    here = os.path.dirname(os.path.dirname(os.path.abspath(x_transformers.__file__)))
    infos = glob.glob(os.path.join(here, "x_transformers-*.dist-info"))
    if len(infos) == 1:
        return os.path.basename(infos[0])[len("x_transformers-"):-len(".dist-info")]
    from importlib.metadata import version
    return version("x-transformers")


def check_version(version=None):
    """Return the installed x-transformers version, checking that it is
    one xt2onnx reproduces (and equal to `version` when given)."""
    have = xt_version()
    if have not in SUPPORTED_VERSIONS:
        raise ReferenceError(
            f"x-transformers {have} is installed; xt2onnx reproduces {' and '.join(SUPPORTED_VERSIONS)}: "
            f"make the reference with one of them (pip install x-transformers=={SUPPORTED_VERSIONS[-1]})")
    if version is not None and version != have:
        raise ReferenceError(f"the config names x_transformers_version {version!r} but x-transformers {have} is installed")
    return have


def config(kind, wrapper=None, attn_layers=None, x_transformers_version=None):
    """Return a config in xt2onnx's JSON form.

    kind is the top-level class ("TransformerWrapper",
    "ContinuousTransformerWrapper", "ViTransformerWrapper", "XTransformer"
    or "CrossAttender"); wrapper holds the wrapper's keyword arguments
    (for XTransformer all of them, flat, with the enc_/dec_ prefixes) and
    attn_layers the AttentionLayers ones with "type" ("Encoder",
    "Decoder" or "CrossAttender") and the attn_/ff_ prefixes, exactly as
    the PyTorch constructors take them. x_transformers_version defaults to
    the installed release.
    """
    if kind not in KINDS:
        raise ReferenceError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    cfg = {"kind": kind, "x_transformers_version": x_transformers_version or check_version()}
    if kind == "XTransformer":
        if attn_layers:
            raise ReferenceError("XTransformer takes all its kwargs in wrapper (enc_*, dec_*); attn_layers must be None")
        cfg["wrapper"] = dict(wrapper or {})
        cfg["attn_layers"] = None
        return cfg
    if not attn_layers or attn_layers.get("type") not in LAYER_TYPES:
        raise ReferenceError(f"attn_layers needs 'type': one of {', '.join(LAYER_TYPES)}")
    if kind == "CrossAttender":
        if wrapper:
            raise ReferenceError("a bare CrossAttender has no wrapper kwargs")
        cfg["wrapper"] = None
    else:
        if wrapper is None:
            raise ReferenceError(f"{kind} needs its wrapper kwargs")
        cfg["wrapper"] = dict(wrapper)
    cfg["attn_layers"] = dict(attn_layers)
    return cfg


def _classes():
    from x_transformers import (ContinuousTransformerWrapper, CrossAttender, Decoder, Encoder,
                                TransformerWrapper, ViTransformerWrapper, XTransformer)
    return {"Encoder": Encoder, "Decoder": Decoder, "CrossAttender": CrossAttender,
            "TransformerWrapper": TransformerWrapper,
            "ContinuousTransformerWrapper": ContinuousTransformerWrapper,
            "ViTransformerWrapper": ViTransformerWrapper, "XTransformer": XTransformer}


def _plain(v):
    # JSON lists become the tuples x-transformers expects (shift_tokens,
    # layer_dropout use cast_tuple, which keeps tuples only).
    return tuple(v) if isinstance(v, list) else v


def build(cfg):
    """Construct the x-transformers model that cfg describes (in training
    mode, freshly initialised). Raises ModelError when x-transformers
    refuses the kwargs."""
    cls = _classes()
    kind = cfg["kind"]
    try:
        if kind == "XTransformer":
            return cls["XTransformer"](**{k: _plain(v) for k, v in cfg["wrapper"].items()})
        kw = {k: _plain(v) for k, v in cfg["attn_layers"].items()}
        layers = cls[kw.pop("type")](**kw)
        if kind == "CrossAttender":
            return layers
        return cls[kind](**{k: _plain(v) for k, v in cfg["wrapper"].items()}, attn_layers=layers)
    except Exception as e:
        raise ModelError(f"x-transformers refused the config: {type(e).__name__}: {e}") from e


def build_meta(cfg):
    """build(cfg) on PyTorch's meta device (no memory, no init cost) when
    possible, else on the CPU."""
    import torch
    try:
        with torch.device("meta"):
            return build(cfg)
    except ModelError as e:
        if isinstance(e.__cause__, (AssertionError, TypeError, ValueError)):
            raise
        return build(cfg)


def kwargs_sections(cfg):
    """Yield (section, dict) for the kwargs objects of cfg."""
    for s in ("wrapper", "attn_layers"):
        if cfg.get(s):
            yield s, cfg[s]


def with_kwarg(cfg, section, key, value):
    """Return a copy of cfg with section[key] = value (value None removes
    the key)."""
    c = copy.deepcopy(cfg)
    if value is None:
        c[section].pop(key, None)
    else:
        c[section][key] = value
    return c
