#!/bin/bash
# SPDX-License-Identifier: MIT
# man/gauss.1 (suite 'cli'): renders without a warning, and documents every
# option the command's --help lists and every environment variable the
# sources read.
# usage: tests/cli/man.sh PATH_TO_GAUSS SAMPLE.safetensors MAN_PAGE SRC_DIR
NAME=man
. "$(dirname "$0")/lib.sh"
man=$(realpath "$3") || exit 2
src=$(realpath "$4") || exit 2

if command -v groff >/dev/null; then
	warnings=$(groff -ww -z -t -man "$man" 2>&1)
	check groff-silent test -z "$warnings"
else
	echo "ok groff-silent # SKIP groff not installed"
fi
run "$gauss" --help
check help test $rc -eq 0 -a -s out
missing=""
# the page writes every hyphen of an option as \-
sed 's/\\-/-/g' "$man" >man.txt
for opt in $(grep -o -- '--[a-zA-Z][a-z-]*' out | sort -u); do
	grep -q -- "^\.B.*${opt}\\b" man.txt || missing="$missing $opt"
done
check every-long-option-documented test -z "$missing"
[ -z "$missing" ] || echo "# undocumented:$missing"
missing=""
for v in $(grep -rhoE 'getenv\("[A-Z_]+"\)' "$src" | sed 's/getenv("//; s/")//' | sort -u); do
	grep -q "^\.B $v\$" "$man" || missing="$missing $v"
done
check every-environment-variable-documented test -z "$missing"
[ -z "$missing" ] || echo "# undocumented:$missing"
for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT EXAMPLES "SEE ALSO" "MODEL DIRECTORIES" "JSON OUTPUT"; do
	check "section-$s" grep -q "^\.SH \"*$s\"*\$" "$man"
done
finish
