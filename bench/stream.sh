#!/bin/bash
# SPDX-License-Identifier: MIT
# Streaming a large checkpoint (issue 3): peak memory and speed of gauss on a
# generated bf16 checkpoint, file to file and pipe to pipe, with each I/O
# backend, against `cat FILE >/dev/null` and `cp FILE COPY` in the same run.
#
# usage: bench/stream.sh [BUILD_DIR] [SIZE] [WORK_DIR]
#   BUILD_DIR  meson build directory (default: build)
#   SIZE       tensor bytes of the generated checkpoint (default: 8G)
#   WORK_DIR   where the files go (default: $TMPDIR or /tmp); it needs about
#              2.7 x SIZE free. The checkpoint is kept for the next run.
# With COLD=1 (root only) every timed run starts with an empty page cache
# (echo 3 > /proc/sys/vm/drop_caches after a sync): on a machine whose
# memory holds only part of the files, a warm run depends on what the runs
# before it left cached, which favours whichever backend runs second.
# Each figure is the median of RUNS runs (default 3). Peak memory is the
# "Maximum resident set size" of /usr/bin/time -v for the gauss process.
set -eu
build=${1:-build}
size=${2:-8G}
work=${3:-${TMPDIR:-/tmp}}
runs=${RUNS:-3}
cold=${COLD:-0}
pipes=${PIPES:-1}	# PIPES=0: files only (the backends' comparison)
if [ "$cold" = 1 ] && ! { sync && echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
	echo "COLD=1 needs root (/proc/sys/vm/drop_caches)" >&2
	exit 2
fi
gauss=$(realpath "$build/gauss")
gen=$(realpath "$build/bench/gauss-genckpt")
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian: time)" >&2; exit 2; }

ckpt=$work/gauss-stream-$size.safetensors
out=$work/gauss-stream-out.gauss
back=$work/gauss-stream-back.safetensors
copy=$work/gauss-stream-copy
log=$(mktemp)
trap 'rm -f "$out" "$back" "$copy" "$log"*' EXIT

if [ ! -s "$ckpt" ]; then
	echo "generating $ckpt ($size of tensors)" >&2
	"$gen" -s "$size" "$ckpt"
fi
bytes=$(stat -c %s "$ckpt")

# measure CMD: runs the shell command CMD under /usr/bin/time -v (the
# command's first program is the one timed) and prints "seconds rss_kib".
measure() {
	local sh=$1
	sync
	[ "$cold" = 1 ] && echo 3 >/proc/sys/vm/drop_caches
	/usr/bin/time -v -o "$log" bash -c "$sh" >/dev/null
	awk -F': ' '
		/Elapsed \(wall clock\)/ {
			n = split($2, p, ":")
			s = 0
			for (i = 1; i <= n; i++) s = s * 60 + p[i]
		}
		/Maximum resident set size/ { rss = $2 }
		END { printf "%.3f %d\n", s, rss }' "$log"
}

# median FIELD CMD: the median over $runs runs of measure's FIELD (1: s,
# 2: RSS), for the timed command. RSS is the largest over the runs.
median() {
	local sh=$1 i
	for i in $(seq "$runs"); do
		measure "$sh"
	done | sort -n -k1 | awk -v r="$runs" '
		{ t[NR] = $1; if ($2 > m) m = $2 }
		END { printf "%s %d\n", t[int((r + 1) / 2)], m }'
}

# RSS of gauss itself, not of bash: time -v is applied to gauss directly.
g() { printf '/usr/bin/time -v -o %q %q' "$log.g" "$gauss"; }
# once CMD: runs CMD once (@G@ is the timed gauss) after a sync, so that the
# dirty pages of the run before are not charged to it; prints "seconds rss".
once() {
	sync
	[ "$cold" = 1 ] && echo 3 >/proc/sys/vm/drop_caches
	/usr/bin/time -f '%e' -o "$log" bash -c "${1//@G@/$(g)}" >/dev/null
	echo "$(tail -n 1 "$log") $(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log.g")"
}
# med FILE: the median time and the largest RSS of the lines of FILE.
med() {
	sort -n -k1 "$1" | awk '
		{ t[NR] = $1; if ($2 > m) m = $2; l = l (NR > 1 ? "/" : "") $1 }
		END { printf "%s %d %s\n", t[int((NR + 1) / 2)], m, l }'
}

