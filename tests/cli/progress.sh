#!/bin/bash
# SPDX-License-Identifier: MIT
# The progress line (suite 'cli'): under a pseudo-terminal made by
# script(1), compress and decompress redraw one line on standard error
# with \r and an erase to the end of the line, then print the summary;
# nothing of it when standard error is a file, or with -q.
# usage: tests/cli/progress.sh PATH_TO_GAUSS SAMPLE.safetensors
NAME=progress
. "$(dirname "$0")/lib.sh"

if ! command -v script >/dev/null || ! script -qec true /dev/null >/dev/null 2>&1; then
	echo "# script(1) cannot make a pseudo-terminal here: skipped"
	exit 77
fi
# ontty FILE COMMAND: runs COMMAND (a shell string) with its standard
# streams on a new pseudo-terminal; what it writes there goes to FILE
ontty() {
	script -qec "$2" /dev/null >"$1" </dev/null
	rc=$?
}
has_cr() { grep -q $'\r\033\\[K' "$1"; }

# 25 MB of BF16 in 4 MiB blocks, so that the library reports progress
# while it works
python3 - big.safetensors <<'PY'
import json, random, struct, sys
rng = random.Random(5)
n = 12 * 1024 * 1024
hi = bytes(range(0x3a, 0x3f)) + bytes(range(0xba, 0xbf))
b = bytearray(2 * n)
b[0::2] = rng.randbytes(n)
b[1::2] = rng.randbytes(n).translate(bytes(hi[i % len(hi)] for i in range(256)))
h = json.dumps({"w": {"dtype": "BF16", "shape": [n], "data_offsets": [0, 2 * n]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + b)
PY
size=$(stat -c %s big.safetensors)

ontty tty1 "'$gauss' compress -T 1 big.safetensors big.gauss"
check tty-compress-ok test $rc -eq 0 -a -s big.gauss
check tty-progress-line has_cr tty1
# "big.safetensors  DONE / 25.2 MB" with some bytes done, drawn before the end
check tty-progress-bytes grep -aq 'big\.safetensors  [0-9.]* [kMG]*B / 25\.2 MB' tty1
check tty-progress-moves grep -aEq 'big\.safetensors  [1-9][0-9.]* [kMG]B / 25\.2 MB +[0-9]+%  [0-9.]+ MB/s  ratio [0-9.]+%' tty1
# the line is erased before the summary, which ends the output
check tty-summary-after-erase grep -aq $'\r\033\\[Kbig.safetensors -> big.gauss: '"$size"' -> [0-9]* bytes' tty1
check tty-ends-with-summary test "$(tail -c 2 tty1 | od -An -c | tr -d ' ')" = '\r\n'

ontty tty2 "'$gauss' decompress -T 1 big.gauss big.out"
check tty-decompress-ok cmp -s big.out big.safetensors
check tty-decompress-progress grep -aq $'\r\033\\[Kbig.gauss  [0-9.]* [kMG]*B / ' tty2

ontty tty3 "'$gauss' compress -q -f big.safetensors big.gauss"
check tty-quiet-silent test $rc -eq 0 -a ! -s tty3

ontty tty4 "'$gauss' compress -f big.safetensors big.gauss 2>stderr.txt"
if [ $rc -eq 0 ] && ! grep -q $'\r' stderr.txt && ! grep -q $'\033' stderr.txt &&
	grep -q "^big.safetensors -> big.gauss: $size -> " stderr.txt && [ ! -s tty4 ]; then
	ok stderr-file-no-progress
else
	bad stderr-file-no-progress "exit $rc: $(od -c stderr.txt | head -n 3 | tr '\n' ' ')"
fi
# not a terminal at all: the same
run "$gauss" compress -f big.safetensors big.gauss
check no-tty-no-progress test $rc -eq 0 -a "$(grep -c $'\r' err)" -eq 0

# several inputs: the line counts them and shows the total of all
mkst a.safetensors 1
mkst b.safetensors 2
ontty tty5 "'$gauss' compress a.safetensors b.safetensors"
check tty-several-counted grep -aq $'\r\033\\[K\\[2/2\\] b.safetensors' tty5
check tty-several-total grep -aq '^total (2 of 2 inputs, 2 files): ' tty5

# a model directory: its files counted, one line for the whole
mkdir model model/sub
cp big.safetensors model/
cp a.safetensors model/sub/
printf '{}\n' >model/config.json
ontty tty6 "'$gauss' compress model model.gauss"
check tty-tree-counted grep -aq $'\r\033\\[K\\[1/3\\] model/big.safetensors  [0-9.]* [kMG]*B / 25\\.2 MB' tty6
check tty-tree-summary grep -aq $'\r\033\\[Kmodel -> model.gauss: [0-9]* -> [0-9]* bytes .*, 3 files' tty6

finish
