#!/bin/bash
# SPDX-License-Identifier: MIT
# Model directories (suite 'cli'): a sharded model with its index, nested
# folders, links as in the Hugging Face cache, odd modes and times goes
# through compress and decompress and comes back identical, file by file;
# every refusal leaves nothing behind; a signal removes the temporary tree.
# usage: tests/cli/tree.sh PATH_TO_GAUSS SAMPLE.safetensors
NAME=tree
. "$(dirname "$0")/lib.sh"

# --- a model directory ----------------------------------------------------
mkdir -p blobs model/sub/deeper model/empty-dir model/.cache
mkst model/model-00001-of-00002.safetensors 11 3
cp "$sample" model/model-00002-of-00002.safetensors
mkst model/sub/deeper/adapter.safetensors 12
cat >model/model.safetensors.index.json <<'JSON'
{"metadata": {"total_size": 1}, "weight_map": {"t0.weight": "model-00001-of-00002.safetensors"}}
JSON
printf '{"hidden_size": 8}\n' >model/config.json
printf '# a model\n' >model/README.md
printf '*.safetensors filter=lfs\n' >model/.gitattributes
: >model/sub/empty.txt
head -c 5000 /dev/urandom >model/sub/deeper/tokenizer.model
chmod 600 model/config.json
chmod 750 model/sub
touch -d '2001-02-03 04:05:06' model/README.md
# Hugging Face cache style: links to blobs outside the tree
mkst blobs/abc123 13
printf '{"vocab": {}}\n' >blobs/def456
ln -s ../blobs/abc123 model/linked.safetensors
ln -s ../../blobs/def456 model/sub/tokenizer.json
touch -h -d '2002-01-01' model/linked.safetensors
touch -d '2003-03-03 03:03:03' model/sub/deeper model/empty-dir