row() {	# NAME SECONDS RSS_KIB [ALL_RUNS]
	awk -v n="$1" -v s="$2" -v k="$3" -v b="$bytes" -v c="$cat_s" \
		-v p="$cp_s" -v l="${4:-}" 'BEGIN {
		printf "| %s | %.2f | %.0f | %.2f | %.2f | %s | %s |\n", n, s,
		       b / s / 1e6, c / s, p / s,
		       k ? sprintf("%.1f", k / 1024) : "-", l
	}'
}

[ "$cold" = 1 ] || cat "$ckpt" >/dev/null	# warm the cache as far as it goes
read -r cat_s _ < <(median "cat '$ckpt' >/dev/null")
read -r cp_s _ < <(median "cp '$ckpt' '$copy' && sync '$copy'; rm -f '$copy'")

echo "checkpoint: $bytes bytes ($size of tensors), $runs runs each, median"
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB; work dir $work ($(df -h --output=fstype "$work" | tail -n 1 | tr -d ' ')); page cache $([ "$cold" = 1 ] && echo 'dropped before every run' || echo 'as the runs before left it')"
echo
echo "| run | s | MB/s (original) | speed / cat | speed / cp | peak RSS MiB | every run, s |"
echo "|---|---|---|---|---|---|---|"
row "cat FILE >/dev/null" "$cat_s" 0
row "cp FILE COPY && sync" "$cp_s" 0
# The backends take turns within each round, so that a drift of the disk or
# of the machine (shared, virtual) falls on both alike.
ios=
for io in posix uring; do
	if GAUSS_IO=$io "$gauss" compress -q -f -c "$ckpt" >/dev/null 2>&1; then
		ios="$ios $io"
	else
		echo "| GAUSS_IO=$io: not available here | | | | | | |"
	fi
done
for r in $(seq "$runs"); do
	for io in $ios; do
		export GAUSS_IO=$io
		once "@G@ compress -q -f '$ckpt' '$out'" >>"$log.$io.cf"
		once "@G@ decompress -q -f '$out' '$back'" >>"$log.$io.df"
		cmp "$ckpt" "$back" || { echo "restored file differs" >&2; exit 1; }
		rm -f "$back"
		[ "$pipes" = 1 ] || continue
		once "cat '$ckpt' | @G@ compress -q - - >'$out'" >>"$log.$io.cp"
		once "cat '$out' | @G@ decompress -q - - | cmp - '$ckpt'" >>"$log.$io.dp"
	done
done
for io in $ios; do
	read -r s k l < <(med "$log.$io.cf")
	row "compress file to file, GAUSS_IO=$io" "$s" "$k" "$l"
	read -r s k l < <(med "$log.$io.df")
	row "decompress file to file, GAUSS_IO=$io" "$s" "$k" "$l"
	[ "$pipes" = 1 ] || continue
	read -r s k l < <(med "$log.$io.cp")
	row "compress pipe to pipe, GAUSS_IO=$io" "$s" "$k" "$l"
	read -r s k l < <(med "$log.$io.dp")
	row "decompress pipe to pipe (+ cmp), GAUSS_IO=$io" "$s" "$k" "$l"
done
unset GAUSS_IO
echo
echo "compressed: $(stat -c %s "$out") bytes ($(awk -v a="$(stat -c %s "$out")" -v b="$bytes" 'BEGIN { printf "%.2f%%", 100 * a / b }'))"
