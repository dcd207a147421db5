#!/bin/bash
# SPDX-License-Identifier: MIT
# I/O backend tests (suite 'cli'): GAUSS_IO=uring and GAUSS_IO=posix write
# the same bytes and read back the original; under no_uring (a seccomp
# filter that refuses io_uring, as some container runtimes do) auto falls
# back to POSIX with the same bytes, while GAUSS_IO=uring fails cleanly.
# Each check prints "ok NAME" or "FAIL NAME: detail"; exits 1 if any failed,
# 77 (skip) if io_uring cannot be used on this machine at all.
# usage: tests/io.sh PATH_TO_GAUSS PATH_TO_NO_URING SAMPLE.safetensors
set -u

if [ $# -ne 3 ]; then
	echo "usage: $0 PATH_TO_GAUSS PATH_TO_NO_URING SAMPLE.safetensors" >&2
	exit 2
fi
gauss=$(realpath "$1")
no_uring=$(realpath "$2")
sample=$(realpath "$3")
if [ ! -x "$gauss" ] || [ ! -x "$no_uring" ] || [ ! -r "$sample" ]; then
	echo "$0: cannot run '$1' or '$2', or read '$3'" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gauss-io.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 2
unset GAUSS_IO

nfail=0
nok=0
ok() { echo "ok $1"; nok=$((nok + 1)); }
bad() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }
note() { echo "# $1"; }

# run CMD...: stdout in $tmp/out, stderr in $tmp/err, exit status in $rc.
rc=0
run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
errtxt() { head -c 400 "$tmp/err" | tr '\n' ' '; }
has_temp() { compgen -G "$1/.*gauss-tmp*" >/dev/null; }

# ---------------------------------------------------------------------------
# Inputs: the sample, and a larger checkpoint (about 21 MB) so that the
# io_uring staging ring (4 buffers of 1 MiB) turns over many times.
cp "$sample" small.safetensors || exit 2
if ! python3 - big.safetensors <<'PY'
import json, random, struct, sys

rng = random.Random(20261123)

def bf16(n):
    # sign and a narrow band of exponents in the high byte, as in trained
    # weights; any low byte
    hi = bytes(range(0x3a, 0x3f)) + bytes(range(0xba, 0xbf))
    table = bytes(hi[i % len(hi)] for i in range(256))
    b = bytearray(2 * n)
    b[0::2] = rng.randbytes(n)
    b[1::2] = rng.randbytes(n).translate(table)
    return bytes(b)

items = [("layers.0.weight", "BF16", [2560, 4096], bf16(2560 * 4096)),
         ("layers.0.bias", "F32", [4099], rng.randbytes(4 * 4099)),
         ("odd", "BF16", [3, 333331], bf16(3 * 333331))]
header, data = {}, b""
for name, dtype, shape, b in items:
    header[name] = {"dtype": dtype, "shape": shape,
                    "data_offsets": [len(data), len(data) + len(b)]}
    data += b
h = json.dumps(header, separators=(",", ":")).encode()
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
PY
then
	echo "FAIL fixtures: python3 failed"
	exit 1
fi
inputs="small big"

# ---------------------------------------------------------------------------
# Is io_uring there, and does the launcher take it away?
uring_here=0
run "$no_uring" --probe
if [ "$rc" -eq 0 ]; then
	ok "probe-allowed"
	# and gauss was built with it
	run env GAUSS_IO=uring "$gauss" compress -q small.safetensors probe.gauss
	if [ "$rc" -eq 0 ]; then
		uring_here=1
	else
		note "this gauss cannot use io_uring: $(errtxt)"
	fi
	rm -f probe.gauss
else
	note "io_uring is not available on this machine: $(cat out)"
fi
[ $uring_here -eq 1 ] || note "skipping the io_uring checks"

filter_works=0
run "$no_uring" "$no_uring" --probe
if [ "$rc" -eq 126 ]; then
	note "no_uring cannot install its filter here: $(errtxt)"
