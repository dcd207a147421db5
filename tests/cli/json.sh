#!/bin/bash
# SPDX-License-Identifier: MIT
# info --json against its documented schema (suite 'cli'): the member
# tables of man/gauss.1 (JSON OUTPUT) are read, and the output for several
# files must have exactly those members, in that order, of those types,
# with values that agree with the original safetensors file.
# usage: tests/cli/json.sh PATH_TO_GAUSS SAMPLE.safetensors MAN_PAGE
NAME=json
. "$(dirname "$0")/lib.sh"
man=$(realpath "$3") || exit 2

python3 - fix <<'PY' || { echo "FAIL fixtures"; exit 1; }
import json, os, random, struct, sys
out = sys.argv[1]
os.mkdir(out)
rng = random.Random(3)
def write(name, items, meta=None):
    header, data = {}, b""
    for n, dt, shape, b in items:
        header[n] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    open(os.path.join(out, name), "wb").write(struct.pack("<Q", len(h)) + h + data)
def bf16(n):
    return b"".join(struct.pack("<f", rng.gauss(0, 0.05))[2:] for _ in range(n))
# stored tensors: dtypes without an exponent codec, and random bytes
write("stored.safetensors", [
    ("ids", "I64", [5, 3], bytes(rng.randrange(256) for _ in range(120))),
    ("mask", "BOOL", [7], bytes(rng.randrange(2) for _ in range(7))),
    ("noise", "U8", [4096], bytes(rng.randrange(256) for _ in range(4096))),
    ("w", "BF16", [64, 8], bf16(512))], {"format": "pt"})
# empty tensors, a scalar, and a file with no tensor at all
write("empty-tensor.safetensors", [
    ("zero", "F32", [0, 16], b""), ("s", "BF16", [], bf16(1)),
    ("w", "F16", [300], b"".join(struct.pack("<e", rng.gauss(0, 1)) for _ in range(300)))])
write("no-tensors.safetensors", [])
PY
cp "$sample" fix/sample.safetensors

