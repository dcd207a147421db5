#!/bin/bash
# SPDX-License-Identifier: MIT
# A full disk (suite 'cli'): compress, decompress and extract into a tiny
# tmpfs fail with exit 1 and "No space left on device", leave nothing
# behind, and keep an existing output as it was, with each I/O backend.
# The tmpfs is mounted in a private mount namespace (unshare -m), which
# needs root; elsewhere the test is skipped (exit 77).
# usage: tests/enospc.sh PATH_TO_GAUSS SAMPLE.safetensors
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 PATH_TO_GAUSS SAMPLE.safetensors" >&2
	exit 2
fi
gauss=$(realpath "$1")
sample=$(realpath "$2")

if [ -z "${GAUSS_ENOSPC_INNER:-}" ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
		echo "SKIP: needs root and unshare to mount a small tmpfs"
		exit 77
	fi
	GAUSS_ENOSPC_INNER=1 exec unshare -m "$0" "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gauss-enospc.XXXXXX") || exit 2
trap 'umount "$tmp/full" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/full"
# private, so the mount is not seen outside the namespace
mount --make-rprivate / 2>/dev/null
if ! mount -t tmpfs -o size=256k tmpfs "$tmp/full"; then
	echo "SKIP: cannot mount a tmpfs here"
	exit 77
fi
cd "$tmp" || exit 2

nfail=0
nok=0
ok() { echo "ok $1"; nok=$((nok + 1)); }
bad() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }

"$gauss" compress -q "$sample" s.gauss || { echo "FAIL setup"; exit 1; }
name=$(python3 -c '
import json, struct, sys
b = open(sys.argv[1], "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
h.pop("__metadata__", None)
print(max(h, key=lambda k: h[k]["data_offsets"][1] - h[k]["data_offsets"][0]))
' "$sample")
# two files of 100 KB leave about 56 KB free
head -c 100000 /dev/urandom >"$tmp/filler"

# full NAME CMD...: CMD writes into full/; it must fail cleanly
full() {
	local what=$1
	shift
	rm -rf full/* full/.[!.]* 2>/dev/null
	cp filler full/keep
	cp filler full/existing
	"$@" >out 2>err
	rc=$?
	if [ "$rc" -ne 1 ]; then
		bad "$what" "exit $rc, wanted 1: $(head -c 300 err)"
	elif ! grep -q 'No space left on device' err; then
		bad "$what" "no 'No space left on device': $(head -c 300 err)"
	elif [ "$(ls -A full | tr '\n' ' ')" != "existing keep " ]; then
		bad "$what" "left behind: $(ls -A full | tr '\n' ' ')"
	elif ! cmp -s filler full/existing; then
		bad "$what" "the existing output was changed"
	else
		ok "$what"
	fi
}

for io in posix uring auto; do
	export GAUSS_IO=$io
	if [ $io = uring ] && ! "$gauss" compress -q -f "$sample" probe.gauss 2>/dev/null; then
		echo "ok enospc-$io # SKIP io_uring is not available here"
		continue
	fi
	full "compress ($io)" "$gauss" compress -q "$sample" full/x.gauss
	full "compress -f over a file ($io)" "$gauss" compress -q -f "$sample" full/existing
	full "decompress ($io)" "$gauss" decompress -q s.gauss full/x.safetensors
	full "decompress -f over a file ($io)" "$gauss" decompress -q -f s.gauss full/existing
	full "extract ($io)" "$gauss" extract s.gauss "$name" full/x.safetensors
	for t in 1 2; do
		full "compress -T $t ($io)" "$gauss" compress -q -T $t "$sample" full/x.gauss
	done
done
unset GAUSS_IO

echo "# $nok passed, $nfail failed"
[ "$nfail" -eq 0 ]
