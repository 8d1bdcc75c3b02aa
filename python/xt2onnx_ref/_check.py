"""Check that a config's kwargs rebuild a model's state_dict exactly."""
import re
import warnings

from ._model import ModelError, ReferenceError, build_meta, kwargs_sections, with_kwarg


class KwargsError(ReferenceError):
    """The kwargs do not rebuild the model's state_dict: names or shapes
    differ. missing/unexpected/mismatched list the differences, fixes the
    single kwarg changes that make them match ("section.key=value")."""

    def __init__(self, message, missing, unexpected, mismatched, fixes):
        super().__init__(message)
        self.missing, self.unexpected, self.mismatched, self.fixes = missing, unexpected, mismatched, fixes


# kwargs that change which parameters exist or their shapes
_LAYER_BOOLS = [
    "cross_attend", "only_cross", "use_scalenorm", "use_rmsnorm", "alibi_learned", "rel_pos_bias",
    "dynamic_pos_bias", "dynamic_pos_bias_norm", "rotary_pos_emb", "rotary_xpos", "macaron", "pre_norm",
    "gate_residual", "scale_residual", "sandwich_norm", "deepnorm", "attn_talking_heads", "attn_head_scale",
    "attn_on_attn", "attn_gate_values", "attn_qk_norm_dim_scale", "attn_one_kv_head", "attn_shared_kv",
    "attn_tensor_product", "ff_glu", "ff_post_act_ln", "ff_no_bias",
]
_LAYER_INTS = [
    "depth", "heads", "attn_dim_head", "attn_num_mem_kv", "attn_value_dim_head", "rotary_emb_dim",
    "dynamic_pos_bias_mlp_depth", "rel_pos_num_buckets", "alibi_num_heads", "shift_tokens", "sandwich_coef",
    "par_ratio", "dim",
]
_LAYER_FLOATS = ["ff_mult"]
_WRAPPER_BOOLS = ["post_emb_norm", "tie_embedding", "use_abs_pos_emb", "scaled_sinu_pos_emb", "tie_token_emb"]
_WRAPPER_INTS = ["num_tokens", "max_seq_len", "emb_dim", "num_memory_tokens", "logits_dim", "dim_in", "dim_out",
                 "image_size", "patch_size", "channels", "num_classes", "dim"]

# parameter-name patterns and the kwargs that decide them
_HINTS = [
    (r"qk_norm_[qk]_scale", "attn_qk_norm, attn_qk_norm_dim_scale"),
    (r"\.mem_[kv]$", "attn_num_mem_kv"),
    (r"\.to_v_gate\.", "attn_gate_values"),
    (r"\.to_r\.", "attn_tensor_product"),
    (r"talking_heads", "attn_talking_heads"),
    (r"head_scale_params", "attn_head_scale"),
    (r"\.to_(q|k|v|out)\b", "heads, attn_dim_head, attn_value_dim_head, attn_one_kv_head, attn_shared_kv, attn_on_attn"),
    (r"\.ff\.0\.proj", "ff_glu"),
    (r"\.ff\.", "ff_mult, ff_glu, ff_no_bias, ff_post_act_ln"),
    (r"rotary_pos_emb", "rotary_pos_emb, rotary_emb_dim, rotary_xpos"),
    (r"rel_pos\.", "rel_pos_bias, rel_pos_num_buckets, dynamic_pos_bias, dynamic_pos_bias_mlp_depth, dynamic_pos_bias_norm, alibi_learned"),
    (r"\.gru\.", "gate_residual"),
    (r"residual_scale", "scale_residual"),
    (r"\.0\.[012]\.", "pre_norm, sandwich_norm, use_scalenorm, use_rmsnorm, deepnorm"),
    (r"\.fn\.", "shift_tokens, macaron"),
    (r"layers\.\d+\.", "depth, custom_layers, par_ratio, sandwich_coef, macaron, cross_attend, only_cross"),
    (r"token_emb", "num_tokens, emb_dim"),
    (r"pos_emb", "max_seq_len, use_abs_pos_emb, scaled_sinu_pos_emb"),
    (r"memory_tokens", "num_memory_tokens"),
    (r"to_logits", "logits_dim, tie_embedding"),
    (r"project_(emb|in|out)", "emb_dim, dim_in, dim_out"),
    (r"post_emb_norm", "post_emb_norm"),
    (r"patch_to_embedding|pos_embedding", "image_size, patch_size, channels"),
    (r"mlp_head", "num_classes"),
]


def shapes(state_dict):
    return {k: tuple(v.shape) for k, v in state_dict.items()}


def diff(have, want):
    """Compare {name: shape} of the model (have) with the kwargs' (want)."""
    missing = sorted(k for k in want if k not in have)
    unexpected = sorted(k for k in have if k not in want)
    mismatched = sorted(k for k in want if k in have and want[k] != have[k])
    return missing, unexpected, mismatched


