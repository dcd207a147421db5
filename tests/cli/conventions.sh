#!/bin/bash
# SPDX-License-Identifier: MIT
# CLI conventions of zstd/xz (suite 'cli'): default output names, -o,
# -c, -k/--rm, "--", several inputs, the two-operand rule of gauss(1)
# OPERANDS, and every refusal: exit status, message, nothing written,
# input unchanged.
# usage: tests/cli/conventions.sh PATH_TO_GAUSS SAMPLE.safetensors
NAME=conventions
. "$(dirname "$0")/lib.sh"

cp "$sample" s.safetensors && chmod u+w s.safetensors || exit 2
mkst a.safetensors 1
mkst b.safetensors 2
mkst c.safetensors 3
for f in s a b c; do
	"$gauss" compress -q "$f.safetensors" "ref-$f.gauss" || exit 2
	cp "$f.safetensors" "orig-$f.safetensors"
done
# snapshot: names, sizes and contents of the directory, for "nothing
# written" checks
snap() { find . -maxdepth 2 -type f ! -name out ! -name err -printf '%p %s %m\n' | sort; md5sum ./*.safetensors ./*.gauss 2>/dev/null; }

# --- default names --------------------------------------------------------
run "$gauss" compress a.safetensors
check default-compress-name test $rc -eq 0 -a -s a.safetensors.gauss -a ! -s out
check default-compress-bytes cmp -s a.safetensors.gauss ref-a.gauss
check default-keeps-input cmp -s a.safetensors orig-a.safetensors
check default-compress-summary grep -q '^a.safetensors -> a.safetensors.gauss: [0-9]* -> [0-9]* bytes' err
mkdir d
mv a.safetensors.gauss d/
run "$gauss" decompress d/a.safetensors.gauss
check default-decompress-name cmp -s d/a.safetensors orig-a.safetensors
check default-decompress-keeps-input test -s d/a.safetensors.gauss
# a name without .gauss: refused without -o, nothing written
cp ref-a.gauss d/a.bin
before=$(snap)
run "$gauss" decompress d/a.bin
if [ $rc -eq 1 ] && grep -q "^gauss: cannot decompress 'd/a.bin': name does not end in .gauss (give the output with -o)" err &&
	[ "$(snap)" = "$before" ] && [ -z "$(temps)" ]; then
	ok decompress-no-suffix-refused
else
	bad decompress-no-suffix-refused "exit $rc: $(errtxt)"
fi
run "$gauss" decompress d/.gauss
check decompress-only-suffix-refused test $rc -eq 1 -a ! -e d/.gauss
run "$gauss" decompress -o d/a.restored d/a.bin
check decompress-no-suffix-with-o cmp -s d/a.restored orig-a.safetensors
# the standard input goes to the standard output by default
"$gauss" compress -q - <b.safetensors >b-stdin.gauss 2>err; rc=$?
check default-stdin-to-stdout cmp -s b-stdin.gauss ref-b.gauss

# --- -o -------------------------------------------------------------------
run "$gauss" compress -o o1.gauss a.safetensors
check o-short cmp -s o1.gauss ref-a.gauss
run "$gauss" compress --output=o2.gauss a.safetensors
check o-long cmp -s o2.gauss ref-a.gauss
run "$gauss" compress a.safetensors -o o3.gauss
check o-after-operand cmp -s o3.gauss ref-a.gauss
run "$gauss" decompress -o o3.safetensors o3.gauss
check o-decompress cmp -s o3.safetensors orig-a.safetensors
"$gauss" compress -q -o - a.safetensors >o4.gauss 2>err; rc=$?
check o-dash-is-stdout cmp -s o4.gauss ref-a.gauss
before=$(snap)
run "$gauss" compress -o o5.gauss a.safetensors b.safetensors
check o-several-inputs-usage test $rc -eq 2 -a ! -e o5.gauss -a "$(snap)" = "$before"
run "$gauss" compress -o o1.gauss a.safetensors
check o-exists-refused test $rc -eq 1 -a "$(grep -c 'already exists' err)" -eq 1
check o-exists-unchanged cmp -s o1.gauss ref-a.gauss

# --- several inputs -------------------------------------------------------
mkdir many && cp a.safetensors b.safetensors c.safetensors many/
run "$gauss" compress many/a.safetensors many/b.safetensors many/c.safetensors
same=1
for f in a b c; do cmp -s "many/$f.safetensors.gauss" "ref-$f.gauss" || same=0; done
check several-inputs test $rc -eq 0 -a $same -eq 1
check several-inputs-total grep -q '^total (3 of 3 inputs, 3 files): [0-9]* -> [0-9]* bytes' err
rm many/*.safetensors
run "$gauss" decompress -q many/a.safetensors.gauss many/b.safetensors.gauss many/c.safetensors.gauss
same=1
for f in a b c; do cmp -s "many/$f.safetensors" "orig-$f.safetensors" || same=0; done
check several-inputs-decompress test $rc -eq 0 -a $same -eq 1 -a ! -s err
# a failure on one is reported, the others still run, exit 1
mkdir part && cp a.safetensors c.safetensors part/
run "$gauss" compress part/a.safetensors part/missing.safetensors part/c.safetensors
if [ $rc -eq 1 ] && grep -q "^gauss: cannot compress 'part/missing.safetensors': " err &&
	cmp -s part/a.safetensors.gauss ref-a.gauss && cmp -s part/c.safetensors.gauss ref-c.gauss &&
	[ ! -e part/missing.safetensors.gauss ] && grep -q '^total (2 of 3 inputs' err; then
	ok several-inputs-one-fails
else
	bad several-inputs-one-fails "exit $rc: $(errtxt)"
fi

# --- the two-operand rule -------------------------------------------------
mkdir two && cp a.safetensors b.safetensors two/
run "$gauss" compress two/a.safetensors two/b.safetensors
if [ $rc -eq 0 ] && cmp -s two/a.safetensors.gauss ref-a.gauss &&
	cmp -s two/b.safetensors.gauss ref-b.gauss && cmp -s two/b.safetensors b.safetensors; then
	ok two-safetensors-are-inputs
else
	bad two-safetensors-are-inputs "exit $rc: $(errtxt)"
fi
rm two/*.safetensors
run "$gauss" decompress two/a.safetensors.gauss two/b.safetensors.gauss
check two-gauss-are-inputs cmp -s two/b.safetensors orig-b.safetensors
run "$gauss" compress a.safetensors two/plain-name
check two-second-is-output cmp -s two/plain-name ref-a.gauss
run "$gauss" decompress two/plain-name two/plain.out
check two-second-is-output-decompress cmp -s two/plain.out orig-a.safetensors
"$gauss" compress -q - - <a.safetensors >two/dash.gauss 2>err; rc=$?
check two-dashes-are-a-pipe cmp -s two/dash.gauss ref-a.gauss

# --- dangerous cases ------------------------------------------------------
before=$(snap)
run "$gauss" compress a.safetensors ./a.safetensors
if [ $rc -eq 1 ] && grep -q "given twice" err && [ "$(snap)" = "$before" ]; then
	ok input-given-twice
else
	bad input-given-twice "exit $rc: $(errtxt)"
fi
ln -s a.safetensors alias.safetensors
before=$(snap)
run "$gauss" compress -f b.safetensors a.safetensors alias.safetensors
check input-given-twice-by-link test $rc -eq 1 -a ! -e b.safetensors.gauss -a "$(snap)" = "$before"
cp ref-b.gauss b.safetensors.gauss
before=$(snap)
run "$gauss" compress -f a.safetensors b.safetensors b.safetensors.gauss
if [ $rc -eq 1 ] && grep -q "output 'b.safetensors.gauss' is also an input" err &&
	[ "$(snap)" = "$before" ] && [ ! -e a.safetensors.gauss ]; then
	ok output-is-another-input
else
	bad output-is-another-input "exit $rc: $(errtxt)"
fi
rm b.safetensors.gauss
# -f never replaces a file of the kind the command reads
cp b.safetensors model.bin
run "$gauss" compress -f a.safetensors model.bin
if [ $rc -eq 1 ] && grep -q "output 'model.bin' is a safetensors file; not replaced, even with -f" err &&
	cmp -s model.bin b.safetensors && [ -z "$(temps)" ]; then
	ok force-keeps-safetensors-output
else
	bad force-keeps-safetensors-output "exit $rc: $(errtxt)"
fi
cp ref-b.gauss archive.bak
run "$gauss" decompress -f ref-a.gauss archive.bak
if [ $rc -eq 1 ] && grep -q "is a .gauss file; not replaced" err && cmp -s archive.bak ref-b.gauss; then
	ok force-keeps-gauss-output
else
	bad force-keeps-gauss-output "exit $rc: $(errtxt)"
fi
printf 'old\n' >plain.out
run "$gauss" compress -f a.safetensors plain.out
check force-replaces-other-file cmp -s plain.out ref-a.gauss

# --- "--" -----------------------------------------------------------------
cp a.safetensors ./-x.safetensors
run "$gauss" compress -q -- -x.safetensors
check double-dash-default-name cmp -s ./-x.safetensors.gauss ref-a.gauss
run "$gauss" compress -q -x.safetensors
check dash-name-without-double-dash test $rc -eq 2

# --- -k and --rm ----------------------------------------------------------
mkdir rm && cp a.safetensors b.safetensors rm/
chmod 640 rm/a.safetensors
touch -d '2001-02-03 04:05:06' rm/a.safetensors
mtime=$(stat -c %Y rm/a.safetensors)
run "$gauss" compress --rm rm/a.safetensors
if [ $rc -eq 0 ] && [ ! -e rm/a.safetensors ] && cmp -s rm/a.safetensors.gauss ref-a.gauss; then
	ok rm-compress
else
	bad rm-compress "exit $rc: $(errtxt)"
fi
check keeps-mode-and-mtime test "$(stat -c '%a %Y' rm/a.safetensors.gauss)" = "640 $mtime"
run "$gauss" decompress --rm rm/a.safetensors.gauss
if [ $rc -eq 0 ] && [ ! -e rm/a.safetensors.gauss ] && cmp -s rm/a.safetensors orig-a.safetensors &&
	[ "$(stat -c '%a %Y' rm/a.safetensors)" = "640 $mtime" ]; then
	ok rm-decompress-mode-mtime
else
	bad rm-decompress-mode-mtime "exit $rc: $(errtxt) $(stat -c '%a %Y' rm/a.safetensors 2>&1)"
fi
run "$gauss" compress --rm -k rm/b.safetensors
check keep-cancels-rm test $rc -eq 0 -a -e rm/b.safetensors -a -e rm/b.safetensors.gauss
run "$gauss" compress -k rm/b.safetensors -o rm/b2.gauss
check keep-flag test $rc -eq 0 -a -e rm/b.safetensors
# --rm keeps the input when anything failed
run "$gauss" compress --rm rm/b.safetensors
if [ $rc -eq 1 ] && grep -q 'already exists' err && cmp -s rm/b.safetensors b.safetensors; then
	ok rm-output-exists-keeps-input
else
	bad rm-output-exists-keeps-input "exit $rc: $(errtxt)"
fi
head -c 3000 a.safetensors >rm/trunc.safetensors
cp rm/trunc.safetensors trunc.orig
run "$gauss" compress --rm rm/trunc.safetensors
if [ $rc -eq 1 ] && cmp -s rm/trunc.safetensors trunc.orig && [ ! -e rm/trunc.safetensors.gauss ]; then
	ok rm-bad-input-kept
else
	bad rm-bad-input-kept "exit $rc: $(errtxt)"
fi
cp ref-a.gauss rm/flip.gauss
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 1
open(sys.argv[1], "wb").write(b)' rm/flip.gauss
cp rm/flip.gauss flip.orig
run "$gauss" decompress --rm rm/flip.gauss
if [ $rc -eq 1 ] && cmp -s rm/flip.gauss flip.orig && [ ! -e rm/flip ]; then
	ok rm-damaged-archive-kept
else
	bad rm-damaged-archive-kept "exit $rc: $(errtxt)"
fi
mkdir rm/dir && cp a.safetensors rm/dir/
run "$gauss" compress --rm rm/dir rm/dir.gauss
if [ $rc -eq 1 ] && grep -q -- '--rm does not remove directories' err && [ ! -e rm/dir.gauss ] &&
	cmp -s rm/dir/a.safetensors a.safetensors; then
	ok rm-directory-refused
else
	bad rm-directory-refused "exit $rc: $(errtxt)"
fi
# several inputs with --rm: the one that fails is kept, the others go
mkdir rm2 && cp a.safetensors c.safetensors rm2/ && cp trunc.orig rm2/t.safetensors
run "$gauss" compress -q --rm rm2/a.safetensors rm2/t.safetensors rm2/c.safetensors
if [ $rc -eq 1 ] && [ "$(cd rm2 && echo *)" = "a.safetensors.gauss c.safetensors.gauss t.safetensors" ]; then
	ok rm-several-one-fails
else
	bad rm-several-one-fails "exit $rc: $(cd rm2 && echo *): $(errtxt)"
fi

check no-temporary-files test -z "$(temps)"
finish
