#!/bin/bash
# SPDX-License-Identifier: MIT
# CLI tests (suite 'cli'): run the built command as a user would and check
# exit codes, messages, outputs, and that nothing is left behind on failure.
# Each check prints "ok NAME" or "FAIL NAME: detail"; exits 1 if any failed.
# usage: tests/cli.sh PATH_TO_GAUSS SAMPLE.safetensors
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 PATH_TO_GAUSS SAMPLE.safetensors" >&2
	exit 2
fi
gauss=$(realpath "$1")
sample=$(realpath "$2")
if [ ! -x "$gauss" ] || [ ! -r "$sample" ]; then
	echo "$0: cannot run '$1' or read '$2'" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gauss-cli.XXXXXX") || exit 2
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

# run CMD...: runs CMD with stdout in $tmp/out, stderr in $tmp/err and the
# exit status in $rc.
rc=0
run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
errtxt() { head -c 400 "$tmp/err" | tr '\n' ' '; }
# has_temp DIR: DIR holds a temporary output (.NAME.gauss-tmp-XXXXXX)
has_temp() { compgen -G "$1/.*gauss-tmp*" >/dev/null; }

# The JSON header of a safetensors file, less __metadata__, as Python sees it.
py_header='
import json, struct, sys
def header(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return h
'

ntensors() {
	python3 -c "$py_header"'
print(len(header(sys.argv[1])))' "$1"
}

# ---------------------------------------------------------------------------
# Fixtures: small safetensors files made with the Python standard library.
mkdir fix || exit 2
python3 - fix <<'PY' || { echo "FAIL fixtures: python3 failed"; exit 1; }
import json, os, random, struct, sys

out = sys.argv[1]
rng = random.Random(1234)

def write(name, header, data, header_text=None):
    h = header_text if header_text is not None else \
        json.dumps(header, separators=(",", ":"))
    hb = h.encode()
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + data)

def f32(n):
    return b"".join(struct.pack("<f", rng.gauss(0, 0.05)) for _ in range(n))

def bf16(n):
    b = f32(n)
    return b"".join(b[i + 2:i + 4] for i in range(0, len(b), 4))

def f16(n):
    return b"".join(struct.pack("<e", rng.gauss(0, 0.05)) for _ in range(n))

def layout(items, order=None):
    """items: (name, dtype, shape, bytes); returns header, data."""
    header, data = {}, b""
    for name, dtype, shape, b in items:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    return header, data

# no tensors at all
write("empty.safetensors", {}, b"")
# only __metadata__
write("meta.safetensors", {"__metadata__": {"format": "pt", "k": "v"}}, b"")
# a tensor with a zero dimension between two ordinary ones
h, d = layout([("a", "BF16", [4, 8], bf16(32)),
               ("zero", "BF16", [0, 16], b""),
               ("b", "F32", [8], f32(8))])
write("zerodim.safetensors", h, d)
# a scalar (shape [])
h, d = layout([("s", "F32", [], f32(1)), ("t", "BF16", [], bf16(1))])
write("scalar.safetensors", h, d)
# gaps between tensors (and before the first)
a, b, c = bf16(100), f32(50), bf16(300)
data = b"\x11" * 8 + a + b"\xa5" * 37 + b + b"\x00" * 3 + c
o1 = 8
o2 = o1 + len(a) + 37
o3 = o2 + len(b) + 3
write("gaps.safetensors",
      {"a": {"dtype": "BF16", "shape": [100], "data_offsets": [o1, o1 + len(a)]},
       "b": {"dtype": "F32", "shape": [50], "data_offsets": [o2, o2 + len(b)]},
       "c": {"dtype": "BF16", "shape": [300], "data_offsets": [o3, o3 + len(c)]}},
      data)
# header length not a multiple of 8 (no padding)
h, d = layout([("w", "BF16", [3, 7], bf16(21))])
text = json.dumps(h, separators=(",", ":"))
if len(text) % 8 == 0:
    text += " "
assert len(text) % 8 != 0
write("oddheader.safetensors", None, d, header_text=text)
# tensors listed out of offset order in the JSON
a, b, c = bf16(64), bf16(200), f32(30)
hdr = {"c": {"dtype": "F32", "shape": [30],
             "data_offsets": [len(a) + len(b), len(a) + len(b) + len(c)]},
       "a": {"dtype": "BF16", "shape": [64], "data_offsets": [0, len(a)]},
       "b": {"dtype": "BF16", "shape": [200],
             "data_offsets": [len(a), len(a) + len(b)]}}
write("unordered.safetensors", hdr, a + b + c)
# non-float dtypes mixed with floats
h, d = layout([
    ("ids", "I64", [17], b"".join(struct.pack("<q", rng.randrange(-2**40, 2**40)) for _ in range(17))),
    ("w_bf16", "BF16", [32, 33], bf16(32 * 33)),
    ("mask", "BOOL", [5, 7], bytes(rng.randrange(2) for _ in range(35))),
    ("w_f16", "F16", [1000], f16(1000)),
    ("bytes", "U8", [333], bytes(rng.randrange(256) for _ in range(333))),
    ("w_f32", "F32", [257], f32(257)),
])
write("mixed.safetensors", h, d, header_text=json.dumps(
    dict(h, __metadata__={"note": "mixed"}), separators=(",", ":")))

# one larger BF16 tensor, for the damaged-file test
h, d = layout([("layer.weight", "BF16", [256, 512], bf16(256 * 512))])
write("big.safetensors", h, d)

# a header padded with spaces (as the safetensors library writes it), a
# non-ASCII tensor name, and dtypes without an exponent codec
h, d = layout([("h\u00e9llo w\u00f6rld \u2713", "BF16", [4, 4], bf16(16)),
               ("f64", "F64", [3], struct.pack("<3d", 1.5, -2.25, 1e300)),
               ("f8", "F8_E4M3", [8], bytes(range(8))),
               ("i32", "I32", [2, 2], struct.pack("<4i", 1, -2, 3, -4))])