cp fix/sample.safetensors fix/lossy.safetensors
for f in sample stored empty-tensor no-tensors lossy; do
	flags=
	[ "$f" = lossy ] && flags=--gmm
	if ! "$gauss" compress -q $flags "fix/$f.safetensors" "$f.gauss" 2>err; then
		bad "compress-$f" "$(errtxt)"
		continue
	fi
	run "$gauss" info --json "$f.gauss"
	if [ $rc -ne 0 ]; then
		bad "info-json-$f" "exit $rc: $(errtxt)"
		continue
	fi
	if detail=$(python3 - "$man" out "fix/$f.safetensors" "$f.gauss" "$("$gauss" --version)" 2>&1 <<'PY'
import json, re, struct, sys, os
man, doc_path, st_path, gz_path, version = sys.argv[1:6]

def tables(path):
    """member -> type, for the tables marked '.\\" json: NAME'"""
    text = open(path).read()
    out = {}
    for m in re.finditer(r'^\.\\" json: (\w+).*?\n\.TS\n(.*?)\n\.TE', text, re.S | re.M):
        rows, body = [], m.group(2).split("\n")
        for line in body:
            if "\t" in line and not line.startswith(("member\t", "tab(")):
                name, typ = line.split("\t")[:2]
                rows.append((name.replace("\\-", "-"), typ))
        out[m.group(1)] = rows
    return out

schema = tables(man)
assert set(schema) == {"top", "tensor"}, "man page tables: %s" % sorted(schema)
assert len(schema["top"]) >= 10 and len(schema["tensor"]) >= 8, schema

def check_type(where, v, typ):
    ok = {
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "number or null": lambda v: v is None or isinstance(v, (int, float)),
        "object or null": lambda v: v is None or isinstance(v, dict),
        "array of integers": lambda v: isinstance(v, list) and all(isinstance(x, int) for x in v),
        "array of objects": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
    }[typ](v)
    assert ok, "%s: %r is not %s" % (where, v, typ)

doc = json.load(open(doc_path))
assert [k for k, _ in schema["top"]] == list(doc), \
    "top-level members %s, documented %s" % (list(doc), [k for k, _ in schema["top"]])
for k, t in schema["top"]:
    check_type(k, doc[k], t)
for i, t in enumerate(doc["tensors"]):
    assert [k for k, _ in schema["tensor"]] == list(t), \
        "tensor %d members %s" % (i, list(t))
    for k, typ in schema["tensor"]:
        check_type("tensors[%d].%s" % (i, k), t[k], typ)

# values against the original and the files
b = open(st_path, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + n])
hdr.pop("__metadata__", None)
size = {"BF16": 2, "F16": 2, "F32": 4, "I64": 8, "BOOL": 1, "U8": 1}
assert doc["schema_version"] == 1
assert doc["gauss_version"] == version.split()[1], doc["gauss_version"]
assert doc["file"] == gz_path
assert doc["original_bytes"] == len(b)
assert doc["compressed_bytes"] == os.path.getsize(gz_path)
assert doc["header_bytes"] == 8 + n
assert doc["tensor_count"] == len(hdr) == len(doc["tensors"])
assert abs(doc["ratio"] - doc["compressed_bytes"] / len(b)) < 1e-5
assert [t["name"] for t in doc["tensors"]] == list(hdr), "order"
for t in doc["tensors"]:
    h = hdr[t["name"]]
    count = 1
    for s in h["shape"]:
        count *= s
    assert t["dtype"] == h["dtype"] and t["shape"] == h["shape"], t["name"]
    assert t["element_count"] == count, (t["name"], t["element_count"])
    assert t["offset"] == 8 + n + h["data_offsets"][0], (t["name"], t["offset"])
    assert t["original_bytes"] == h["data_offsets"][1] - h["data_offsets"][0] == size.get(h["dtype"], 0) * count or h["dtype"] not in size
    assert t["codec"] in ("stored", "bytes", "exp-bf16", "exp-f16", "exp-f32",
                          "gmm-bf16", "gmm-f16", "gmm-f32"), t["codec"]
    l = t["lossy"]
    if t["codec"].startswith("gmm-"):
        assert list(l) == ["k", "scale", "bound", "max_abs_error", "rms_error",
                           "rms_relative"], l
        assert 1 <= l["k"] <= 255 and l["scale"] >= 1, l
        assert abs(l["bound"] - 0.5 / l["scale"]) < 1e-9 * l["bound"], l
        assert 0 <= l["max_abs_error"] <= l["bound"] * (1 + 1e-5), l
        assert 0 <= l["rms_error"] <= l["max_abs_error"] * (1 + 1e-5), l
    else:
        assert l is None, (t["name"], l)
    if t["original_bytes"] == 0:
        assert t["stored_bytes"] == 0 and t["ratio"] == 0, t
    else:
        assert abs(t["ratio"] - t["stored_bytes"] / t["original_bytes"]) < 1e-5
    e = t["exponent_entropy"]
    if t["codec"].startswith("exp-"):
        assert e is not None and 0 <= e <= 8, (t["name"], e)
    else:
        assert e is None, (t["name"], e)
assert doc["tensor_original_bytes"] == sum(t["original_bytes"] for t in doc["tensors"])
assert doc["tensor_stored_bytes"] == sum(t["stored_bytes"] for t in doc["tensors"])
codecs = {t["name"]: t["codec"] for t in doc["tensors"]}
if st_path.endswith("lossy.safetensors"):  # compressed with --gmm
    assert doc["format_version"] == 7, doc["format_version"]
    assert any(c.startswith("gmm-") for c in codecs.values()), codecs
if "ids" in codecs:  # the stored fixture: integer tensors are never exponent-coded
    assert not codecs["ids"].startswith("exp-") and not codecs["mask"].startswith("exp-"), codecs
PY
); then
		ok "info-json-$f"
	else
		bad "info-json-$f" "$(echo "$detail" | tail -n 3 | tr '\n' ' ')"
	fi
done
# a documented member missing from the output, or an undocumented one,
# must fail the check above: make sure the table reader sees the members
n=$(grep -c $'^[a-z_]*\tinteger\t\|^[a-z_]*\tstring\t\|^[a-z_]*\tnumber' "$man")
check man-tables-read test "$n" -ge 18
finish
