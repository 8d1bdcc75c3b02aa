#!/usr/bin/env python3
"""Pick a small set of oracle fixtures that together use every option.

  select_coverage.py ROOT [ROOT ...] --out fixtures/oracle-1.9.2 [--passed FILE]

Reads the config.json of every case under the ROOTs, and greedily picks cases
until every (section, key) and every boolean/enum value seen anywhere is used
by at least --times picked cases; copies them to --out as cov_NN. --passed names a
file of case directories that passed (one per line); others are ignored.
"""
import argparse
import json
import os
import shutil


def features(cfg):
    out = {("kind", cfg["kind"])}
    for section in ("wrapper", "attn_layers"):
        for k, v in (cfg.get(section) or {}).items():
            if k in ("dim", "depth", "heads", "num_tokens", "max_seq_len", "enc_num_tokens", "dec_num_tokens",
                     "enc_max_seq_len", "dec_max_seq_len"):
                continue
            key = k[4:] if k.startswith(("enc_", "dec_")) else k
            if isinstance(v, bool):
                out.add((key, v))
            elif key == "type":
                out.add((key, v))
            else:
                out.add((key, "set"))
    for name in cfg.get("inputs", {}):
        out.add(("input", name))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("roots", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--passed")
    p.add_argument("--times", type=int, default=2)
    a = p.parse_args()
    ok = None
    if a.passed:
        ok = {os.path.normpath(l.strip()) for l in open(a.passed) if l.strip()}
    cases = {}
    for root in a.roots:
        for d in sorted(os.listdir(root)):
            path = os.path.normpath(os.path.join(root, d))
            if ok is not None and path not in ok:
                continue
            with open(os.path.join(path, "config.json")) as f:
                cases[path] = features(json.load(f))
    # every feature at least `--times` times (or as often as it occurs)
    avail = {}
    for f in cases.values():
        for x in f:
            avail[x] = avail.get(x, 0) + 1
    need = {x: min(a.times, n) for x, n in avail.items()}
    picked = []
    while any(v > 0 for v in need.values()):
        best = max(cases, key=lambda c: sum(1 for x in cases[c] if need.get(x, 0) > 0))
        picked.append(best)
        for x in cases.pop(best):
            if need.get(x, 0) > 0:
                need[x] -= 1
    want = avail
    os.makedirs(a.out, exist_ok=True)
    for i, src in enumerate(picked):
        dst = os.path.join(a.out, f"cov_{i:02d}")
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
    print(f"picked {len(picked)} cases covering {len(want)} features")


if __name__ == "__main__":
    main()
