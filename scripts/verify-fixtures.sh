#!/usr/bin/env bash
# verify-fixtures.sh BIN: runs "BIN verify --fixture F --generate --kv-cache"
# on every fixture folder (1.9.2, corner, oracle and 1.9.1 references), on both
# backends and in both KV-cache layouts, prints each verdict line and the
# count, and exits 1 when any run fails.
set -u
bin=${1:-bin/xt2onnx}
pass=0
fail=0
for d in fixtures/xtransformers-1.9.2/*/ fixtures/corners-1.9.2/*/ fixtures/oracle-1.9.2/*/ fixtures/xtransformers-1.9.1/*/; do
	[ -f "$d/config.json" ] || continue
	for backend in ort native; do
		for layout in buffer concat; do
			line=$("$bin" verify --fixture "$d" --generate --kv-cache --backend "$backend" --kv-layout "$layout" 2>&1 | tail -n 1)
			if [ "${PIPESTATUS[0]}" -eq 0 ]; then
				pass=$((pass + 1))
			else
				fail=$((fail + 1))
			fi
			echo "$backend $layout: $line"
		done
	done
done
echo "verify-fixtures: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