# tree_list DIR: every file and directory below DIR with its type, mode,
# mtime (seconds) and content hash; links show as what they point to
tree_list() {
	(cd "$1" && find -L . -mindepth 1 -printf '%y %m %TY%Tm%Td%TH%TM%TS %p\n' |
		sed 's/\.[0-9]* / /' | sort -k4 |
		while read -r y m t p; do
			if [ "$y" = f ]; then
				echo "$y $m $t $p $(md5sum <"$p" | cut -c1-32)"
			else
				echo "$y $m $t $p"
			fi
		done)
}
# the names the compressed tree must hold
expected_gauss_names() {
	(cd "$1" && find -L . -mindepth 1 -printf '%y %p\n' | sort -k2 |
		while read -r y p; do
			case "$p" in *.safetensors) [ "$y" = f ] && p=$p.gauss ;; esac
			echo "$p"
		done)
}
total_bytes() { find -L "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }'; }

# --- round trip -----------------------------------------------------------
run "$gauss" compress model model.gz1
if [ $rc -ne 0 ]; then
	bad tree-compress "exit $rc: $(errtxt)"
	finish
fi
ok tree-compress
got=$(cd model.gz1 && find . -mindepth 1 -printf '%p\n' | sort)
check tree-compress-names test "$got" = "$(expected_gauss_names model)"
check tree-compress-no-safetensors-left test -z "$(find model.gz1 -name '*.safetensors')"
check tree-compress-no-links test -z "$(find model.gz1 -type l)"
same=1
for f in model-00001-of-00002 model-00002-of-00002 sub/deeper/adapter linked; do
	"$gauss" compress -q "model/$f.safetensors" one.gauss && cmp -s one.gauss "model.gz1/$f.safetensors.gauss" || same=0
	rm -f one.gauss
done
check tree-compress-same-bytes-as-files test $same -eq 1
for f in config.json README.md .gitattributes sub/empty.txt sub/deeper/tokenizer.model sub/tokenizer.json model.safetensors.index.json; do
	cmp -s "model/$f" "model.gz1/$f" || same=0
done
check tree-compress-copies test $same -eq 1
inb=$(total_bytes model)
outb=$(total_bytes model.gz1)
check tree-compress-summary grep -q "^model -> model.gz1: $inb -> $outb bytes ([0-9.]*%), [0-9.]* s, [0-9.]* MB/s, 11 files\$" err
check tree-compress-modes-times test "$(stat -c '%a %Y' model.gz1/config.json model.gz1/README.md model.gz1/sub)" = "$(stat -c '%a %Y' model/config.json model/README.md model/sub)"

run "$gauss" decompress model.gz1 restored
check tree-decompress test $rc -eq 0
if [ "$(tree_list restored)" = "$(tree_list model)" ]; then
	ok tree-restored-identical
else
	bad tree-restored-identical "$(diff <(tree_list model) <(tree_list restored) | head -n 6 | tr '\n' ' ')"
fi
check tree-restored-links-are-files test -f restored/linked.safetensors -a ! -L restored/linked.safetensors
check tree-decompress-summary grep -q "^model.gz1 -> restored: $outb -> $inb bytes ([0-9.]*%), .*, 11 files\$" err
run "$gauss" decompress -v model.gz1 restored-v
check tree-verbose-per-file test "$(grep -c ' -> ' err)" -eq 12

# default names: MODEL -> MODEL.gauss, X.gauss -> X
cp -r model m2
run "$gauss" compress -q m2/
check tree-default-name test $rc -eq 0 -a -d m2.gauss
run "$gauss" decompress m2.gauss
check tree-default-name-exists test $rc -eq 1
run "$gauss" decompress -o m2-back m2.gauss
check tree-decompress-with-o test "$(tree_list m2-back)" = "$(tree_list m2)"
run "$gauss" compress -c model
check tree-stdout-refused test $rc -eq 1 -a ! -s out

# --- existing outputs -----------------------------------------------------
snapshot() { tree_list "$1"; }
mkdir out-exists && printf 'keep\n' >out-exists/old.txt
before=$(snapshot out-exists)
run "$gauss" compress model out-exists
if [ $rc -eq 1 ] && grep -q "already exists (use -f to replace it)" err &&
	[ "$(snapshot out-exists)" = "$before" ] && [ -z "$(temps)" ]; then
	ok tree-output-exists-refused
else
	bad tree-output-exists-refused "exit $rc: $(errtxt)"
fi
run "$gauss" compress -f model out-exists
if [ $rc -eq 0 ] && [ ! -e out-exists/old.txt ] &&
	[ "$(snapshot out-exists)" = "$(snapshot model.gz1)" ] && [ -z "$(temps)" ]; then
	ok tree-force-replaces
else
	bad tree-force-replaces "exit $rc: $(errtxt)"
fi
cp -r model other-model
before=$(snapshot other-model)
run "$gauss" compress -f model other-model
if [ $rc -eq 1 ] && grep -q "holds .safetensors files; not replaced, even with -f" err &&
	[ "$(snapshot other-model)" = "$before" ]; then
	ok tree-force-keeps-a-model
else
	bad tree-force-keeps-a-model "exit $rc: $(errtxt)"
fi
run "$gauss" decompress -f model.gz1 m2.gauss
check tree-force-keeps-an-archive test $rc -eq 1 -a -e m2.gauss/model-00001-of-00002.safetensors.gauss
printf 'x\n' >out-file
run "$gauss" compress -f model out-file
check tree-force-output-is-file test $rc -eq 1 -a "$(cat out-file)" = x

# --- refused trees: exit 1, message naming the culprit, nothing written ---
# refused NAME PATTERN MAKE-COMMAND: makes a copy of the model, changes it
# with MAKE-COMMAND (run inside it), and compresses it
n=0
refused() {
	local name=$1 pat=$2 dir
	n=$((n + 1))
	dir=bad$n
	cp -r model "$dir"
	(cd "$dir" && eval "$3")
	run "$gauss" compress "$dir" "$dir.out"
	if [ $rc -ne 1 ]; then
		bad "$name" "exit $rc: $(errtxt)"
	elif ! grep -Eq "^gauss: cannot compress '$dir[^']*': .*($pat)" err; then
		bad "$name" "message: $(errtxt)"
	elif [ -e "$dir.out" ] || [ -n "$(temps)" ]; then
		bad "$name" "something was left: $(ls -d "$dir.out" 2>/dev/null) $(temps)"
	else
		ok "$name"
	fi
}
refused tree-link-to-directory 'symbolic link to a directory' 'ln -s sub dirlink'
refused tree-dangling-link 'symbolic link to nothing' 'ln -s nowhere dangling'
refused tree-fifo 'not a regular file' 'mkfifo sub/fifo'
refused tree-gauss-file-inside 'already a .gauss file' 'cp ../model.gz1/model-00001-of-00002.safetensors.gauss sub/'
refused tree-bad-safetensors 'truncated|size|end' 'head -c 100 model-00001-of-00002.safetensors >sub/deeper/bad.safetensors'
refused tree-no-safetensors 'no .safetensors file' 'find . -name "*.safetensors" -delete'
if [ "$(id -u)" -ne 0 ]; then
	refused tree-unreadable-file 'Permission denied' 'chmod 000 README.md'
fi
run "$gauss" compress model model/inner
check tree-output-inside-input test $rc -eq 1 -a ! -e model/inner
run "$gauss" compress -f model model
check tree-output-is-input test $rc -eq 1 -a "$(tree_list model)" = "$(tree_list restored)"
run "$gauss" compress -f model/sub model
check tree-input-inside-output test $rc -eq 1 -a "$(tree_list model)" = "$(tree_list restored)"
run "$gauss" decompress -f model.gz1 model.gz1/x
check tree-decompress-output-inside-input test $rc -eq 1 -a ! -e model.gz1/x

# --- interrupted ----------------------------------------------------------
mkdir slow
for i in 1 2 3; do
	python3 - "slow/w$i.safetensors" <<'PY'
import json, random, struct, sys
rng = random.Random(7)
n = 8 * 1024 * 1024
hi = bytes(range(0x3a, 0x3f)) + bytes(range(0xba, 0xbf))
b = bytearray(2 * n)
b[0::2] = rng.randbytes(n)
b[1::2] = rng.randbytes(n).translate(bytes(hi[i % len(hi)] for i in range(256)))
h = json.dumps({"w": {"dtype": "BF16", "shape": [n], "data_offsets": [0, 2 * n]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + b)
PY
done
for sig in INT TERM; do
	"$gauss" compress -q -T 1 slow slow.out 2>err &
	pid=$!
	# wait until the temporary tree holds a finished file
	for _ in $(seq 1 500); do
		[ -n "$(find . -maxdepth 2 -path './.slow.out.gauss-tmp-*/w1.safetensors.gauss')" ] && break
		sleep 0.01
	done
	kill -s "$sig" "$pid"
	wait "$pid"
	rc=$?
	want=$((128 + $(kill -l "$sig")))
	if [ $rc -eq $want ] && [ ! -e slow.out ] && [ -z "$(temps)" ]; then
		ok "tree-interrupted-by-SIG$sig"
	else
		bad "tree-interrupted-by-SIG$sig" "exit $rc (wanted $want), left: $(ls -d slow.out 2>/dev/null) $(temps)"
	fi
done

check no-temporary-files test -z "$(temps)"
finish
