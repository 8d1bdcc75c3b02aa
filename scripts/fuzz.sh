#!/usr/bin/env bash
# fuzz.sh: run every fuzz target for FUZZTIME each (default 60s) and print
# one summary line per target: its execs and whether it found anything.
# A failing input is saved under the package's testdata/fuzz/<Target>/,
# which the default test run replays from then on: commit it with the fix.
# FUZZFLAGS passes more flags to go test (e.g. "-parallel 1").
#
#   scripts/fuzz.sh [FUZZTIME]          (make fuzz FUZZTIME=10m)
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-${FUZZTIME:-60s}}
targets=(
	"internal/safetensors FuzzParse"
	"runtime/native/engine FuzzReadRun"
	"runtime/native/engine FuzzOps"
	"builder FuzzConfig"
	"internal/extdata FuzzOpen"
)
logdir=${FUZZ_LOGS:-out/fuzz}
mkdir -p "$logdir"
status=0
summary=()
for t in "${targets[@]}"; do
	read -r pkg fn <<<"$t"
	log="$logdir/$fn.log"
	echo "== $fn ($pkg) for $fuzztime" >&2
	if go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" ${FUZZFLAGS:-} "./$pkg" >"$log" 2>&1; then
		result=ok
	else
		result=FAILED
		status=1
	fi
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	summary+=("$(printf '%-22s %-12s %12s execs  %s' "$fn" "$pkg" "${execs:-0}" "$result")")
	if [ "$result" = FAILED ]; then
		grep -v '^fuzz: elapsed' "$log" | head -n 30 >&2
	fi
done
printf '%s\n' "${summary[@]}"
exit $status
