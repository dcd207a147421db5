#!/bin/sh
# SPDX-License-Identifier: MIT
# The main job on the sample checkpoint: set up, build, compress, decompress,
# prove the restored file is identical, print sizes, ratio and speed.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
in=sample/silero-vad-v5.bf16.safetensors
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/gauss compress "$in" "$tmp/sample.gauss"
build/gauss decompress "$tmp/sample.gauss" "$tmp/restored.safetensors"
build/gauss verify "$tmp/sample.gauss"
if cmp "$in" "$tmp/restored.safetensors"; then
	echo "restored file is identical to $in" \
	     "(sha256 $(sha256sum <"$in" | cut -c1-16)...)"
else
	echo "restored file differs from $in" >&2
	exit 1
fi
build/gauss info "$tmp/sample.gauss" | tail -n 2