elif [ "$rc" -eq 1 ] && grep -q 'refused: Function not implemented' out; then
	filter_works=1
	ok "probe-refused-under-no_uring"
elif [ "$rc" -eq 0 ]; then
	if [ "$(uname -m)" = x86_64 ]; then
		bad probe-refused-under-no_uring \
			"io_uring_setup still works under the filter"
	else
		note "no_uring filters x86-64 only; this is $(uname -m)"
	fi
else
	bad probe-refused-under-no_uring "exit $rc: $(cat out) $(errtxt)"
fi

# ---------------------------------------------------------------------------
# The two backends write the same .gauss and give the original back, with
# one thread and with several (threads exit with requests in flight).
backends=posix
[ $uring_here -eq 1 ] && backends="posix uring"

# restores NAME IO THREADS GAUSS ORIGINAL: decompress GAUSS with backend IO
# and check the original comes back.
restores() {
	run env GAUSS_IO="$2" "$gauss" decompress -q -T "$3" "$4" restored
	if [ "$rc" -ne 0 ]; then
		bad "$1" "exit $rc: $(errtxt)"
	elif ! cmp -s "$5" restored; then
		bad "$1" "restored file differs"
	else
		ok "$1"
	fi
	rm -f restored
}

for f in $inputs; do
	for t in 1 3; do
		for io in $backends; do
			run env GAUSS_IO="$io" "$gauss" compress -q -T $t \
				"$f.safetensors" "$f.$io.T$t.gauss"
			if [ "$rc" -ne 0 ]; then
				bad "compress-$io-$f-T$t" "exit $rc: $(errtxt)"
			fi
		done
		if [ $uring_here -eq 1 ]; then
			if cmp -s "$f.posix.T$t.gauss" "$f.uring.T$t.gauss"; then
				ok "same-bytes-uring-posix-$f-T$t"
			else
				bad "same-bytes-uring-posix-$f-T$t" \
					"the .gauss files differ"
			fi
		fi
		for io in $backends; do
			for from in $backends; do
				restores "decompress-$io-of-$from-$f-T$t" \
					"$io" $t "$f.$from.T$t.gauss" \
					"$f.safetensors"
			done
		done
	done
	cp "$f.posix.T1.gauss" "$f.gauss"
done

# Through pipes (standard input and output), where the CLI takes "-".
for io in $backends; do
	for f in $inputs; do
		name="pipe-$io-$f"
		if ! GAUSS_IO="$io" "$gauss" compress -q -c - <"$f.safetensors" \
			>"$f.$io.pipe.gauss" 2>err; then
			bad "$name" "compress exit $?: $(errtxt)"
		elif ! cmp -s "$f.$io.pipe.gauss" "$f.gauss"; then
			bad "$name" "standard input gave other bytes"
		elif ! GAUSS_IO="$io" "$gauss" decompress -q -c - <"$f.gauss" \
			2>err | cmp -s - "$f.safetensors"; then
			bad "$name" "decompressing standard input: $(errtxt)"
		else
			ok "$name"
		fi
	done
done

# O_DIRECT, where the CLI has --direct: the same bytes either way.
if "$gauss" compress -q --direct small.safetensors direct-probe.gauss \
	2>/dev/null; then
	for io in $backends; do
		for f in $inputs; do
			name="direct-$io-$f"
			run env GAUSS_IO="$io" "$gauss" compress -q --direct \
				"$f.safetensors" "$f.$io.direct.gauss"
			if [ "$rc" -ne 0 ]; then
				bad "$name" "compress exit $rc: $(errtxt)"
				continue
			fi
			run env GAUSS_IO="$io" "$gauss" decompress -q --direct \
				"$f.$io.direct.gauss" "$f.$io.direct.out"
			if [ "$rc" -ne 0 ]; then
				bad "$name" "decompress exit $rc: $(errtxt)"
			elif ! cmp -s "$f.$io.direct.gauss" "$f.gauss" ||
				! cmp -s "$f.$io.direct.out" "$f.safetensors"; then
				bad "$name" "bytes differ"
			else
				ok "$name"
			fi
		done
	done
