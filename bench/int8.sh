#!/bin/bash
# SPDX-License-Identifier: MIT
# 8-bit tensors (issue 7): int8-quantized copies of safetensors files
# (every float matrix of 2+ dimensions becomes I8, round(w / scale) clipped
# to +-127 with scale = max|w| / 127 per tensor; other tensors are kept),
# compressed by gauss, against the order-0 entropy of each I8 tensor's
# bytes (gauss-bound --context) and zstd -19 of the file.
#
# usage: bench/int8.sh [BUILD_DIR] FILE.safetensors...
set -eu
build=${1:-build}
shift
gauss=$build/gauss
bound=$build/bench/gauss-bound
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "| file | I8 tensors over 64 KiB | their bytes | gauss | order-0 entropy | gauss / entropy | worst tensor | whole file: gauss % | zstd -19 % |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
for f in "$@"; do
	name=$(basename "$f" .safetensors)
	q=$work/$name.int8.safetensors
	python3 - "$f" "$q" <<'PY'
import json, struct, sys
src, dst = sys.argv[1:3]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + n])
meta = hdr.pop("__metadata__", None)
out, data = {}, bytearray()
for name, t in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"]):
    lo, hi = (8 + n + x for x in t["data_offsets"])
    raw = b[lo:hi]
    if t["dtype"] in ("BF16", "F16", "F32") and len(t["shape"]) >= 2 and raw:
        if t["dtype"] == "BF16":
            w = [v[0] for v in struct.iter_unpack("<f", b"".join(b"\0\0" + raw[i:i + 2] for i in range(0, len(raw), 2)))]
        elif t["dtype"] == "F16":
            w = [v[0] for v in struct.iter_unpack("<e", raw)]
        else:
            w = [v[0] for v in struct.iter_unpack("<f", raw)]
        m = max((abs(x) for x in w if x == x and abs(x) != float("inf")), default=0) or 1.0
        s = m / 127
        raw = bytes((max(-127, min(127, round(x / s))) if x == x else 0) & 0xff for x in w)
        t = {"dtype": "I8", "shape": t["shape"]}
    out[name] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
if meta is not None:
    out["__metadata__"] = meta
h = json.dumps(out, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
open(dst, "wb").write(struct.pack("<Q", len(h)) + h + data)
PY
	"$gauss" compress -q -f "$q" "$work/q.gauss"
	"$gauss" info --json "$work/q.gauss" >"$work/info.json"
	"$bound" --context --per-tensor -- "$q" >"$work/bound.txt"
	z=$(zstd -19 -q -c "$q" | wc -c)
	python3 - "$work/info.json" "$work/bound.txt" "$name" "$z" "$(stat -c %s "$q")" "$(stat -c %s "$work/q.gauss")" <<'PY'
import json, sys
info, bound, name, z, size, gz = sys.argv[1:7]
tensors = {t["name"]: t for t in json.load(open(info))["tensors"]}
ctx = {}
for line in open(bound):
    if line.startswith("\t"):
        p = line.split()
        ctx[p[0]] = float(p[5])       # name dtype n H order0 ctx order1
n = g = e = 0
worst = 0.0
for t in tensors.values():
    if t["dtype"] != "I8" or t["original_bytes"] <= 65536:
        continue
    n += 1
    g += t["stored_bytes"]
    e += ctx[t["name"]]
    worst = max(worst, t["stored_bytes"] / ctx[t["name"]])
print("| %s | %d | %d | %d | %.0f | %.4f | %.4f | %.2f | %.2f |" % (
    name, n, sum(t["original_bytes"] for t in tensors.values() if t["dtype"] == "I8" and t["original_bytes"] > 65536),
    g, e, g / e if e else 0, worst, 100 * int(gz) / int(size), 100 * int(z) / int(size)))
PY
done
