#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ratio.sh: compares gauss with its order-0 bound and with zstd -19, as a
# markdown table, after checking that every file survives the round trip.
#
# usage: bench/ratio.sh BUILD_DIR FILE...
#   e.g. bench/ratio.sh build ../shared/corpus/*.safetensors
set -euo pipefail

prog=${0##*/}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

if [[ $# -lt 2 ]]; then
	printf 'usage: %s BUILD_DIR FILE...\n' "$prog" >&2
	exit 1
fi

build=$1
shift
gauss=$build/gauss
bound=$build/bench/gauss-bound

[[ -x $gauss ]] || die "cannot run '$gauss': build the project first"
[[ -x $bound ]] || die "cannot run '$bound': configure with -Dbenchmarks=true"
command -v zstd >/dev/null || die "cannot find 'zstd' in PATH"
command -v cmp >/dev/null || die "cannot find 'cmp' in PATH"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gauss-ratio.XXXXXX")
cleanup() {
	rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Size of a file in bytes.
nbytes() {
	local n
	n=$(wc -c <"$1")
	printf '%d\n' "$((n))"
}

# a/b as a ratio (4 decimals) or as a percentage (2 decimals).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f\n", a / b }'
}
percent() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", 100 * a / b }'
}

row() {
	local name=$1 orig=$2 bnd=$3 gz=$4 zs=$5
	local gz_bnd zs_pct gz_pct

	gz_bnd=$(ratio "$gz" "$bnd")
	zs_pct=$(percent "$zs" "$orig")
	gz_pct=$(percent "$gz" "$orig")
	printf '| %s | %d | %d | %d | %s | %d | %s | %s |\n' \
		"$name" "$orig" "$bnd" "$gz" "$gz_bnd" "$zs" "$zs_pct" "$gz_pct"
}

printf '| file | original | bound | gauss | gauss/bound '
printf '| zstd -19 | zstd/orig %% | gauss/orig %% |\n'
printf '|---|--:|--:|--:|--:|--:|--:|--:|\n'

total_orig=0
total_bound=0
total_gauss=0
total_zstd=0

for f in "$@"; do
	[[ -f $f ]] || die "cannot read '$f': not a regular file"

	"$gauss" compress -f -q "$f" "$tmp/file.gauss" ||
		die "gauss compress failed on '$f'"
	"$gauss" decompress -f -q "$tmp/file.gauss" "$tmp/file.out" ||
		die "gauss decompress failed on '$f'"
	if ! cmp -- "$f" "$tmp/file.out" >&2; then
		die "ROUND TRIP MISMATCH: '$f' does not decompress to itself"
	fi

	orig=$(nbytes "$f")
	gz=$(nbytes "$tmp/file.gauss")

	# gauss-bound prints "FILE original bound percent"; the path may
	# hold spaces, so take the fields from the right.
	out=$("$bound" -- "$f") || die "gauss-bound failed on '$f'"
	bnd=${out% *}
	bnd=${bnd##* }
	[[ $bnd =~ ^[0-9]+$ ]] || die "cannot parse gauss-bound output: '$out'"

	zs=$(zstd -19 -q -c -- "$f" | wc -c) || die "zstd failed on '$f'"
	zs=$((zs))

	row "${f##*/}" "$orig" "$bnd" "$gz" "$zs"

	total_orig=$((total_orig + orig))
	total_bound=$((total_bound + bnd))
	total_gauss=$((total_gauss + gz))
	total_zstd=$((total_zstd + zs))
	rm -f -- "$tmp/file.gauss" "$tmp/file.out"
done

row "**total** ($# files)" "$total_orig" "$total_bound" "$total_gauss" \
	"$total_zstd"