else
	note "this gauss has no --direct: skipping the O_DIRECT checks"
fi

# ---------------------------------------------------------------------------
# With io_uring refused: auto (set or not) falls back without a word.
if [ $filter_works -eq 1 ]; then
	for f in $inputs; do
		for mode in unset auto; do
			name="no_uring-$mode-$f"
			if [ $mode = unset ]; then
				run "$no_uring" "$gauss" compress -q \
					"$f.safetensors" "$f.nu-$mode.gauss"
			else
				run env GAUSS_IO=auto "$no_uring" "$gauss" \
					compress -q "$f.safetensors" \
					"$f.nu-$mode.gauss"
			fi
			if [ "$rc" -ne 0 ] || [ -s err ]; then
				bad "$name" "compress exit $rc: $(errtxt)"
				continue
			fi
			if ! cmp -s "$f.nu-$mode.gauss" "$f.gauss"; then
				bad "$name" "not the bytes written without no_uring"
				continue
			fi
			if [ $mode = unset ]; then
				run "$no_uring" "$gauss" decompress -q \
					"$f.nu-$mode.gauss" "$f.nu-$mode.out"
			else
				run env GAUSS_IO=auto "$no_uring" "$gauss" \
					decompress -q "$f.nu-$mode.gauss" \
					"$f.nu-$mode.out"
			fi
			if [ "$rc" -ne 0 ] || [ -s err ]; then
				bad "$name" "decompress exit $rc: $(errtxt)"
			elif ! cmp -s "$f.nu-$mode.out" "$f.safetensors"; then
				bad "$name" "restored file differs"
			else
				ok "$name"
			fi
		done
	done

	# GAUSS_IO=uring insists: exit 1, a message, nothing written.
	for c in "compress small.safetensors" "decompress small.gauss"; do
		name="no_uring-insist-${c% *}"
		mkdir -p insist
		# shellcheck disable=SC2086 # split the command on purpose
		run env GAUSS_IO=uring "$no_uring" "$gauss" ${c% *} ${c#* } \
			insist/out
		if [ "$rc" -ne 1 ]; then
			bad "$name" "exit $rc, wanted 1: $(errtxt)"
		elif ! head -n 1 err |
			grep -q '^gauss: .*io_uring is not available'; then
			bad "$name" "unclear message: $(errtxt)"
		elif [ -n "$(ls -A insist)" ]; then
			bad "$name" "left $(find insist -mindepth 1 | head -n 1)"
		else
			ok "$name"
		fi
	done
fi

# An unknown GAUSS_IO is refused before anything is written.
for c in "compress small.safetensors" "decompress small.gauss"; do
	name="bad-GAUSS_IO-${c% *}"
	mkdir -p bogus
	# shellcheck disable=SC2086 # split the command on purpose
	run env GAUSS_IO=bogus "$gauss" ${c% *} ${c#* } bogus/out
	if [ "$rc" -eq 0 ] || [ "$rc" -ge 126 ]; then
		bad "$name" "exit $rc, wanted a clean failure: $(errtxt)"
	elif ! head -n 1 err | grep -q "^gauss: .*GAUSS_IO='bogus'"; then
		bad "$name" "unclear message: $(errtxt)"
	elif [ -n "$(ls -A bogus)" ] || has_temp bogus; then
		bad "$name" "left $(find bogus -mindepth 1 | head -n 1)"
	else
		ok "$name"
	fi
done

echo "# $nok passed, $nfail failed"
[ "$nfail" -eq 0 ] || exit 1
[ $uring_here -eq 1 ] || exit 77
exit 0
