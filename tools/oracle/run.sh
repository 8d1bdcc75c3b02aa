#!/usr/bin/env bash
# run.sh: sample random x-transformers configurations, run them through
# PyTorch (the oracle) and through xt2onnx's builder + backends, and report
# every mismatch with its config.
#
#   tools/oracle/run.sh [N] [SEED]       (make test-oracle N=200 SEED=1 XT_VERSION=1.9.2)
#
# Environment: ORACLE_VENV (default ~/.cache/xt2onnx/oracle-venv, made by
# `make oracle-venv`), XT_VERSION (1.9.2, or 1.9.1 from the venv's
# x-transformers-1.9.1/ folder), ORACLE_OUT (default out/oracle),
# ORACLE_CHECKS (";"-separated verify configurations, each a backend and
# flags: default "ort;ort --opset 23;native"), VERIFY_FLAGS (flags added to
# every check), JOBS (parallel verify runs, default 2).
#
# Every case is verified with --generate --kv-cache: decoders also compare
# greedy generation token by token and the KV-cache export step by step.
set -euo pipefail
n=${1:-200}
seed=${2:-1}
venv=${ORACLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/xt2onnx/oracle-venv}
xt=${XT_VERSION:-1.9.2}
out=${ORACLE_OUT:-out/oracle}/xt$xt-seed$seed-n$n
checks=${ORACLE_CHECKS:-ort;ort --opset 23;native}
bin=${XT2ONNX:-bin/xt2onnx}
jobs=${JOBS:-2}

[ -x "$venv/bin/python" ] || { echo "run.sh: no oracle venv at $venv; run 'make oracle-venv'" >&2; exit 2; }
[ -x "$bin" ] || { echo "run.sh: $bin not built; run 'make build'" >&2; exit 2; }
case "$xt" in
1.9.2) pythonpath=${PYTHONPATH:-} ;;
1.9.1) pythonpath=$venv/x-transformers-1.9.1${PYTHONPATH:+:$PYTHONPATH}
	[ -d "$venv/x-transformers-1.9.1" ] || { echo "run.sh: no x-transformers 1.9.1 in $venv; run 'make oracle-venv'" >&2; exit 2; } ;;
*) echo "run.sh: XT_VERSION=$xt: want 1.9.1 or 1.9.2" >&2; exit 2 ;;
esac

rm -rf "$out"
# The oracle fails loudly (exit 1, traceback) on any error of its own; only
# configurations x-transformers refuses are skipped, and they are counted.
PYTHONPATH=$pythonpath "$venv/bin/python" tools/oracle/oracle.py sample --n "$n" --seed "$seed" --xt-version "$xt" --out "$out"
echo "sampled option values (every one with its count): $out/options.txt"
cat "$out/options.txt"

total_fail=0
total_pass=0
IFS=';' read -ra confs <<< "$checks"
for conf in "${confs[@]}"; do
	read -ra words <<< "$conf"
	backend=${words[0]}
	flags=("${words[@]:1}")
	tag=$(echo "$conf" | tr ' ' '_' | tr -d -)
	results="$out/verify-$tag.txt"
	export bin backend
	# one line per case: "<dir>\t<verdict line>"
	printf '%s\n' "$out"/case_* | xargs -P "$jobs" -I{} sh -c \
		'd=$1; shift; line=$("$bin" verify --fixture "$d" --backend "$backend" --generate --kv-cache "$@" 2>/dev/null | tail -n 1); printf "%s\t%s\n" "$d" "$line"' \
		sh {} ${flags[@]+"${flags[@]}"} ${VERIFY_FLAGS:-} | sort > "$results"
	pass=$(grep -c $'\tPASS ' "$results" || true)
	(grep $'\tPASS ' "$results" || true) | cut -f1 > "$out/passed-$tag.txt"
	fail=$(grep -vc $'\tPASS ' "$results" || true)
	torch_rule=$(grep $'\tPASS ' "$results" | grep -c "2× PyTorch" || true)
	worst=$( (grep $'\tPASS ' "$results" || true) | sed -n 's/.*max_abs_diff=\([^ ]*\) .*/\1/p' | sort -g | tail -n 1)
	gen=$( (grep -o ' generate=[0-9]*/[0-9]*' "$results" || true) | awk -F'[=/]' '{a+=$2; b+=$3} END {printf "%d/%d", a, b}')
	genkv=$( (grep -o ' generate_kv-cache=[0-9]*/[0-9]*' "$results" || true) | awk -F'[=/]' '{a+=$2; b+=$3} END {printf "%d/%d", a, b}')
	# A tolerance FAIL is float32 noise, not a mismatch, when the same graph
	# run in float64 (tools/oracle/f64check.py) matches PyTorch's float64
	# within 1e-6 and a tenth of the float32 difference: the semantics are
	# exact (to the float32 rounding of constants) and the model amplifies
	# float32 rounding beyond twice PyTorch's own error. Listed apart.
	: > "$out/noise-$tag.txt"
	: > "$out/mismatch-$tag.txt"
	(grep -v $'\tPASS ' "$results" || true) | while IFS=$'\t' read -r d line; do
		if [[ "$line" == *"exceeds tol="* && "$line" != *"steps:"* ]]; then
			ours=$(echo "$line" | sed -n 's/.*max_abs_diff=\([^ ]*\) exceeds.*/\1/p')
			opset=$(printf '%s\n' "${flags[@]+"${flags[@]}"}" | awk 'p {print; exit} $0 == "--opset" {p = 1}')
			"$bin" export --config "$d/config.json" --weights "$d/model.safetensors" --inline ${opset:+--opset "$opset"} -o "$d/f64check.onnx" > /dev/null
			f64=$("$venv/bin/python" tools/oracle/f64check.py "$d/f64check.onnx" "$d" | sed -n 's/.*float64: max abs diff \([^ ]*\) .*/\1/p')
			if awk -v a="$f64" -v b="$ours" 'BEGIN { exit !(a != "" && a <= 1e-6 && a <= b / 10) }'; then
				echo "NOISE [$conf] $d: $line; the graph in float64 is within $f64 of PyTorch float64"
				echo "$d" >> "$out/noise-$tag.txt"
				continue
			fi
		fi
		echo "MISMATCH [$conf] $d: $line"
		echo "  config: $(tr -d '\n ' < "$d/config.json")"
		echo "$d" >> "$out/mismatch-$tag.txt"
	done
	noise=$(wc -l < "$out/noise-$tag.txt")
	fail=$(wc -l < "$out/mismatch-$tag.txt")
	echo "oracle: x-transformers $xt, $n configs (seed $seed), check [$conf]: $pass passed (worst max_abs_diff ${worst:-none}; $torch_rule by the 2× PyTorch float32 rule), $noise float32 noise (exact in float64), generated tokens equal $gen, with the KV cache $genkv; $fail mismatches"
	total_pass=$((total_pass + pass + noise))
	total_fail=$((total_fail + fail))
done
# the cases that passed every check (for select_coverage.py --passed)
cat "$out"/passed-*.txt | sort | uniq -c | awk -v n="${#confs[@]}" '$1 == n {print $2}' > "$out/passed.txt"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
