#!/usr/bin/env bash
# Runs every shell command of README.md, literally and in order, in a fresh
# clone of this repository, as a new user would after the Quick start's two
# set-up commands; fails on the first command that fails.
#
#   scripts/readme-commands.sh           # the committed HEAD
#   scripts/readme-commands.sh --print   # only print the script it would run
#
# The commands are the ```sh blocks, all in one bash session (variables set
# in one block hold in the next), from the clone's top folder. A block right
# after "<!-- readme-commands: setup -->" is the set-up (make demo, make
# test): of it this script runs `make demo` (which installs ONNX Runtime and
# builds bin/xt2onnx) and leaves out `make test`, which CI has just run. A block right after "<!-- readme-commands: skip (why) -->"
# needs what CI lacks (PyTorch, a Triton server) and is left out.
#
# go install writes into a temporary GOPATH (the module cache stays where it
# is), so nothing outside the temporary folder changes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

# extract README.md: the blocks' text, each preceded by a comment naming
# its line.
extract() {
	awk '
		/^<!-- readme-commands: skip/ { skip = 1; next }
		/^<!-- readme-commands: setup/ { setup = 1; next }
		/^```sh[[:space:]]*$/ && !inblock {
			inblock = 1
			if (skip) { mode = "skip" } else if (setup) { mode = "setup" } else { mode = "run" }
			skip = 0; setup = 0
			if (mode == "run") { printf "\n# --- README.md line %d\n", NR + 1 }
			if (mode == "setup") { printf "\n# --- README.md line %d: the set-up (make demo, make test); make test is what CI has just run:\nmake demo\n", NR + 1 }
			next
		}
		/^```/ && inblock { inblock = 0; next }
		inblock && mode == "run" { print; next }
		!inblock && !/^[[:space:]]*$/ { skip = 0; setup = 0 }
	' "$1"
}

if [[ "${1:-}" == "--print" ]]; then
	extract "$repo/README.md"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$repo" "$tmp/xt2onnx"
cd "$tmp/xt2onnx"

script="$tmp/readme.sh"
{
	echo 'set -euo pipefail'
	# Each command is echoed before it runs, so a failure names it.
	echo 'set -x'
	extract README.md
} >"$script"

modcache=$(go env GOMODCACHE)
start=$(date +%s)
GOPATH="$tmp/gopath" GOMODCACHE="$modcache" GOFLAGS="${GOFLAGS:-}" PATH="$PATH" \
	bash "$script"
echo "readme-commands: every README command ran in $(($(date +%s) - start))s"
