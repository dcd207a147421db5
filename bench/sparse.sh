#!/bin/bash
# SPDX-License-Identifier: MIT
# Sparse checkpoints (issue 7): pruned copies of each file (the smallest
# 20%, 50% and 85% of each weight matrix's values set to zero, and 50% of
# its rows zeroed, as structured pruning does) against the bounds of
# gauss-bound --context and against zstd -19, of the file and of its
# exponent and sign/mantissa planes split apart.
#
# usage: bench/sparse.sh [BUILD_DIR] FILE.safetensors...
# Prints one markdown table; sizes are % of the original file.
set -eu
build=${1:-build}
shift
gauss=$build/gauss
bound=$build/bench/gauss-bound
prune=$build/bench/gauss-prune
command -v zstd >/dev/null || { echo "needs zstd" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", 100 * a / b }'; }

echo "| file | pruning | gauss | order-0 bound | ctx bound | order-1 bound | gauss / ctx bound | zstd -19 | zstd -19 planes |"
echo "|---|---|--:|--:|--:|--:|--:|--:|--:|"
for f in "$@"; do
	name=$(basename "$f" .safetensors)
	for v in none 20 50 85 rows50; do
		case $v in
		none) cp "$f" "$work/$name.safetensors" ;;
		rows50) "$prune" --rows 50 "$f" "$work/$name.safetensors" ;;
		*) "$prune" "$v" "$f" "$work/$name.safetensors" ;;
		esac
		in=$work/$name.safetensors
		n=$(stat -c %s "$in")
		"$gauss" compress -q -f "$in" "$work/out.gauss"
		g=$(stat -c %s "$work/out.gauss")
		read -r _ _ b0 _ bc _ b1 _ < <("$bound" --context --planes "$work" -- "$in")
		z=$(zstd -19 -q -c "$in" | wc -c)
		zp=$(( $(zstd -19 -q -c "$work/$name.safetensors.exp" | wc -c) + \
		       $(zstd -19 -q -c "$work/$name.safetensors.sm" | wc -c) ))
		echo "| $name | $v | $(pct "$g" "$n") | $(pct "$b0" "$n") | $(pct "$bc" "$n") | $(pct "$b1" "$n") | $(awk -v a="$g" -v b="$bc" 'BEGIN { printf "%.3f", a / b }') | $(pct "$z" "$n") | $(pct "$zp" "$n") |"
		rm -f "$in" "$work"/*.exp "$work"/*.sm "$work/out.gauss"
	done
done
