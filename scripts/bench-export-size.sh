#!/usr/bin/env bash
# bench-export-size.sh: export a realistic-size decoder with random weights
# as external data and measure it (time and peak RSS via /usr/bin/time -v),
# then, for 1b, run it at batch 1 x seq 16 in ONNX Runtime and natively and
# compare the two backends (xt2onnx parity). The export's peak RSS must stay
# within 1.2x the largest tensor + 200 MB. Files are deleted afterwards.
#
#   scripts/bench-export-size.sh 1b|2b [WORKDIR]
#
# 1b: dim 2048, depth 16, heads 16, 32,000 tokens, max_seq_len 2048 (0.81 B
# parameters with x-transformers' default dim_head 64, 3.2 GB of float32).
# 2b: dim 2560, depth 28, heads 20 (2.0 B, 8.0 GB). Needs the weights' size in
# free disk and, for the 1b runs, about 3x in memory.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:?usage: scripts/bench-export-size.sh 1b|2b [WORKDIR]}
work=${2:-out/bench-size}
case $size in
1b) dim=2048 depth=16 heads=16 ;;
2b) dim=2560 depth=28 heads=20 ;;
*) echo "size must be 1b or 2b" >&2; exit 2 ;;
esac
command -v /usr/bin/time >/dev/null || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }
make -s build
mkdir -p "$work"
trap 'rm -f "$work/$size.onnx" "$work/$size.onnx.data"' EXIT
cfg=$work/$size.json
cat >"$cfg" <<JSON
{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 32000, "max_seq_len": 2048},
 "attn_layers": {"type": "Decoder", "dim": $dim, "depth": $depth, "heads": $heads}}
JSON
largest=$((32000 * dim * 4)) # token embedding and to_logits: the largest tensors
limit=$((largest * 12 / 10 + 200 * 1000 * 1000))

measure() { # measure LABEL CMD...: run CMD, print its wall time and peak RSS
	local label=$1 log
	shift
	log=$(mktemp)
	if ! /usr/bin/time -v "$@" >"$log.out" 2>"$log"; then
		cat "$log.out" "$log" >&2
		exit 1
	fi
	local rss wall
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
	printf '%-16s wall %-9s peak RSS %6d MB\n' "$label" "$wall" $((rss / 1000))
	last_rss=$((rss * 1024))
	tail -n 1 "$log.out" | sed 's/^/                 /'
	rm -f "$log" "$log.out"
}

df -h "$work" | tail -n 1 | awk '{print "disk free before:", $4}'
measure "export $size" bin/xt2onnx export --config "$cfg" --random-weights -o "$work/$size.onnx"
echo "files: $(du -b "$work/$size.onnx" | cut -f1) B model + $(du -b "$work/$size.onnx.data" | cut -f1) B data"
verdict=ok
[ "$last_rss" -le "$limit" ] || verdict=FAIL
echo "export peak RSS $((last_rss / 1000000)) MB; limit 1.2 x largest tensor ($((largest / 1000000)) MB) + 200 MB = $((limit / 1000000)) MB: $verdict"
if [ "$size" = 1b ]; then
	measure "run ort" bin/xt2onnx run "$work/$size.onnx" --random --batch 1 --seq 16 --backend ort
	measure "run native" bin/xt2onnx run "$work/$size.onnx" --random --batch 1 --seq 16 --backend native
	measure "parity" bin/xt2onnx parity "$work/$size.onnx" --random --batch 1 --seq 16
fi
[ "$verdict" = ok ]