text = json.dumps(h, separators=(",", ":"), ensure_ascii=False)
text += " " * (-(len(text.encode()) + 8) % 8)
write("padded.safetensors", None, d, header_text=text)

# bad inputs
def bad(name, text, nbytes):
    write(name, None, b"\x01" * nbytes, header_text=text)
t = {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}
bad("overlap.safetensors", json.dumps(
    {"a": t, "b": {"dtype": "BF16", "shape": [4], "data_offsets": [4, 12]}}), 12)
bad("trailing.safetensors", json.dumps({"a": t}), 10)
bad("pastend.safetensors", json.dumps({"a": t}), 6)
bad("baddtype.safetensors", json.dumps({"a": dict(t, dtype="Q99")}), 8)
bad("badshape.safetensors", json.dumps({"a": dict(t, shape=[3])}), 8)
bad("dupkey.safetensors", '{"a":%s,"a":%s}' % (json.dumps(t), json.dumps(t)), 8)
bad("notobject.safetensors", "[]", 0)
write("badjson.safetensors", None, b"\x00" * 16, header_text='{"a": {"dtype": "BF16",, ]')
with open(os.path.join(out, "random.bin"), "wb") as f:
    f.write(bytes(rng.randrange(256) for _ in range(4096)))
with open(os.path.join(out, "legacy.gauss"), "wb") as f:
    f.write(b"GAUSS001" + bytes(rng.randrange(256) for _ in range(200)))
PY

cp "$sample" s.safetensors || exit 2
chmod u+w s.safetensors

# ---------------------------------------------------------------------------
# Round trip of the sample and the equivalent spellings of compress.
run "$gauss" compress s.safetensors s.gauss
if [ "$rc" -ne 0 ]; then
	bad compress "exit $rc: $(errtxt)"
	echo "cannot go on without a compressed sample"
	exit 1
fi
ok compress
if [ -s out ]; then
	bad compress-stdout-empty "compress wrote to stdout: $(head -c 200 out)"
else
	ok compress-stdout-empty
fi
if grep -Eq '[0-9]+ -> [0-9]+ bytes \([0-9.]+%\)' err; then
	ok compress-summary
else
	bad compress-summary "no 'N -> M bytes (P%)' on stderr: $(errtxt)"
fi
insz=$(stat -c %s s.safetensors)
outsz=$(stat -c %s s.gauss)
if grep -q "$insz -> $outsz bytes" err; then
	ok compress-summary-sizes
else
	bad compress-summary-sizes "wanted '$insz -> $outsz bytes': $(errtxt)"
fi

run "$gauss" decompress s.gauss r.safetensors
if [ "$rc" -ne 0 ]; then
	bad roundtrip "decompress exit $rc: $(errtxt)"
elif ! cmp -s s.safetensors r.safetensors; then
	bad roundtrip "restored file differs from the sample"
else
	ok roundtrip
fi
if grep -q '%' err; then
	ok decompress-summary
else
	bad decompress-summary "no summary on stderr: $(errtxt)"
fi

run "$gauss" compress s.safetensors s2.gauss
if [ "$rc" -eq 0 ] && cmp -s s.gauss s2.gauss; then
	ok deterministic
else
	bad deterministic "second compress (exit $rc) gave different bytes"
fi

run "$gauss" --lossless s.safetensors l1.gauss
if [ "$rc" -eq 0 ] && cmp -s s.gauss l1.gauss; then
	ok lossless-shorthand
else
	bad lossless-shorthand "exit $rc or bytes differ from compress: $(errtxt)"
fi
run "$gauss" compress --lossless s.safetensors l2.gauss
if [ "$rc" -eq 0 ] && cmp -s s.gauss l2.gauss; then
	ok lossless-flag
else
	bad lossless-flag "exit $rc or bytes differ from compress: $(errtxt)"
fi
run "$gauss" --lossless -f -q s.safetensors l2.gauss
if [ "$rc" -eq 0 ] && [ ! -s err ] && cmp -s s.gauss l2.gauss; then
	ok lossless-shorthand-options
else
	bad lossless-shorthand-options "exit $rc or bytes differ: $(errtxt)"
fi
# "--" ends the options: a file name may start with "-"
cp s.safetensors ./-dash.safetensors
run "$gauss" compress -q -- -dash.safetensors -dash.gauss
if [ "$rc" -eq 0 ] && cmp -s s.gauss ./-dash.gauss; then
	ok double-dash
else
	bad double-dash "exit $rc or bytes differ: $(errtxt)"
fi

run "$gauss" compress -q s.safetensors q.gauss
if [ "$rc" -eq 0 ] && [ ! -s err ] && [ ! -s out ] && cmp -s s.gauss q.gauss; then
	ok compress-quiet
else
	bad compress-quiet "exit $rc, or output on stderr/stdout: $(errtxt)"
fi
run "$gauss" decompress --quiet s.gauss rq.safetensors
if [ "$rc" -eq 0 ] && [ ! -s err ] && [ ! -s out ] &&
	cmp -s s.safetensors rq.safetensors; then
	ok decompress-quiet
else
	bad decompress-quiet "exit $rc, or output on stderr/stdout: $(errtxt)"
fi
run "$gauss" compress -v s.safetensors v.gauss
if [ "$rc" -eq 0 ] && [ "$(wc -l <err)" -ge 2 ] && cmp -s s.gauss v.gauss; then
	ok compress-verbose
else
	bad compress-verbose "exit $rc, or no detail with -v: $(errtxt)"
fi

# ---------------------------------------------------------------------------
# verify
run "$gauss" verify s.gauss
if [ "$rc" -ne 0 ]; then
	bad verify "exit $rc: $(errtxt)"
elif [ -s out ]; then
	bad verify "stdout not empty: $(head -c 200 out)"
elif [ ! -s err ]; then
	bad verify "no summary on stderr"
else
	ok verify
fi
run "$gauss" verify -q s.gauss
if [ "$rc" -eq 0 ] && [ ! -s out ] && [ ! -s err ]; then
	ok verify-quiet
else
	bad verify-quiet "exit $rc or output with -q: $(errtxt)"
fi

