#!/bin/bash
# SPDX-License-Identifier: MIT
# compress --gmm from the command line (issue 4): the options, their
# refusals (usage errors that write nothing), and the file: same size and
# header, lossless tensors bit for bit, lossy values within the bound that
# info reports, the same bytes for any thread count.
# usage: tests/cli/lossy.sh PATH_TO_GAUSS SAMPLE.safetensors
NAME=lossy
. "$(dirname "$0")/lib.sh"

cp "$sample" m.safetensors

run "$gauss" compress -q --gmm m.safetensors m.gauss
check gmm-compress test $rc -eq 0 -a -s m.gauss
run "$gauss" compress -q --gmm -T 1 m.safetensors m1.gauss
run "$gauss" compress -q --gmm -T 3 m.safetensors m3.gauss
check gmm-threads-same-bytes cmp -s m1.gauss m3.gauss
check gmm-threads-same-bytes-2 cmp -s m.gauss m1.gauss
run "$gauss" decompress -q m.gauss back.safetensors
check gmm-decompress test $rc -eq 0
run "$gauss" verify m.gauss
check gmm-verify test $rc -eq 0
run "$gauss" info --json m.gauss
cp out info.json
run "$gauss" info m.gauss
check gmm-info-columns grep -q 'gmm-bf16 .* 16 *128 ' out

# every value against the original and the bound info gives
check gmm-values python3 - m.safetensors back.safetensors info.json <<'PY'
import json, struct, sys
a = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
info = {t["name"]: t for t in json.load(open(sys.argv[3]))["tensors"]}
assert len(a) == len(b), (len(a), len(b))
n = struct.unpack("<Q", a[:8])[0]
assert a[:8 + n] == b[:8 + n], "header differs"
hdr = json.loads(a[8:8 + n])
hdr.pop("__metadata__", None)
lossy = 0
covered = 8 + n
for name, t in hdr.items():
    lo, hi = (8 + n + x for x in t["data_offsets"])
    x, y = a[lo:hi], b[lo:hi]
    l = info[name]["lossy"]
    if l is None:
        assert x == y, name + " changed"
        continue
    lossy += 1
    assert t["dtype"] == "BF16" and len(t["shape"]) >= 2, name
    worst = 0.0
    for i in range(0, len(x), 2):
        u = struct.unpack("<f", b"\0\0" + x[i:i + 2])[0]
        v = struct.unpack("<f", b"\0\0" + y[i:i + 2])[0]
        if u != u or abs(u) == float("inf"):
            assert x[i:i + 2] == y[i:i + 2], (name, i)
            continue
        worst = max(worst, abs(u - v))
    assert worst <= l["bound"], (name, worst, l["bound"])
    assert abs(worst - l["max_abs_error"]) <= 1e-6 * max(worst, 1e-30), (name, worst, l)
assert lossy >= 2, lossy
PY

# a bound of 0.001: S = 500, every value within it
run "$gauss" compress -q -f --gmm --max-error 0.001 --K 4 --seed 9 \
	m.safetensors e.gauss
check gmm-max-error test $rc -eq 0
run "$gauss" info --json e.gauss
check gmm-max-error-scale python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ls = [t["lossy"] for t in d["tensors"] if t["lossy"]]
assert ls and all(l["scale"] == 500 and l["k"] == 4 and
                  l["max_abs_error"] <= 0.001 for l in ls), ls' out

# --layers: only that tensor
layer=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print([t["name"] for t in d["tensors"] if t["lossy"]][0])' info.json)
run "$gauss" compress -q -f --gmm --layers "$layer" m.safetensors l.gauss
run "$gauss" info --json l.gauss
check gmm-layers python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [t["name"] for t in d["tensors"] if t["lossy"]] == [sys.argv[2]]' \
	out "$layer"
# a raw threshold above every tensor: a bit-exact version 2 file
run "$gauss" compress -q -f --gmm --raw-threshold 100000000 m.safetensors r.gauss
run "$gauss" decompress -q -f r.gauss r.safetensors
check gmm-raw-threshold-exact cmp -s r.safetensors m.safetensors

# refusals: exit 2, a message, nothing written
refused() {	# NAME MESSAGE ARGS...
	local name=$1 msg=$2
	shift 2
	rm -f x.gauss
	run "$gauss" "$@"
	if [ $rc -eq 2 ] && grep -q -- "$msg" err && [ ! -e x.gauss ] &&
	   [ -z "$(temps)" ]; then
		ok "$name"
	else
		bad "$name" "exit $rc: $(errtxt)"
	fi
}
refused usage-gmm-decompress "applies to compress only" \
	decompress --gmm m.gauss x.gauss
refused usage-gmm-lossless "exclude each other" \
	compress --gmm --lossless m.safetensors x.gauss
refused usage-k-without-gmm "'--K' applies with --gmm only" \
	compress --K 4 m.safetensors x.gauss
refused usage-k-zero "invalid --K '0'" \
	compress --gmm --K 0 m.safetensors x.gauss
refused usage-k-big "invalid --K '256'" \
	compress --gmm --K 256 m.safetensors x.gauss
refused usage-max-error-negative "invalid --max-error '-1'" \
	compress --gmm --max-error -1 m.safetensors x.gauss
refused usage-max-error-word "invalid --max-error 'tiny'" \
	compress --gmm --max-error tiny m.safetensors x.gauss
refused usage-max-error-too-small "out of range" \
	compress --gmm --max-error 1e-20 m.safetensors x.gauss
refused usage-shard-rows-zero "invalid --shard-rows '0'" \
	compress --gmm --shard-rows 0 m.safetensors x.gauss
refused usage-max-iter-word "invalid --max-iter 'x'" \
	compress --gmm --max-iter x m.safetensors x.gauss
refused usage-layers-empty "needs tensor names" \
	compress --gmm --layers '' m.safetensors x.gauss
refused usage-seed-negative "invalid --seed '-3'" \
	compress --gmm --seed -3 m.safetensors x.gauss
check input-unchanged cmp -s m.safetensors "$sample"
finish
