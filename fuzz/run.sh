#!/bin/sh
# SPDX-License-Identifier: MIT
# fuzz/run.sh SECONDS [JOBS] [TARGET...]: builds the libFuzzer targets in
# build-fuzz (clang, ASan + UBSan) if needed, then runs each TARGET (all
# by default) for SECONDS with JOBS processes at once (default 1; on a
# 2-core machine 2 uses both), one target after the other, and prints the
# executions, coverage and crashes of each and the total executions.
#
# New inputs go to build-fuzz/fuzz-work/<target>/corpus, crashes to
# build-fuzz/fuzz-work/<target>/artifacts, logs beside them. With
# FUZZ_MERGE=1 the inputs that add coverage are then merged into
# fuzz/corpus/<target>/ (-merge=1), to be committed.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:?usage: fuzz/run.sh SECONDS [JOBS] [TARGET...]}
jobs=${2:-1}
[ $# -ge 2 ] && shift 2 || shift $#
targets=${*:-safetensors rans decompress reader roundtrip}

if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzzers=true -Dbenchmarks=false \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debugoptimized >/dev/null
fi
for t in $targets; do
	ninja -C build-fuzz "fuzz/fuzz_$t" >/dev/null
done

# UBSan only reports unless told to stop; libFuzzer must see a crash.
UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export UBSAN_OPTIONS

total=0
for t in $targets; do
	w=$root/build-fuzz/fuzz-work/$t
	mkdir -p "$w/corpus" "$w/artifacts" "$w/logs"
	rm -f "$w"/logs/fuzz-*.log
	(cd "$w/logs" &&
	 "$root/build-fuzz/fuzz/fuzz_$t" -jobs="$jobs" -workers="$jobs" \
		-max_total_time="$secs" -print_final_stats=1 -timeout=30 \
		-artifact_prefix="$w/artifacts/" \
		"$w/corpus" "$root/fuzz/corpus/$t" >/dev/null 2>&1) || true
	execs=0
	for log in "$w"/logs/fuzz-*.log; do
		n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		    tail -n 1)
		execs=$((execs + ${n:-0}))
	done
	cov=$(cat "$w"/logs/fuzz-*.log | grep -o 'cov: [0-9]*' |
	      awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
	ft=$(cat "$w"/logs/fuzz-*.log | grep -o 'ft: [0-9]*' |
	     awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
	crashes=$(find "$w/artifacts" -type f | wc -l)
	total=$((total + execs))
	printf '%-12s %3s jobs %6ss %12s execs %8s exec/s  cov %5s  ft %6s  crashes %s\n' \
		"$t" "$jobs" "$secs" "$execs" "$((execs / (secs > 0 ? secs : 1) ))" \
		"$cov" "$ft" "$crashes"
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		"$root/build-fuzz/fuzz/fuzz_$t" -merge=1 \
			"$root/fuzz/corpus/$t" "$w/corpus" >"$w/logs/merge.log" 2>&1
	fi
done
echo "total: $total executions"
