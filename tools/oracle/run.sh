#!/usr/bin/env bash
# run.sh: sample random x-transformers 1.9.2 configurations, run them through
# PyTorch (the oracle) and through xt2onnx's builder + a backend, and report
# every mismatch with its config.
#
#   tools/oracle/run.sh [N] [SEED]       (make test-oracle N=200 SEED=1)
#
# Environment: ORACLE_VENV (default ~/.cache/xt2onnx/oracle-venv, made by
# `make oracle-venv`), ORACLE_OUT (default out/oracle), BACKEND (ort),
# VERIFY_FLAGS (extra flags for xt2onnx verify, e.g. "--inline --opset 23").
set -euo pipefail
n=${1:-200}
seed=${2:-1}
venv=${ORACLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/xt2onnx/oracle-venv}
out=${ORACLE_OUT:-out/oracle}/seed$seed-n$n
backend=${BACKEND:-ort}
bin=${XT2ONNX:-bin/xt2onnx}

[ -x "$venv/bin/python" ] || { echo "run.sh: no oracle venv at $venv; run 'make oracle-venv'" >&2; exit 2; }
[ -x "$bin" ] || { echo "run.sh: $bin not built; run 'make build'" >&2; exit 2; }

rm -rf "$out"
"$venv/bin/python" tools/oracle/oracle.py sample --n "$n" --seed "$seed" --out "$out"

pass=0 fail=0 noise=0 worst=0
failures=()
: > "$out/passed.txt"
for d in "$out"/case_*; do
	line=$("$bin" verify --fixture "$d" --backend "$backend" ${VERIFY_FLAGS:-} 2>/dev/null | tail -n 1) || true
	case "$line" in
	PASS*)
		pass=$((pass + 1))
		echo "$d" >> "$out/passed.txt"
		diff=${line##*max_abs_diff=}
		worst=$(awk -v a="$worst" -v b="$diff" 'BEGIN { print (b > a) ? b : a }')
		;;
	*"exceeds tol"*)
		# Within twice PyTorch's own float32 error (two independent float32
		# computations each err by about that much): float32 noise,
		# not a semantic mismatch. Counted apart, and listed.
		ours=$(echo "$line" | sed -n 's/.*max_abs_diff=\([^ ]*\) .*/\1/p')
		torch=$(echo "$line" | sed -n "s/.*float32 error: \([^)]*\)).*/\1/p")
		if awk -v a="$ours" -v b="$torch" 'BEGIN { exit !(a <= 2 * b) }'; then
			noise=$((noise + 1))
			echo "NOISE $d: $line"
		else
			fail=$((fail + 1))
			failures+=("$d: $line")
		fi
		;;
	*)
		fail=$((fail + 1))
		failures+=("$d: $line")
		;;
	esac
done
for f in "${failures[@]}"; do
	echo "MISMATCH $f"
	echo "  config: $(tr -d '\n ' < "${f%%:*}/config.json")"
done
echo "oracle: $n configs (seed $seed), backend $backend ${VERIFY_FLAGS:-}: $pass within 1e-5 (worst $worst), $noise above 1e-5 but within twice PyTorch's own float32 error, $fail mismatches"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