# ---------------------------------------------------------------------------
# info and info --json
nt=$(ntensors s.safetensors)
run "$gauss" info s.gauss
if [ "$rc" -ne 0 ]; then
	bad info "exit $rc: $(errtxt)"
else
	# a heading, one line per tensor, a total and a summary line
	if detail=$(python3 -c "$py_header"'
names = list(header(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
assert len(lines) == len(names) + 3, \
    "%d lines for %d tensors" % (len(lines), len(names))
body = lines[1:-2]
for n in names:
    if not any(l.startswith(n + " ") for l in body):
        raise SystemExit("no line for tensor " + n)
' s.safetensors out 2>&1); then
		ok "info-lists-all-$nt-tensors"
	else
		bad info "$detail"
	fi
fi
if grep -q "$nt tensors" out; then
	ok info-summary-count
else
	bad info-summary-count "no '$nt tensors' in: $(tail -n 1 out)"
fi

# info_json_check GAUSS SAFETENSORS NAME
info_json_check() {
	local name=$3 detail
	run "$gauss" info --json "$1"
	if [ "$rc" -ne 0 ]; then
		bad "$name" "exit $rc: $(errtxt)"
		return
	fi
	if detail=$(python3 -c "$py_header"'
doc = json.load(open(sys.argv[2]))
hdr = header(sys.argv[1])
size = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "I64": 8, "I32": 4,
        "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4,
        "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
assert doc["schema_version"] == 1, "schema_version %r" % doc["schema_version"]
ts = doc["tensors"]
assert isinstance(ts, list)
assert sorted(t["name"] for t in ts) == sorted(hdr), \
    "tensor names %r vs header %r" % (sorted(t["name"] for t in ts), sorted(hdr))
keys = {"name", "dtype", "shape", "codec", "original_bytes", "stored_bytes",
        "ratio", "exponent_entropy"}
for t in ts:
    missing = keys - set(t)
    assert not missing, "tensor %s lacks %s" % (t.get("name"), missing)
    h = hdr[t["name"]]
    assert t["dtype"] == h["dtype"], "%s: dtype %s" % (t["name"], t["dtype"])
    assert t["shape"] == h["shape"], "%s: shape %s" % (t["name"], t["shape"])
    n = 1
    for s in t["shape"]:
        n *= s
    want = size[h["dtype"]] * n
    assert t["original_bytes"] == want, "%s: original_bytes %d, wanted %d" % (
        t["name"], t["original_bytes"], want)
    b, e = h["data_offsets"]
    assert t["original_bytes"] == e - b
    assert isinstance(t["stored_bytes"], int) and t["stored_bytes"] >= 0
    assert isinstance(t["codec"], str) and t["codec"]
    assert isinstance(t["ratio"], (int, float))
    ee = t["exponent_entropy"]
    assert ee is None or isinstance(ee, (int, float)) and 0 <= ee <= 8, ee
assert doc["tensor_original_bytes"] == sum(t["original_bytes"] for t in ts)
assert doc["original_bytes"] == len(open(sys.argv[1], "rb").read())
' "$2" out 2>&1); then
		ok "$name"
	else
		bad "$name" "$(echo "$detail" | tail -n 3 | tr '\n' ' ')"
	fi
}
info_json_check s.gauss s.safetensors info-json
if python3 -c "$py_header"'
doc = json.load(open(sys.argv[1]))
bf = [t for t in doc["tensors"] if t["dtype"] == "BF16"]
assert bf
for t in bf:
    n = 1
    for s in t["shape"]:
        n *= s
    assert t["original_bytes"] == 2 * n
' out 2>/dev/null; then
	ok info-json-bf16-bytes
else
	bad info-json-bf16-bytes "original_bytes of a BF16 tensor is not 2 * elements"
fi
run "$gauss" info s.safetensors
if [ "$rc" -eq 1 ] && grep -q "^gauss: .*s.safetensors" err && [ ! -s out ]; then
	ok info-not-gauss
else
	bad info-not-gauss "exit $rc (wanted 1) for info of a safetensors file: $(errtxt)"
fi

# ---------------------------------------------------------------------------
# Existing outputs and output = input.
printf 'keep me\n' >exists.gauss
cp exists.gauss exists.orig
run "$gauss" compress s.safetensors exists.gauss
if [ "$rc" -ne 1 ]; then
	bad refuse-existing "exit $rc, wanted 1"
elif ! grep -q -- '-f' err; then
	bad refuse-existing "message does not mention -f: $(errtxt)"
elif ! cmp -s exists.gauss exists.orig; then
	bad refuse-existing "existing output was changed"
elif has_temp .; then
	bad refuse-existing "temporary file left behind"
else
	ok refuse-existing
fi
printf 'keep me\n' >exists.safetensors
run "$gauss" decompress s.gauss exists.safetensors
if [ "$rc" -eq 1 ] && grep -q -- '-f' err &&
	[ "$(cat exists.safetensors)" = "keep me" ]; then
	ok refuse-existing-decompress
else
	bad refuse-existing-decompress "exit $rc, or file changed: $(errtxt)"
fi
run "$gauss" compress -f s.safetensors exists.gauss
if [ "$rc" -eq 0 ] && cmp -s exists.gauss s.gauss; then
	ok force-replaces
else
	bad force-replaces "exit $rc or output not replaced: $(errtxt)"
fi
run "$gauss" decompress --force s.gauss exists.safetensors
if [ "$rc" -eq 0 ] && cmp -s exists.safetensors s.safetensors; then
	ok force-replaces-decompress
else
	bad force-replaces-decompress "exit $rc or output not replaced: $(errtxt)"
fi

cp s.safetensors same.safetensors
cp s.gauss same.gauss
ln -s same.safetensors link.safetensors
# same_refused NAME FILE CMD...: CMD must exit 1 and leave FILE as it was.
same_refused() {
	local name=$1 file=$2
	shift 2
	cp "$file" "$file.before"
	run "$@"
	if [ "$rc" -ne 1 ]; then
		bad "$name" "exit $rc, wanted 1"
	elif ! cmp -s "$file" "$file.before"; then
		bad "$name" "input was changed"
	elif ! grep -q '^gauss: ' err; then
		bad "$name" "no 'gauss: ' message: $(errtxt)"
	else
		ok "$name"
	fi
	rm -f "$file.before"
}
same_refused same-file same.safetensors \
	"$gauss" compress same.safetensors same.safetensors
same_refused same-file-force same.safetensors \
	"$gauss" compress -f same.safetensors same.safetensors
same_refused same-file-other-spelling same.safetensors \
	"$gauss" compress -f same.safetensors "$tmp/./same.safetensors"
same_refused same-file-symlink same.safetensors \
	"$gauss" compress -f same.safetensors link.safetensors
same_refused same-file-decompress same.gauss \
	"$gauss" decompress -f same.gauss same.gauss
if has_temp .; then
	bad same-file-no-temp "temporary file left behind"
else
	ok same-file-no-temp
fi

# ---------------------------------------------------------------------------
# Usage errors exit 2 with a message and the usage on stderr.
usage_err() {
	local name=$1
	shift
	run "$gauss" "$@"
	if [ "$rc" -ne 2 ]; then
		bad "$name" "exit $rc, wanted 2: $(errtxt)"
	elif ! grep -q '^gauss: ' err || ! grep -q 'usage:' err; then
		bad "$name" "no message and usage on stderr: $(errtxt)"
	elif [ -s out ]; then
		bad "$name" "stdout not empty"
	else
		ok "$name"
	fi
}
usage_err usage-no-command
usage_err usage-unknown-command frobnicate s.safetensors x.gauss
usage_err usage-unknown-short-option compress -x s.safetensors x.gauss
usage_err usage-unknown-long-option compress --bogus s.safetensors x.gauss
usage_err usage-unknown-option-info info --frob s.gauss
usage_err usage-compress-no-files compress
usage_err usage-decompress-no-files decompress
usage_err usage-lossless-no-files --lossless
# one input, or several, is no longer a usage error (default names): see
# tests/cli/conventions.sh; these stay wrong:
usage_err usage-output-two-inputs compress -o x.gauss s.safetensors s.safetensors
usage_err usage-c-and-o compress -c -o x.gauss s.safetensors
usage_err usage-c-two-inputs decompress -c s.gauss s.gauss
usage_err usage-stdin-among-inputs compress s.safetensors - x.safetensors
usage_err usage-rm-stdout compress --rm s.safetensors -
usage_err usage-rm-stdin compress --rm - x.gauss
usage_err usage-rm-info info --rm s.gauss
usage_err usage-o-verify verify -o x.gauss s.gauss
usage_err usage-o-empty compress -o '' s.safetensors
usage_err usage-o-no-value compress s.safetensors -o
usage_err usage-info-no-file info
usage_err usage-info-two-files info s.gauss s.gauss
usage_err usage-verify-two-files verify s.gauss s.gauss
usage_err usage-json-compress compress --json s.safetensors x.gauss
usage_err usage-json-decompress decompress --json s.gauss x.safetensors
usage_err usage-json-verify verify --json s.gauss
if [ -e x.gauss ] || [ -e y.gauss ] || [ -e x.safetensors ]; then
	bad usage-no-output "a usage error created an output file"
else
	ok usage-no-output
fi

for h in -h --help "compress --help" "info -h"; do
	# shellcheck disable=SC2086 # split "compress --help" on purpose
	run "$gauss" $h
	if [ "$rc" -eq 0 ] && grep -q 'usage:' out && [ ! -s err ]; then
		ok "help(${h// /_})"
	else
		bad "help(${h// /_})" "exit $rc, or no usage on stdout: $(errtxt)"
	fi
done
run "$gauss" --version
if [ "$rc" -eq 0 ] && grep -Eq '^gauss [0-9]' out; then
	ok version
else
	bad version "exit $rc, stdout '$(head -c 100 out)'"
fi

# ---------------------------------------------------------------------------
# Bad inputs: exit 1, a "gauss: " message naming the file, nothing left.
# bad_input NAME INPUT-FIXTURE [EXTRA-GREP] -- GAUSS-ARGS (with @IN@/@OUT@)
# The input is copied into a fresh directory; the output goes beside it.
case_no=0
bad_input() {
	local name=$1 src=$2 pat=$3 dir in out before after a
	local -a args=()
	shift 3
	case_no=$((case_no + 1))
	dir="$tmp/case$case_no"
	mkdir "$dir"
	in="$dir/input"
	if [ -d "$src" ]; then
		mkdir "$in"
	elif [ -n "$src" ]; then
		cp "$src" "$in"
	fi
	out="$dir/output"
	for a in "$@"; do
		a=${a//@IN@/$in}
		args+=("${a//@OUT@/$out}")
	done
	before=$(ls -A "$dir")
	run "$gauss" "${args[@]}"
	after=$(ls -A "$dir")
	if [ "$rc" -ne 1 ]; then
		bad "$name" "exit $rc, wanted 1: $(errtxt)"
	elif ! head -n 1 err | grep -q '^gauss: '; then
		bad "$name" "stderr does not start with 'gauss: ': $(errtxt)"
	elif ! grep -qF "$in" err; then
		bad "$name" "message does not name '$in': $(errtxt)"
	elif [ -n "$pat" ] && ! grep -Eqi "$pat" err; then
		bad "$name" "message does not match /$pat/: $(errtxt)"
	elif [ "$before" != "$after" ]; then
		bad "$name" "directory changed: [$before] -> [$after]"
	elif [ -e "$out" ]; then
		bad "$name" "output file was created"
	elif [ -n "$src" ] && [ ! -d "$src" ] && ! cmp -s "$src" "$in"; then
		bad "$name" "input was changed"
	else
		ok "$name"
	fi
}

bad_input missing-input "" "" compress @IN@ @OUT@
bad_input missing-input-decompress "" "" decompress @IN@ @OUT@
bad_input missing-input-verify "" "" verify @IN@
bad_input missing-input-info "" "" info @IN@
bad_input directory-input fix "" compress @IN@ @OUT@
bad_input directory-input-decompress fix "" decompress @IN@ @OUT@
bad_input random-bytes fix/random.bin "" compress @IN@ @OUT@
bad_input random-bytes-decompress fix/random.bin "" decompress @IN@ @OUT@
bad_input random-bytes-verify fix/random.bin "" verify @IN@
head -c "$((insz / 2))" s.safetensors >trunc-half.safetensors
head -c 4 s.safetensors >trunc-4.safetensors
head -c 100 s.safetensors >trunc-100.safetensors
: >empty-file
bad_input truncated-safetensors trunc-half.safetensors "" compress @IN@ @OUT@
bad_input truncated-safetensors-4 trunc-4.safetensors "" compress @IN@ @OUT@
bad_input truncated-safetensors-header trunc-100.safetensors "" compress @IN@ @OUT@
bad_input empty-input empty-file "" compress @IN@ @OUT@
bad_input invalid-json fix/badjson.safetensors "" compress @IN@ @OUT@
for f in overlap trailing pastend baddtype badshape dupkey notobject; do
	bad_input "invalid-safetensors-$f" "fix/$f.safetensors" "" compress @IN@ @OUT@
done

# truncated .gauss files
gsz=$(stat -c %s s.gauss)
for n in 0 7 8 23 24 25 100 1000 $((gsz / 2)) $((gsz - 65)) $((gsz - 64)) \
	$((gsz - 63)) $((gsz - 1)); do
	head -c "$n" s.gauss >"trunc-$n.gauss"
	bad_input "truncated-gauss-$n" "trunc-$n.gauss" "" decompress @IN@ @OUT@
done
for n in 24 $((gsz / 2)) $((gsz - 1)); do
	bad_input "truncated-gauss-verify-$n" "trunc-$n.gauss" "" verify @IN@
	bad_input "truncated-gauss-info-$n" "trunc-$n.gauss" "" info @IN@
done
# trailing bytes after a good file
cp s.gauss trailing.gauss
printf 'x' >>trailing.gauss
bad_input trailing-byte-gauss trailing.gauss "" decompress @IN@ @OUT@

# one byte flipped in the middle of tensor data
flip() { # flip IN OUT OFFSET
	python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 0x10
open(sys.argv[2], "wb").write(b)' "$@"
}
run "$gauss" compress -q fix/big.safetensors big.gauss
if [ "$rc" -ne 0 ]; then
	bad compress-big "exit $rc: $(errtxt)"
fi
bsz=$(stat -c %s big.gauss)
flip big.gauss big-flip.gauss $((bsz / 2))
bad_input flipped-byte big-flip.gauss "(checksum|damage).*" decompress @IN@ @OUT@
if grep -q "layer.weight" err; then
	ok flipped-byte-names-tensor
else
	bad flipped-byte-names-tensor "message does not name 'layer.weight': $(errtxt)"
fi
bad_input flipped-byte-verify big-flip.gauss "checksum|damage" verify @IN@
if grep -q "layer.weight" err; then
	ok flipped-byte-verify-names-tensor
else
	bad flipped-byte-verify-names-tensor "message does not name 'layer.weight': $(errtxt)"
fi
flip s.gauss s-flip.gauss $((gsz / 2))
bad_input flipped-byte-sample s-flip.gauss "checksum|damage" decompress @IN@ @OUT@
if python3 -c "$py_header"'
import re
err = open(sys.argv[2]).read()
names = re.findall(r"tensor \x27([^\x27]*)\x27", err)
assert names and all(n in header(sys.argv[1]) for n in names), names
' s.safetensors err 2>/dev/null; then
	ok flipped-byte-sample-names-tensor
else
	bad flipped-byte-sample-names-tensor "no tensor of the sample named: $(errtxt)"
fi
bad_input flipped-byte-sample-verify s-flip.gauss "checksum|damage" verify @IN@
# flips at several places must never be accepted
for off in 0 9 21 $((gsz / 3)) $((gsz - 70)) $((gsz - 30)) $((gsz - 1)); do
	flip s.gauss "flip-$off.gauss" "$off"
	bad_input "flipped-byte-at-$off" "flip-$off.gauss" "" decompress @IN@ @OUT@
done

# a file of the original Python gauss
bad_input legacy-python-gauss fix/legacy.gauss "original|python" decompress @IN@ @OUT@
bad_input legacy-python-gauss-info fix/legacy.gauss "original|python" info @IN@
bad_input legacy-python-gauss-verify fix/legacy.gauss "original|python" verify @IN@
# a .gauss file given to compress is not a safetensors file
bad_input compress-a-gauss-file s.gauss "" compress @IN@ @OUT@

# ---------------------------------------------------------------------------
# Outputs that cannot be written.
run "$gauss" compress s.safetensors "$tmp/no/such/dir/x.gauss"
if [ "$rc" -eq 1 ] && grep -q '^gauss: ' err && grep -q 'no/such/dir' err &&
	[ ! -e "$tmp/no" ]; then
	ok output-dir-missing
else
	bad output-dir-missing "exit $rc (wanted 1): $(errtxt)"
fi
run "$gauss" decompress s.gauss "$tmp/no/such/dir/x.safetensors"
if [ "$rc" -eq 1 ] && grep -q '^gauss: ' err && [ ! -e "$tmp/no" ]; then
	ok output-dir-missing-decompress
else
	bad output-dir-missing-decompress "exit $rc (wanted 1): $(errtxt)"
fi
mkdir outdir
run "$gauss" compress s.safetensors outdir
if [ "$rc" -eq 1 ] && [ -z "$(ls -A outdir)" ] && ! has_temp .; then
	ok output-is-directory
else
	bad output-is-directory "exit $rc (wanted 1): $(errtxt)"
fi
run "$gauss" compress -f s.safetensors outdir
if [ "$rc" -eq 1 ] && [ -d outdir ] && [ -z "$(ls -A outdir)" ] &&
	! has_temp .; then
	ok output-is-directory-force
else
	bad output-is-directory-force "exit $rc (wanted 1): $(errtxt)"
fi

if [ "$(id -u)" -eq 0 ]; then
	echo "ok output-read-only-dir # SKIP running as root"
else
	mkdir ro
	chmod 555 ro
	run "$gauss" compress s.safetensors ro/x.gauss
	if [ "$rc" -eq 1 ] && grep -q '^gauss: ' err && [ -z "$(ls -A ro)" ]; then
		ok output-read-only-dir
	else
		bad output-read-only-dir "exit $rc (wanted 1): $(errtxt)"
	fi
	chmod 755 ro
fi

if [ -e /dev/full ]; then
	for f in "" -f; do
		for c in "compress s.safetensors" "decompress s.gauss"; do
			# shellcheck disable=SC2086 # word splitting wanted
			run "$gauss" ${c% *} $f ${c#* } /dev/full
			name="dev-full(${c% *}${f:+ $f})"
			if [ "$rc" -eq 0 ] || [ "$rc" -ge 126 ]; then
				bad "$name" "exit $rc, wanted a clean failure: $(errtxt)"
			elif ! grep -q '^gauss: ' err; then
				bad "$name" "no 'gauss: ' message: $(errtxt)"
			else
				ok "$name"
			fi
		done
	done
	if [ -c /dev/full ]; then
		ok dev-full-intact
	else
		bad dev-full-intact "/dev/full is no longer a character device"
	fi
fi
# info to a full stdout fails cleanly
if [ -e /dev/full ]; then
	"$gauss" info s.gauss >/dev/full 2>err
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q '^gauss: ' err; then
		ok info-stdout-full
	else
		bad info-stdout-full "exit $rc (wanted 1): $(errtxt)"
	fi
fi

# ---------------------------------------------------------------------------
# Edge cases round trip through the CLI, verify, and list every tensor.
for f in empty meta zerodim scalar gaps oddheader unordered mixed padded big; do
	src=fix/$f.safetensors
	run "$gauss" compress "$src" "edge-$f.gauss"
	if [ "$rc" -ne 0 ]; then
		bad "edge-$f" "compress exit $rc: $(errtxt)"
		continue
	fi
	run "$gauss" decompress "edge-$f.gauss" "edge-$f.safetensors"
	if [ "$rc" -ne 0 ]; then
		bad "edge-$f" "decompress exit $rc: $(errtxt)"
		continue
	fi
	if ! cmp -s "$src" "edge-$f.safetensors"; then
		bad "edge-$f" "restored file differs"
		continue
	fi
	ok "edge-$f"
	run "$gauss" verify -q "edge-$f.gauss"
	if [ "$rc" -eq 0 ]; then
		ok "edge-$f-verify"
	else
		bad "edge-$f-verify" "exit $rc: $(errtxt)"
	fi
	run "$gauss" info "edge-$f.gauss"
	n=$(ntensors "$src")
	if [ "$rc" -eq 0 ] && [ "$(wc -l <out)" -eq $((n + 3)) ]; then
		ok "edge-$f-info"
	else
		bad "edge-$f-info" "exit $rc, $(wc -l <out) lines for $n tensors: $(errtxt)"
	fi
	info_json_check "edge-$f.gauss" "$src" "edge-$f-info-json"
done

# codecs chosen for the mixed file: floats get an exponent codec
run "$gauss" info --json edge-mixed.gauss
if python3 -c '
import json, sys
ts = {t["name"]: t for t in json.load(open(sys.argv[1]))["tensors"]}
for n in ("ids", "mask", "bytes"):
    assert not ts[n]["codec"].startswith("exp-"), (n, ts[n]["codec"])
    assert ts[n]["exponent_entropy"] is None, (n, ts[n]["exponent_entropy"])
want = {"w_bf16": "exp-bf16", "w_f16": "exp-f16", "w_f32": "exp-f32"}
for n, c in want.items():
    assert ts[n]["codec"] in (c, "stored"), (n, ts[n]["codec"])
' out 2>/dev/null; then
	ok edge-mixed-codecs
else
	bad edge-mixed-codecs "unexpected codecs: $(grep codec out | tr -s ' \n' ' ')"
fi

# ---------------------------------------------------------------------------
# Files of format version 1 (written by gauss 0.1 before the alias slot
# layout) still decompress, byte for byte.
v1=$(dirname "$(realpath "$0")")/data/format1-mixed.gauss
v1_sha=c3a0a2a9552008b11e8ee211c22f9fbe028669f4e8f5af8e278d7a439a362e94
run "$gauss" decompress "$v1" v1.safetensors
if [ $rc -eq 0 ] && [ "$(sha256sum <v1.safetensors | cut -d' ' -f1)" = "$v1_sha" ]; then
	ok format1-decompress
else
	bad format1-decompress "exit $rc: $(errtxt)"
fi
run "$gauss" compress v1.safetensors v7.gauss
if [ $rc -eq 0 ] && [ "$(od -A n -t u1 -j 8 -N 1 v7.gauss | tr -d ' ')" = 7 ] &&
   "$gauss" decompress -q v7.gauss v7.safetensors && cmp -s v1.safetensors v7.safetensors; then
	ok format1-recompress-as-7
else
	bad format1-recompress-as-7 "exit $rc: $(errtxt)"
fi

# Files of the versions before 7 (fine tables) still decompress, byte for
# byte: a pruned bf16 model in version 2, a lossy file of gauss 0.3 in
# version 3 (its lossy values as that version decoded them), the same
# pruned model in version 4 (whole-value symbols), a row-pruned model in
# version 5 (zero runs; bench/gauss-prune --rows 50 of the corpus's
# gnubg-nets.bf16), and in version 6 a bf16 tensor coded with its top
# mantissa bit beside an int8 tensor under a 12-bit table (16384 values
# and an int8 quantization of 70000 values of the corpus's ppocrv4-rec).
data=$(dirname "$(realpath "$0")")/data
for v in "2-pruned 108509d56c1ed66f3d868c67cb4a356bfe4a1b1226c6538c4c4234e4fb683662" \
	 "3-lossy 96e577bead5359d7ef8b9b4eea1e59e343e7231df8dbdc21c6822408fcd5e3cf" \
	 "4-pruned 108509d56c1ed66f3d868c67cb4a356bfe4a1b1226c6538c4c4234e4fb683662" \
	 "5-rows 476f9d1b832330ce03ed8dc11a1b4f4b07784b2bdcccb3dbb293f9ce0172ff30" \
	 "6-m1i8 11491326a255e1ddcb4fe39e5e587dfcefa43f0aa54f113099b8cf1a80342215"; do
	name=${v%% *}
	run "$gauss" decompress -f "$data/format$name.gauss" "old$name.safetensors"
	if [ $rc -eq 0 ] && [ "$(sha256sum <"old$name.safetensors" | cut -d' ' -f1)" = "${v#* }" ] &&
	   "$gauss" verify -q "$data/format$name.gauss"; then
		ok "format$name-decompress"
	else
		bad "format$name-decompress" "exit $rc: $(errtxt)"
	fi
done

# Every kernel level this CPU has writes the same bytes and reads the
# others' files; a level it lacks or an unknown one is refused clearly.
levels=""
for l in scalar avx2 avx512; do
	if GAUSS_CPU=$l "$gauss" compress -q -f "$sample" "lv-$l.gauss" 2>/dev/null; then
		levels="$levels $l"
	fi
done
same=1
for l in $levels; do
	cmp -s lv-scalar.gauss "lv-$l.gauss" || same=0
	for m in $levels; do
		GAUSS_CPU=$m "$gauss" decompress -q -f "lv-$l.gauss" lv.out &&
			cmp -s lv.out "$sample" || same=0
	done
done
if [ $same -eq 1 ] && [ -n "$levels" ]; then
	ok "cpu-levels-identical ($levels )"
else
	bad cpu-levels-identical "levels '$levels' differ"
fi
run env GAUSS_CPU=sse9 "$gauss" compress -f "$sample" bogus.gauss
if [ $rc -eq 1 ] && grep -q "GAUSS_CPU=sse9: unknown level" err && [ ! -e bogus.gauss ]; then
	ok cpu-level-unknown
else
	bad cpu-level-unknown "exit $rc: $(errtxt)"
fi

# The thread count changes the speed, never the bytes; -T, --threads and
# --workers are the same option.
same=1
"$gauss" compress -q -T 1 "$sample" t1.gauss || same=0
for t in "-T 2" "--threads 7" "--workers 3" "-T 0"; do
	# shellcheck disable=SC2086
	"$gauss" compress -q -f $t "$sample" tn.gauss && cmp -s t1.gauss tn.gauss || same=0
	# shellcheck disable=SC2086
	"$gauss" decompress -q -f $t t1.gauss tn.out && cmp -s tn.out "$sample" || same=0
done
if [ $same -eq 1 ]; then ok threads-identical; else bad threads-identical "outputs differ"; fi
for t in x -1 1025 ""; do
	run "$gauss" compress -f -T "$t" "$sample" tbad.gauss
	if [ $rc -eq 2 ] && grep -q "thread count\|needs a value" err && [ ! -e tbad.gauss ]; then
		ok "threads-invalid '$t'"
	else
		bad "threads-invalid '$t'" "exit $rc: $(errtxt)"
	fi
done

# ---------------------------------------------------------------------------
# Pipes: "-" is standard input or output, -c/--stdout writes to standard
# output; the bytes are those of the file-to-file run.
pipe_check() {	# NAME: the command ran in the caller; rc and files are set
	if [ "$rc" -eq 0 ] && cmp -s "$2" "$3"; then
		ok "$1"
	else
		bad "$1" "exit $rc or $2 differs from $3: $(errtxt)"
	fi
}
"$gauss" compress -q -f "$sample" ps.gauss || bad pipe-setup "compress failed"
cat "$sample" | "$gauss" compress -q - - >p1.gauss 2>err; rc=$?
pipe_check pipe-compress-stdin-stdout p1.gauss ps.gauss
"$gauss" compress -q -c "$sample" >p2.gauss 2>err; rc=$?
pipe_check pipe-compress-c p2.gauss ps.gauss
"$gauss" compress -q --stdout - <"$sample" >p3.gauss 2>err; rc=$?
pipe_check pipe-compress-stdout-long p3.gauss ps.gauss
cat "$sample" | "$gauss" compress -q - p4.gauss 2>err; rc=$?
pipe_check pipe-compress-stdin-to-file p4.gauss ps.gauss
"$gauss" decompress -q ps.gauss - >p5.out 2>err; rc=$?
pipe_check pipe-decompress-stdout p5.out "$sample"
cat ps.gauss | "$gauss" decompress -q - p6.out 2>err; rc=$?
pipe_check pipe-decompress-stdin p6.out "$sample"
"$gauss" decompress -q -c ps.gauss >p7.out 2>err; rc=$?
pipe_check pipe-decompress-c p7.out "$sample"
"$gauss" compress -q - - <"$sample" 2>err | "$gauss" decompress -q - - >p8.out 2>>err
rc=$?
pipe_check pipe-whole "$sample" p8.out
cat ps.gauss | "$gauss" verify -q - 2>err; rc=$?
pipe_check pipe-verify ps.gauss ps.gauss
mkfifo fifo.in
cat "$sample" >fifo.in &
"$gauss" compress -q fifo.in p9.gauss 2>err; rc=$?
wait
pipe_check pipe-compress-fifo p9.gauss ps.gauss
run "$gauss" compress -c "$sample" p10.gauss
if [ "$rc" -eq 2 ] && [ ! -e p10.gauss ]; then
	ok pipe-c-with-output
else
	bad pipe-c-with-output "exit $rc, wanted 2: $(errtxt)"
fi
# pipe_bad NAME PATTERN: the pipeline just run must fail cleanly (exit 1, a
# "gauss: " message matching PATTERN)
pipe_bad() {
	if [ "$rc" -ne 1 ]; then
		bad "$1" "exit $rc, wanted 1: $(errtxt)"
	elif ! head -n 1 err | grep -q '^gauss: '; then
		bad "$1" "no 'gauss: ' message: $(errtxt)"
	elif ! grep -Eqi "$2" err; then
		bad "$1" "message does not match /$2/: $(errtxt)"
	else
		ok "$1"
	fi
}
head -c "$((insz / 2))" "$sample" | "$gauss" compress -q - - >/dev/null 2>err
rc=${PIPESTATUS[1]}
pipe_bad pipe-truncated-input 'truncated'
head -c 100 "$sample" | "$gauss" compress -q - - >/dev/null 2>err
rc=${PIPESTATUS[1]}
pipe_bad pipe-truncated-header 'truncated'
{ cat "$sample"; echo extra; } | "$gauss" compress -q - - >/dev/null 2>err
rc=${PIPESTATUS[1]}
pipe_bad pipe-trailing-bytes 'trailing'
head -c 100 "$sample" | "$gauss" compress -q - pbad.gauss 2>err
rc=${PIPESTATUS[1]}
pipe_bad pipe-truncated-to-file 'truncated'
if [ -e pbad.gauss ] || has_temp .; then
	bad pipe-truncated-to-file-nothing-left "$(ls -A | grep pbad)"
else
	ok pipe-truncated-to-file-nothing-left
fi
psz=$(stat -c %s ps.gauss)
head -c "$((psz / 2))" ps.gauss | "$gauss" decompress -q - - >/dev/null 2>err
rc=${PIPESTATUS[1]}
pipe_bad pipe-truncated-gauss 'truncated|chunk'
head -c "$((psz - 1))" ps.gauss | "$gauss" decompress -q - - >/dev/null 2>err
rc=${PIPESTATUS[1]}
pipe_bad pipe-gauss-missing-last-byte 'truncated|footer'
python3 - ps.gauss pflip.gauss <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x10
open(sys.argv[2], "wb").write(b)
PY
"$gauss" decompress -q - - <pflip.gauss >/dev/null 2>err; rc=$?
pipe_bad pipe-damaged-gauss 'checksum|corrupt|invalid|damaged|does not match|chunk'
if [ -e /dev/full ]; then
	"$gauss" compress -q -c "$sample" >/dev/full 2>err; rc=$?
	pipe_bad pipe-stdout-full 'No space left'
	"$gauss" decompress -q -c ps.gauss >/dev/full 2>err; rc=$?
	pipe_bad pipe-stdout-full-decompress 'No space left'
fi

# ---------------------------------------------------------------------------
# extract: one tensor as a safetensors file or bare bytes, checked by Python
# against the original.
ext_check='
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:], n
h0, d0, _ = load(sys.argv[1])
name = sys.argv[3]
b, e = h0[name]["data_offsets"]
if sys.argv[4] == "raw":
    ok = open(sys.argv[2], "rb").read() == d0[b:e]
else:
    h1, d1, n1 = load(sys.argv[2])
    t = h1[name]
    ok = (n1 % 8 == 0 and d1 == d0[b:e] and t["shape"] == h0[name]["shape"]
          and t["dtype"] == h0[name]["dtype"] and t["data_offsets"] == [0, e - b]
          and len(h1) == 1 + ("__metadata__" in h1)
          and h1.get("__metadata__") == h0.get("__metadata__"))
sys.exit(0 if ok else 1)
'
"$gauss" compress -q -f fix/mixed.safetensors mixed.gauss || bad extract-setup "compress failed"
for name in $(python3 -c "$py_header"'
print(" ".join(sorted(header(sys.argv[1]))))' fix/mixed.safetensors); do
	rm -f x.safetensors x.raw
	run "$gauss" extract mixed.gauss "$name" x.safetensors
	if [ "$rc" -eq 0 ] && python3 -c "$ext_check" fix/mixed.safetensors x.safetensors "$name" st; then
		ok "extract '$name'"
	else
		bad "extract '$name'" "exit $rc or wrong file: $(errtxt)"
	fi
	run "$gauss" extract --raw mixed.gauss "$name" x.raw
	if [ "$rc" -eq 0 ] && python3 -c "$ext_check" fix/mixed.safetensors x.raw "$name" raw; then
		ok "extract --raw '$name'"
	else
		bad "extract --raw '$name'" "exit $rc or wrong bytes: $(errtxt)"
	fi
done
first=$(python3 -c "$py_header"'
print(sorted(header(sys.argv[1]))[0])' fix/mixed.safetensors)
"$gauss" extract mixed.gauss "$first" >x2.safetensors 2>err; rc=$?
if [ "$rc" -eq 0 ] && python3 -c "$ext_check" fix/mixed.safetensors x2.safetensors "$first" st; then
	ok extract-to-stdout
else
	bad extract-to-stdout "exit $rc: $(errtxt)"
fi
run "$gauss" extract mixed.gauss "$first" x.safetensors
if [ "$rc" -eq 1 ] && grep -q 'already exists' err; then
	ok extract-existing-output
else
	bad extract-existing-output "exit $rc (wanted 1): $(errtxt)"
fi
run "$gauss" extract mixed.gauss no.such.tensor x3.safetensors
if [ "$rc" -eq 1 ] && grep -q "no.such.tensor" err && [ ! -e x3.safetensors ]; then
	ok extract-unknown-tensor
else
	bad extract-unknown-tensor "exit $rc (wanted 1): $(errtxt)"
fi
run "$gauss" extract mixed.gauss
if [ "$rc" -eq 2 ]; then ok extract-usage; else bad extract-usage "exit $rc"; fi
cat mixed.gauss | "$gauss" extract - "$first" >/dev/null 2>err; rc=$?
pipe_bad extract-from-pipe 'regular file|not'

# nothing of ours is left anywhere in the work directory
if find "$tmp" -name '*gauss-tmp*' | grep -q .; then
	bad no-temporary-files "$(find "$tmp" -name '*gauss-tmp*' | head -n 3)"
else
	ok no-temporary-files
fi

echo "# $nok passed, $nfail failed"
[ "$nfail" -eq 0 ]
