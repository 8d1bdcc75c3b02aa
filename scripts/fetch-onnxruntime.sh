#!/usr/bin/env bash
# fetch-onnxruntime.sh fetches the ONNX Runtime 1.30.0 CPU shared library for
# linux-x64 from the npm package onnxruntime-node (via `npm pack`, which runs no
# install scripts), verifies its sha256 and installs it atomically to
#
#   ${XT2ONNX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xt2onnx}/onnxruntime/1.30.0/libonnxruntime.so.1
#
# It is idempotent: when the file is already there with the right checksum it
# downloads nothing. The last line on stdout is the path of the library; all
# progress messages go to stderr.
set -euo pipefail

ORT_VERSION=1.30.0
NPM_PKG="onnxruntime-node@${ORT_VERSION}"
MEMBER="package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
SHA256="ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23"

die() {
	echo "fetch-onnxruntime: $*" >&2
	exit 1
}
log() {
	echo "fetch-onnxruntime: $*" >&2
}

os="$(uname -s)"
arch="$(uname -m)"
if [[ "$os" != "Linux" || ( "$arch" != "x86_64" && "$arch" != "amd64" ) ]]; then
	die "only linux-x64 is supported (this is $os-$arch); install ONNX Runtime >= 1.24 yourself and set ONNXRUNTIME_LIB to its libonnxruntime shared library"
fi

command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (install coreutils)"

cache_root="${XT2ONNX_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/xt2onnx}"
dest_dir="${cache_root}/onnxruntime/${ORT_VERSION}"
dest="${dest_dir}/libonnxruntime.so.1"

sha_of() {
	sha256sum "$1" | cut -d' ' -f1
}

if [[ -f "$dest" ]]; then
	if [[ "$(sha_of "$dest")" == "$SHA256" ]]; then
		log "already installed and verified"
		echo "$dest"
		exit 0
	fi
	log "$dest exists but its sha256 is wrong; fetching it again"
fi

command -v npm >/dev/null 2>&1 || die "npm not found; install Node.js/npm (e.g. apt-get install npm) or download ONNX Runtime ${ORT_VERSION} for linux-x64 yourself and set ONNXRUNTIME_LIB"
command -v tar >/dev/null 2>&1 || die "tar not found"

mkdir -p "$dest_dir" || die "cannot create $dest_dir"

work="$(mktemp -d "${TMPDIR:-/tmp}/xt2onnx-ort.XXXXXX")"
tmp_out=""
cleanup() {
	rm -rf "$work"
	if [[ -n "$tmp_out" ]]; then rm -f "$tmp_out"; fi
}
trap cleanup EXIT

log "downloading ${NPM_PKG} with npm pack (about 113 MB)"
(cd "$work" && npm pack --silent --ignore-scripts "$NPM_PKG" >/dev/null) ||
	die "npm pack ${NPM_PKG} failed (network or registry problem?)"

shopt -s nullglob
tgzs=("$work"/onnxruntime-node-*.tgz)
shopt -u nullglob
[[ ${#tgzs[@]} -gt 0 ]] || die "npm pack produced no tarball in $work"
tgz="${tgzs[0]}"

tar -xzf "$tgz" -C "$work" "$MEMBER" || die "$MEMBER not found in $(basename "$tgz")"
lib="$work/$MEMBER"

got="$(sha_of "$lib")"
[[ "$got" == "$SHA256" ]] || die "checksum mismatch for $MEMBER from ${NPM_PKG}: got sha256 $got, want $SHA256; not installing"

# Atomic install: temp file in the destination directory, then rename.
tmp_out="$(mktemp "${dest_dir}/.libonnxruntime.so.1.XXXXXX")"
cp "$lib" "$tmp_out"
chmod 0644 "$tmp_out"
[[ "$(sha_of "$tmp_out")" == "$SHA256" ]] || die "checksum changed while copying to $dest_dir (disk problem?)"
mv -f "$tmp_out" "$dest"
tmp_out=""

log "installed ONNX Runtime ${ORT_VERSION}"
echo "$dest"
