#!/bin/bash
# SPDX-License-Identifier: MIT
# CLI tests: run the built command as a user would and check exit codes,
# messages, outputs, and that nothing is left behind on failure.
# usage: tests/test_cli.sh PATH_TO_GAUSS SAMPLE.safetensors
set -u
gauss=$(realpath "$1")
sample=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

ok() { echo "ok $1"; }
bad() { echo "FAIL $1: $2"; failed=1; }

# expect NAME WANT_RC CMD...: runs CMD, keeps stdout/stderr in $out/$err
expect() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		bad "$name" "exit $rc, wanted $want; stderr: $(head -c 300 "$tmp/err")"
		return 1
	fi
	return 0
}

no_leftovers() {
	if ls -A "$1" | grep -q 'gauss-tmp'; then
		bad "$2" "temporary file left in $1"
	fi
}

mkst() { # mkst OUT JSON-DICT DATA-HEX: a safetensors file
	python3 - "$@" <<'PY'
import json, struct, sys
out, header, data = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
h = header.encode()
open(out, "wb").write(struct.pack("<Q", len(h)) + h + data)
PY
}

cd "$tmp" || exit 1
cp "$sample" s.safetensors

# round trip and the equivalent spellings
expect roundtrip 0 "$gauss" compress s.safetensors s.gauss &&
	expect roundtrip-d 0 "$gauss" decompress s.gauss r.safetensors &&
	cmp -s s.safetensors r.safetensors && ok roundtrip ||
	bad roundtrip "restored file differs"
grep -q '%' err && ok summary-line || bad summary-line "no ratio on stderr"
expect lossless-form 0 "$gauss" --lossless s.safetensors l1.gauss &&
	expect lossless-flag 0 "$gauss" compress --lossless s.safetensors l2.gauss &&
	cmp -s s.gauss l1.gauss && cmp -s s.gauss l2.gauss &&
	ok lossless-spellings || bad lossless-spellings "outputs differ"

# verify and quiet
expect verify 0 "$gauss" verify s.gauss && [ ! -s out ] && ok verify ||
	bad verify "stdout not empty"
expect quiet 0 "$gauss" compress -q s.safetensors q.gauss && [ ! -s err ] &&
	ok quiet || bad quiet "stderr not empty with -q"

# info and info --json
ntensors=$(python3 -c 'import json,struct,sys;b=open(sys.argv[1],"rb").read();n=struct.unpack("<Q",b[:8])[0];print(len([k for k in json.loads(b[8:8+n]) if k!="__metadata__"]))' s.safetensors)
expect info 0 "$gauss" info s.gauss &&
	[ "$(grep -c ' BF16 ' out)" -eq "$ntensors" ] && ok info ||
	bad info "wanted $ntensors tensor lines"
expect info-json 0 "$gauss" info --json s.gauss &&
	python3 - out "$ntensors" <<'PY' && ok info-json || bad info-json "schema"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 1 and len(d["tensors"]) == int(sys.argv[2])
for t in d["tensors"]:
    n = 1
    for s in t["shape"]:
        n *= s
    assert t["dtype"] == "BF16" and t["original_bytes"] == 2 * n
    assert t["codec"] in ("exp-bf16", "stored") and t["stored_bytes"] > 0
    if t["codec"] == "exp-bf16":
        assert 0 <= t["exponent_entropy"] <= 8
    else:
        assert t["exponent_entropy"] is None
PY

# existing outputs, -f, output == input
echo keep >exists.gauss
expect refuse-existing 1 "$gauss" compress s.safetensors exists.gauss &&
	grep -q -- '-f' err && [ "$(cat exists.gauss)" = keep ] &&
	ok refuse-existing || bad refuse-existing "message or file changed"
expect force 0 "$gauss" compress -f s.safetensors exists.gauss &&
	cmp -s exists.gauss s.gauss && ok force || bad force "not replaced"
cp s.safetensors same.safetensors
expect same-file 1 "$gauss" compress -f same.safetensors same.safetensors &&
	cmp -s same.safetensors s.safetensors && ok same-file ||
	bad same-file "input changed"

