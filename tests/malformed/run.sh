#!/bin/sh
# SPDX-License-Identifier: MIT
# Malformed safetensors (issue 5): every file listed in cases.tsv must be
# refused by `gauss compress` with exit 1 and the message
#   gauss: cannot compress 'FILE': REASON...
# leaving nothing behind (no output, no temporary file) and the input
# unchanged; the same file on standard input gives exit 1 and the same
# reason. Each file is also refused by `gauss compress -c` with nothing on
# standard output.
#
# usage: run.sh GAUSS CASES_DIR
set -u
gauss=$1
dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
count=0

bad() {
	echo "FAIL $name: $*"
	fails=$((fails + 1))
}

tab=$(printf '\t')
while IFS="$tab" read -r name reason; do
	case $name in '#'*|'') continue ;; esac
	count=$((count + 1))
	rm -rf "$work/d"
	mkdir "$work/d"
	cp "$dir/$name" "$work/d/$name"
	in="$work/d/$name"

	# file to file
	"$gauss" compress "$in" "$work/d/out.gauss" 2>"$work/err"
	rc=$?
	[ $rc -eq 1 ] || bad "exit $rc, not 1"
	want="gauss: cannot compress '$in': $reason"
	case $(head -n 1 "$work/err") in
	"$want"*) ;;
	*) bad "message '$(head -n 1 "$work/err")', wanted '$want...'" ;;
	esac
	[ "$(wc -l <"$work/err")" -eq 1 ] || bad "more than one line on stderr"
	left=$(ls -A "$work/d")
	[ "$left" = "$name" ] || bad "left behind: $(echo "$left" | tr '\n' ' ')"
	cmp -s "$dir/$name" "$in" || bad "input changed"

	# standard input to standard output
	"$gauss" compress - - <"$in" >"$work/stdout" 2>"$work/err"
	rc=$?
	[ $rc -eq 1 ] || bad "stdin: exit $rc, not 1"
	want="gauss: cannot compress 'standard input': $reason"
	case $(head -n 1 "$work/err") in
	"$want"*) ;;
	*) bad "stdin: message '$(head -n 1 "$work/err")', wanted '$want...'" ;;
	esac

	# -c: refused before anything reaches standard output
	"$gauss" compress -c "$in" >"$work/stdout" 2>/dev/null
	rc=$?
	[ $rc -eq 1 ] || bad "-c: exit $rc, not 1"
	[ -s "$work/stdout" ] && bad "-c: $(wc -c <"$work/stdout") bytes written"
done <"$dir/cases.tsv"

echo "$count malformed files, $fails failures"
[ "$count" -ge 30 ] || { echo "FAIL: fewer than 30 cases"; exit 1; }
[ "$fails" -eq 0 ]
