# SPDX-License-Identifier: MIT
# Shared by the scripts of tests/cli/ (sourced, not run): arguments, a
# scratch directory, ok/bad counting, run, and small safetensors fixtures.
# The sourcing script sets NAME first; it takes PATH_TO_GAUSS SAMPLE.
set -u
if [ $# -lt 2 ]; then
	echo "usage: $0 PATH_TO_GAUSS SAMPLE.safetensors [...]" >&2
	exit 2
fi
gauss=$(realpath "$1")
sample=$(realpath "$2")
if [ ! -x "$gauss" ] || [ ! -r "$sample" ]; then
	echo "$0: cannot run '$1' or read '$2'" >&2
	exit 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gauss-$NAME.XXXXXX") || exit 2
cleanup() {
	chmod -R u+rwx "$tmp" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 2

nfail=0
nok=0
ok() { echo "ok $1"; nok=$((nok + 1)); }
bad() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }
# check NAME CONDITION-COMMAND... : ok if it succeeds, else FAIL with stderr
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name" "exit $rc: $(errtxt)"; fi
}
rc=0
run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
errtxt() { head -c 400 "$tmp/err" | tr '\n' ' '; }
# temps DIR: lists temporary outputs left in DIR
temps() { find "${1:-.}" -name '*gauss-tmp*' -o -name '*gauss-old*'; }
finish() {
	echo "# $nok passed, $nfail failed"
	[ "$nfail" -eq 0 ]
	exit $?
}

# mkst FILE SEED [NTENSORS]: a small BF16 safetensors file
mkst() {
	python3 - "$1" "$2" "${3:-2}" <<'PY'
import json, random, struct, sys
rng = random.Random(int(sys.argv[2]))
header, data = {}, b""
for i in range(int(sys.argv[3])):
    n = 1000 + 37 * i
    b = b"".join(struct.pack("<f", rng.gauss(0, 0.05))[2:] for _ in range(n))
    header["t%d.weight" % i] = {"dtype": "BF16", "shape": [n],
                                "data_offsets": [len(data), len(data) + len(b)]}
    data += b
h = json.dumps(header, separators=(",", ":")).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)
PY
}