# usage errors exit 2
expect usage-none 2 "$gauss" && ok usage-none
expect usage-cmd 2 "$gauss" frobnicate a b && ok usage-cmd
expect usage-opt 2 "$gauss" compress --bogus a b && ok usage-opt
expect usage-nargs 2 "$gauss" compress s.safetensors && ok usage-nargs
expect usage-json 2 "$gauss" compress --json s.safetensors x.gauss && ok usage-json
expect help 0 "$gauss" --help && grep -q usage out && ok help
expect help-h 0 "$gauss" compress -h && ok help-h
expect version 0 "$gauss" --version && grep -q gauss out && ok version

# bad inputs: exit 1, a message naming the file, nothing left behind
mkdir -p outdir
check_bad() { # NAME INPUT [compress|decompress]
	local name=$1 in=$2 cmd=${3:-compress}
	rm -f outdir/*
	if expect "$name" 1 "$gauss" "$cmd" "$in" outdir/o; then
		if ! grep -q "^gauss: .*$(basename "$in")" err; then
			bad "$name" "message does not name the file: $(cat err)"
		elif [ -n "$(ls -A outdir)" ]; then
			bad "$name" "output left: $(ls -A outdir)"
		else
			ok "$name"
		fi
	fi
}
check_bad missing-input nothere.safetensors
check_bad directory-input outdir
head -c 5000 /dev/urandom >random.bin
check_bad random-input random.bin
head -c 3000 s.safetensors >trunc.safetensors
check_bad truncated-safetensors trunc.safetensors
mkst badjson.safetensors '{"a": {"dtype": ' ''
check_bad invalid-json badjson.safetensors
size=$(stat -c %s s.gauss)
for cut in 10 100 $((size / 2)) $((size - 1)); do
	head -c "$cut" s.gauss >"cut$cut.gauss"
	check_bad "truncated-gauss-$cut" "cut$cut.gauss" decompress
done
cp s.gauss flip.gauss
printf '\x55' | dd of=flip.gauss bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
check_bad flipped-byte flip.gauss decompress
grep -q "tensor '" err && ok flipped-names-tensor ||
	bad flipped-names-tensor "$(cat err)"
expect verify-flipped 1 "$gauss" verify flip.gauss && ok verify-flipped
printf 'GAUSS001 some old file' >old.gauss
check_bad legacy-magic old.gauss decompress
grep -qi 'python\|original' err && ok legacy-message || bad legacy-message "$(cat err)"
expect no-such-dir 1 "$gauss" compress s.safetensors nodir/x.gauss && ok no-such-dir
expect dev-full 1 "$gauss" decompress -f s.gauss /dev/full && ok dev-full
no_leftovers . leftovers

# edge cases round trip through the command
edge() { # NAME JSON DATA-HEX
	mkst "e.safetensors" "$2" "$3"
	rm -f e.gauss e.out
	if expect "edge-$1" 0 "$gauss" compress -q e.safetensors e.gauss &&
		expect "edge-$1" 0 "$gauss" decompress -q e.gauss e.out; then
		cmp -s e.safetensors e.out && ok "edge-$1" || bad "edge-$1" "differs"
	fi
}
edge empty '{}' ''
edge metadata-only '{"__metadata__":{"a":"b"}}' ''
edge zero-dim '{"t":{"dtype":"BF16","shape":[3,0],"data_offsets":[0,0]}}' ''
edge scalar '{"t":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}' '0000c0ff'
edge gaps '{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[1],"data_offsets":[7,9]}}' '803f00c0aabbcc003c'
edge odd-header '{"t":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}} ' '010203'
edge out-of-order '{"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]},"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}' '803f0040'
edge mixed '{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]},"h":{"dtype":"F16","shape":[2],"data_offsets":[10,14]},"f":{"dtype":"F32","shape":[1],"data_offsets":[14,18]}}' 'ffffffffffffffff0100003c00bc0000803f'

exit $failed