def _int_candidates(value, dims):
    out = set(dims)
    if isinstance(value, int) and not isinstance(value, bool):
        out |= {value - 2, value - 1, value + 1, value + 2, value * 2, value // 2}
        out |= {d // value for d in dims if value > 0 and d % value == 0}
    out |= {0, 1, 2, 3, 4}
    return sorted(v for v in out if v >= 0)


def _candidates(cfg, dims):
    """Yield (section, key, value) single changes worth trying."""
    layer_prefixes = [""]
    if cfg["kind"] == "XTransformer":
        layer_prefixes = ["enc_", "dec_"]
    for section, kw in kwargs_sections(cfg):
        is_layers = section == "attn_layers" or cfg["kind"] == "XTransformer"
        bools, ints, floats = [], [], []
        if section == "wrapper":
            bools += _WRAPPER_BOOLS
            ints += _WRAPPER_INTS
        if is_layers:
            pre = layer_prefixes if section == "wrapper" else [""]
            bools += [p + k for p in pre for k in _LAYER_BOOLS]
            ints += [p + k for p in pre for k in _LAYER_INTS if not (p and k == "dim")]
            floats += [p + k for p in pre for k in _LAYER_FLOATS]
        for k in bools:
            yield section, k, not kw.get(k, k.endswith("pre_norm") or k.endswith("use_abs_pos_emb"))
        for k in ints:
            for v in _int_candidates(kw.get(k), dims):
                if v != kw.get(k):
                    yield section, k, v
        for k in floats:
            cur = kw.get(k, 4)
            for v in {1, 2, 3, 4, 8, 2.5, 1.5, 2.6666666666666665}:
                if v != cur:
                    yield section, k, v


def _apply(cfg, section, key, value):
    c = with_kwarg(cfg, section, key, value)
    # options that need a companion to have any effect
    if key.endswith("attn_qk_norm_dim_scale") and value:
        c[section][key[: -len("_dim_scale")]] = True
    if key.endswith("alibi_learned") and value:
        c[section][key.replace("alibi_learned", "alibi_pos_bias")] = True
    return c


def find_fixes(cfg, have, limit=None):
    """Return the single kwarg changes ("section.key=value") with which cfg
    rebuilds exactly the state_dict shapes `have`."""
    dims = {d for s in have.values() for d in s}
    fixes = []
    for n, (section, key, value) in enumerate(_candidates(cfg, dims)):
        if limit is not None and n >= limit:
            break
        c = _apply(cfg, section, key, value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # candidates with 0-sized layers warn
                want = shapes(build_meta(c).state_dict())
        except ModelError:
            continue
        if want == have:
            given = cfg[section].get(key, "the default")
            fixes.append(f"{section}.{key}={value!r} (the config has {given!r})")
    return fixes


def hints(names):
    """Return the kwargs that decide the given parameter names."""
    out = []
    for pat, kws in _HINTS:
        if any(re.search(pat, n) for n in names):
            out.append(kws)
    seen, flat = set(), []
    for kws in out:
        for k in kws.split(", "):
            if k not in seen:
                seen.add(k)
                flat.append(k)
    return flat


def check_kwargs(model, cfg, search=True):
    """Raise KwargsError unless cfg's kwargs build a model whose
    state_dict has exactly model's names and shapes. With search, the
    error names the single kwarg changes that would make them match."""
    have = shapes(model.state_dict())
    want = shapes(build_meta(cfg).state_dict())
    missing, unexpected, mismatched = diff(have, want)
    if not (missing or unexpected or mismatched):
        return
    lines = [f"the config's kwargs do not rebuild this model's state_dict "
             f"({len(missing)} missing, {len(unexpected)} unexpected, {len(mismatched)} of another shape):"]
    show = 8
    for title, names, fmt in (
        ("in the model, not made by the kwargs", unexpected, lambda k: f"{k} {have[k]}"),
        ("made by the kwargs, not in the model", missing, lambda k: f"{k} {want[k]}"),
        ("other shape", mismatched, lambda k: f"{k}: model {have[k]}, kwargs {want[k]}"),
    ):
        for k in names[:show]:
            lines.append(f"  {title}: {fmt(k)}")
        if len(names) > show:
            lines.append(f"  {title}: … {len(names) - show} more")
    fixes = find_fixes(cfg, have) if search else []
    if fixes:
        lines.append("the state_dict matches exactly with " + ("one of: " if len(fixes) > 1 else "") + "; ".join(fixes))
    else:
        h = hints(missing + unexpected + mismatched)
        if h:
            lines.append("no single kwarg change makes them match; the differing names are decided by: " + ", ".join(h))
        lines.append("xt2onnx config infer --weights model.safetensors shows the kwargs these weights imply")
    raise KwargsError("\n".join(lines), missing, unexpected, mismatched, fixes)
