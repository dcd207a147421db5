#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# speed.sh: the speed benchmark of issue 8. Runs gauss-speed on each bf16
# file of the corpus and on a generated LLM-like checkpoint, and prints
# markdown tables (sizes, 1 thread, all cores, kernels, targets) to stdout.
#
# usage: bench/speed.sh BUILD_DIR [FILE...]
#   e.g. bench/speed.sh build
#   FILEs default to ../shared/corpus/*.bf16.safetensors beside the repo.
# environment:
#   SPEED_SIZE     size of the generated checkpoint (default 1G)
#   SPEED_RUNS     timed rounds per measurement, median kept (default 5)
#   SPEED_THREADS  the "all cores" thread count (default: nproc)
#   SPEED_LEVELS   gauss kernel levels to compare (default: scalar avx2 avx512)
#   SPEED_HTS      htscodecs kernel levels to compare (default: avx2 avx512)
#   SPEED_KV       if set, a file that receives the raw gauss-speed lines
set -euo pipefail

prog=${0##*/}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

if [[ $# -lt 1 ]]; then
	printf 'usage: %s BUILD_DIR [FILE...]\n' "$prog" >&2
	exit 1
fi

build=$1
shift
speed=$build/bench/gauss-speed
bound=$build/bench/gauss-bound
genckpt=$build/bench/gauss-genckpt
size=${SPEED_SIZE:-1G}
runs=${SPEED_RUNS:-5}
threads=${SPEED_THREADS:-$(nproc)}
levels=${SPEED_LEVELS:-scalar avx2 avx512}
hts_levels=${SPEED_HTS:-avx2 avx512}

[[ -x $speed ]] || die "cannot run '$speed': it needs libhtscodecs-dev and libzstd-dev at configure time"
[[ -x $bound ]] || die "cannot run '$bound': configure with -Dbenchmarks=true"
[[ -x $genckpt ]] || die "cannot run '$genckpt': configure with -Dbenchmarks=true"

if [[ $# -eq 0 ]]; then
	corpus=$(cd "$(dirname "$0")/../.." && pwd)/shared/corpus
	shopt -s nullglob
	set -- "$corpus"/*.bf16.safetensors
	shopt -u nullglob
	[[ $# -gt 0 ]] || die "no bf16 files in '$corpus'"
fi
for f in "$@"; do
	[[ -f $f ]] || die "cannot read '$f': not a regular file"
	[[ $f != *" "* ]] || die "cannot handle '$f': path holds a space"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gauss-speed.XXXXXX")
cleanup() {
	rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gen=$tmp/llm-$size.bf16.safetensors
"$genckpt" -s "$size" "$gen" || die "gauss-genckpt failed"

kv=$tmp/results.kv
: >"$kv"

# Tags every line gauss-speed prints with the run it belongs to.
tagged() {
	local tag=$1
	shift
	"$speed" -r "$runs" -t "$threads" "$@" | sed "s/^/tag=$tag /" >>"$kv" ||
		die "gauss-speed $* failed"
}

for f in "$@" "$gen"; do
	out=$("$bound" -- "$f") || die "gauss-bound failed on '$f'"
	b=${out% *}
	b=${b##* }
	printf 'tag=bound bound_bytes=%s path=%s\n' "$b" "$f" >>"$kv"
done

printf '%s: main run (%d files, %d rounds)\n' "$prog" "$(($# + 1))" \
	"$runs" >&2
tagged main -- "$@" "$gen"
for lvl in $levels; do
	printf '%s: gauss kernels %s\n' "$prog" "$lvl" >&2
	tagged "gauss-$lvl" --cpu "$lvl" --only gauss,hts -t 1 -- "$@" "$gen"
done
for lvl in $hts_levels; do
	printf '%s: htscodecs kernels %s\n' "$prog" "$lvl" >&2
	tagged "hts-$lvl" --hts-cpu "$lvl" --only gauss,hts -t 1 -- "$@" "$gen"
done

if [[ -n ${SPEED_KV:-} ]]; then
	cp -- "$kv" "$SPEED_KV" || die "cannot write '$SPEED_KV'"
fi

awk -v gen="$gen" -v threads="$threads" -v levels="$levels" \
    -v hts_levels="$hts_levels" '
# a[tag, file, key] = value; files in order of the main run.
{
	tag = ""
	path = ""
	for (i = 1; i <= NF; i++) {
		eq = index($i, "=")
		k = substr($i, 1, eq - 1)
		v = substr($i, eq + 1)
		if (k == "tag")
			tag = v
		else if (k == "path")
			path = v
		else
			kv[k] = v
	}
	for (k in kv)
		a[tag, path, k] = kv[k]
	delete kv
	if (tag == "main") {
		order[++nfiles] = path
		if (path != gen)
			corpus[++ncorpus] = path
	}
}

function name(f,    n) {
	if (f == "TOTAL")
		return "**corpus total** (" ncorpus " files)"
	n = f
	sub(/.*\//, "", n)
	return f == gen ? "**" n "** (generated)" : n
}

# A value, summed over the corpus for the TOTAL row.
function val(tag, f, k,    s, i) {
	if (f != "TOTAL")
		return a[tag, f, k]
	s = 0
	for (i = 1; i <= ncorpus; i++)
		s += a[tag, corpus[i], k]
	return s
}

function has(tag, f, k) {
	return f == "TOTAL" ? ((tag, corpus[1], k) in a) : ((tag, f, k) in a)
}

# MB/s of original bytes (10^6 bytes per second).
function mbps(tag, f, k) {
	if (!has(tag, f, k))
		return "-"
	return sprintf("%.0f", val(tag, f, "bytes") / val(tag, f, k) / 1e6)
}

function ratio(tag, f, num, den) {
	if (!has(tag, f, num) || !has(tag, f, den))
		return "-"
	return sprintf("%.2f", val(tag, f, den) / val(tag, f, num))
}

# Spin-loop scaling: threads * t(1) / t(all); the mean over the corpus.
function spin(f,    s, i) {
	if (f != "TOTAL")
		return threads * a["main", f, "spin_1"] / a["main", f, "spin_all"]
	s = 0
	for (i = 1; i <= ncorpus; i++)
		s += spin(corpus[i])
	return s / ncorpus
}

function rows(    i) {
	n = 0
	for (i = 1; i <= nfiles; i++)
		if (order[i] != gen)
			list[++n] = order[i]
	list[++n] = "TOTAL"
	list[++n] = gen
}

function verdict(x, goal, less) {
	if (less)
		return x <= goal ? "PASS" : "**FAIL**"
	return x >= goal ? "PASS" : "**FAIL**"
}

function target(what, f, x, goal, less) {
	printf "| %s | %s | %.3f | %s %s | %s |\n", what, name(f), x,
	    (less ? "<=" : ">="), goal, verdict(x, goal, less)
}

END {
	rows()

	print "Sizes: bound = order-0 bound (gauss-bound); htscodecs = the same"
	print "split with the exponent planes coded by rans_compress_to_4x16."
	print ""
	print "| file | original | bound % | gauss/bound | htscodecs/bound " \
	    "| zstd -1 % | zstd -3 % |"
	print "|---|--:|--:|--:|--:|--:|--:|"
	for (i = 1; i <= n; i++) {
		f = list[i]
		o = val("main", f, "bytes")
		b = val("bound", f, "bound_bytes")
		printf "| %s | %d | %.2f | %.4f | %.4f | %.2f | %.2f |\n",
		    name(f), o, 100 * b / o, val("main", f, "gauss_bytes") / b,
		    val("main", f, "hts_bytes") / b,
		    100 * val("main", f, "zstd1_bytes") / o,
		    100 * val("main", f, "zstd3_bytes") / o
	}

	print ""
	print "One thread, MB/s of original bytes (c: compress, d: decompress)."
	print ""
	print "| file | memcpy | gauss c | gauss d | htscodecs c | htscodecs d " \
	    "| zstd -1 c | zstd -1 d | zstd -3 c | zstd -3 d " \
	    "| gauss/hts c | gauss/hts d |"
	print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
	for (i = 1; i <= n; i++) {
		f = list[i]
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s " \
		    "| %s | %s |\n", name(f), mbps("main", f, "memcpy_1"),
		    mbps("main", f, "gauss_c_1"), mbps("main", f, "gauss_d_1"),
		    mbps("main", f, "hts_c_1"), mbps("main", f, "hts_d_1"),
		    mbps("main", f, "zstd1_c"), mbps("main", f, "zstd1_d"),
		    mbps("main", f, "zstd3_c"), mbps("main", f, "zstd3_d"),
		    ratio("main", f, "gauss_c_1", "hts_c_1"),
		    ratio("main", f, "gauss_d_1", "hts_d_1")
	}

	if (threads > 1)
		all_cores()
	kernels()
	targets()
}

function all_cores(    i, f, sp, cs, ds) {
	print ""
	printf "All cores (%d threads), MB/s. Scaling = speed at %d threads / " \
	    "speed at 1; spin = the same for a CPU-bound loop, one per " \
	    "thread; eff = gauss scaling / spin scaling.\n", threads, threads
	print ""
	print "| file | memcpy | gauss c | gauss d | htscodecs c | htscodecs d " \
	    "| spin scaling | gauss c scaling | gauss d scaling | c eff " \
	    "| d eff | gauss d / memcpy 1T |"
	print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
	for (i = 1; i <= n; i++) {
		f = list[i]
		sp = spin(f)
		cs = val("main", f, "gauss_c_1") / val("main", f, "gauss_c_all")
		ds = val("main", f, "gauss_d_1") / val("main", f, "gauss_d_all")
		printf "| %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f " \
		    "| %.2f | %.2f | %s |\n", name(f),
		    mbps("main", f, "memcpy_all"),
		    mbps("main", f, "gauss_c_all"),
		    mbps("main", f, "gauss_d_all"),
		    mbps("main", f, "hts_c_all"), mbps("main", f, "hts_d_all"),
		    sp, cs, ds, cs / sp, ds / sp,
		    ratio("main", f, "gauss_d_all", "memcpy_1")
	}

}

function kernels(    j, m, f, tag, gl, hl) {
	print ""
	print "Kernels, one thread, MB/s: each row is one process, so its " \
	    "ratios compare peers measured together."
	print ""
	print "| gauss | htscodecs | file | gauss c | gauss d | htscodecs c " \
	    "| htscodecs d | gauss/hts c | gauss/hts d |"
	print "|---|---|---|--:|--:|--:|--:|--:|--:|"
	nl = split(levels, lv, " ")
	nh = split(hts_levels, hv, " ")
	for (j = 1; j <= nl + nh; j++) {
		tag = j <= nl ? "gauss-" lv[j] : "hts-" hv[j - nl]
		gl = j <= nl ? lv[j] : "auto"
		hl = j <= nl ? "auto" : hv[j - nl]
		split("TOTAL", fl, " ")
		fl[2] = gen
		for (m = 1; m <= 2; m++) {
			f = fl[m]
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			    gl, hl, name(f), mbps(tag, f, "gauss_c_1"),
			    mbps(tag, f, "gauss_d_1"), mbps(tag, f, "hts_c_1"),
			    mbps(tag, f, "hts_d_1"),
			    ratio(tag, f, "gauss_c_1", "hts_c_1"),
			    ratio(tag, f, "gauss_d_1", "hts_d_1")
		}
	}

}

# Against the fastest htscodecs: the lowest ratio over the main run and the
# runs that force an htscodecs level (gauss at its default).
function targets(    m, d, j, f, k, tag, x, best, sp, cs, ds) {
	print ""
	print "Targets of issue 8 (ratios against the fastest htscodecs " \
	    "kernels: the lowest ratio over the main run and the forced-level " \
	    "runs)."
	print ""
	print "| target | file | measured | goal | result |"
	print "|---|---|--:|--:|---|"
	split("TOTAL", fl, " ")
	fl[2] = gen
	for (m = 1; m <= 2; m++) {
		f = fl[m]
		for (d = 0; d <= 1; d++) {
			k = d ? "d_1" : "c_1"
			best = val("main", f, "hts_" k) / val("main", f, "gauss_" k)
			for (j = 1; j <= nh; j++) {
				tag = "hts-" hv[j]
				if (!has(tag, f, "gauss_" k))
					continue
				x = val(tag, f, "hts_" k) / val(tag, f, "gauss_" k)
				if (x < best)
					best = x
			}
			if (d)
				target("decompress 1 thread, gauss / htscodecs",
				    f, best, 3, 0)
			else
				target("compress 1 thread, gauss / htscodecs",
				    f, best, 2, 0)
		}
	}
	for (m = 1; m <= 2 && threads > 1; m++) {
		f = fl[m]
		sp = spin(f)
		cs = val("main", f, "gauss_c_1") / val("main", f, "gauss_c_all")
		ds = val("main", f, "gauss_d_1") / val("main", f, "gauss_d_all")
		target("compress scaling / spin scaling", f, cs / sp, 0.9, 0)
		target("decompress scaling / spin scaling", f, ds / sp, 0.9, 0)
	}
	if (threads > 1) {
		x = val("main", gen, "memcpy_1") / val("main", gen,
		    "gauss_d_all")
		target("decompress all cores / memcpy 1 thread", gen, x, 0.7,
		    0)
	}
	for (m = 1; m <= 2; m++) {
		f = fl[m]
		x = val("main", f, "gauss_bytes") / val("bound", f, "bound_bytes")
		target("size / order-0 bound", f, x, 1.003, 1)
	}
}
' "$kv"
