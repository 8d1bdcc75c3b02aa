#!/usr/bin/env bash
# make_fixtures.sh: regenerate the committed reference folders from their
# configs with the real x-transformers of each release:
#   tools/oracle/fixtures/corners-1.9.2/*.json       -> fixtures/corners-1.9.2/<name>/
#   tools/oracle/fixtures/xtransformers-1.9.1/*.json -> fixtures/xtransformers-1.9.1/<name>/
# A config may hold "inputs" (shape, dtype, mask "pattern"), "generate"
# (greedy tokens) and "scale" (["NAME=F", ...]: parameters multiplied after
# the perturbation) and "seed" (default: the cksum of the name, so that
# adding a config changes no other folder). Needs `make oracle-venv`.
set -euo pipefail
venv=${ORACLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/xt2onnx/oracle-venv}
for set in corners-1.9.2 xtransformers-1.9.1; do
	pythonpath=${PYTHONPATH:-}
	[ "$set" = xtransformers-1.9.1 ] && pythonpath=$venv/x-transformers-1.9.1
	for cfg in tools/oracle/fixtures/$set/*.json; do
		name=$(basename "$cfg" .json)
		seed=$(printf '%s' "$name" | cksum | cut -d' ' -f1)
		rm -rf "fixtures/$set/$name"
		PYTHONPATH=$pythonpath "$venv/bin/python" tools/oracle/oracle.py fixture --config "$cfg" --out "fixtures/$set/$name" --seed "$seed"
	done
done
# The NonAutoregressiveWrapper corners: the wrapper (nar.json,
# nar.safetensors, gen.nar*) around the net just written.
"$venv/bin/python" tools/oracle/make_nar.py fixtures/corners-1.9.2/nar_self_cond fixtures/corners-1.9.2/nar_token_critic fixtures/corners-1.9.2/nar_self_critic
