#!/bin/sh
# SPDX-License-Identifier: MIT
# scripts/build.sh DIR [meson options...]: configure DIR (once) and build.
set -eu
dir=$1
shift
if [ -f "$dir/build.ninja" ]; then
	meson configure "$dir" "$@" >/dev/null
else
	meson setup "$dir" "$@" >/dev/null
fi
meson compile -C "$dir" >/dev/null
