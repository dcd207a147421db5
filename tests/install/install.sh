#!/bin/sh
# SPDX-License-Identifier: MIT
# Install test (suite 'install'): `meson install --destdir` into a temporary
# directory, then, as a user of the installed files would:
# - every file is there: the command, gauss.h, libgauss.so*, libgauss.a,
#   gauss.pc, gauss(1), gauss(5), and a section-3 page for every GAUSS_API
#   function of the installed gauss.h, whose SYNOPSIS shows its prototype;
# - example.c builds with `cc $(pkg-config --cflags --libs gauss)` against
#   the shared library and runs, and again with `pkg-config --static` against
#   the static archive alone (no libgauss.so needed at run time);
# - the shared library exports the GAUSS_API functions and nothing else;
# - every section-3 page renders with `groff -ww -z -t -man` silently.
# Each check prints "ok NAME" or "FAIL NAME: detail"; exits 1 if any failed,
# 77 (skip) when cc or pkg-config is missing. The real system is not touched.
#
# Run by meson (tests/install/meson.build), which sets MESON, BUILD_ROOT,
# EXAMPLE, PREFIX, BINDIR, LIBDIR, INCLUDEDIR, MANDIR, SANITIZE, HAVE_URING.
set -u

for tool in cc pkg-config; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "skip: $tool not found"
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gauss-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

nfail=0
ok() { echo "ok $1"; }
bad() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }

# where DIR: an installed directory (meson's options are relative to the
# prefix unless absolute)
where() {
	case $1 in
	/*) echo "$dest$1" ;;
	*) echo "$dest$PREFIX/$1" ;;
	esac
}
bin=$(where "$BINDIR")
lib=$(where "$LIBDIR")
inc=$(where "$INCLUDEDIR")
man=$(where "$MANDIR")

# The build is already up to date: meson test built it.
if ! "$MESON" install -C "$BUILD_ROOT" --destdir "$dest" --no-rebuild \
	--quiet >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	bad install "meson install failed"
	exit 1
fi
ok install

# ---- the installed files ----
for f in "$bin/gauss" "$inc/gauss.h" "$lib/libgauss.a" \
	"$lib/pkgconfig/gauss.pc" "$man/man1/gauss.1" "$man/man5/gauss.5"; do
	if [ -f "$f" ]; then
		ok "file ${f#"$dest"}"
	else
		bad file "${f#"$dest"} is not installed"
	fi
done
[ -x "$bin/gauss" ] || bad file "bin/gauss is not executable"
sos=""
for f in "$lib"/libgauss.so*; do
	[ -e "$f" ] && sos="$sos${f##*/} "
done
case $sos in
*libgauss.so\ *libgauss.so.[0-9]*) ok "file libgauss.so: $sos" ;;
*) bad file "libgauss.so and its versioned names: got '$sos'" ;;
esac
if "$bin/gauss" --version >"$tmp/out" 2>&1; then
	ok "gauss --version"
else
	bad "gauss --version" "$(cat "$tmp/out")"
fi

# The GAUSS_API functions of the installed header, and their prototypes
# (whitespace squeezed out, GAUSS_API dropped).
squeeze() {
	tr '\n\t' '  ' | sed -e 's/  */ /g' -e 's/ *\([(),;*]\) */\1/g' \
		-e 's/^ //' -e 's/ $//'
}
awk '/^GAUSS_API/ { on = 1 } on { print } on && /;/ { on = 0; print "@" }' \
	"$inc/gauss.h" | sed 's/^GAUSS_API //' | squeeze | tr '@' '\n' |
	sed -e 's/^ //' -e '/^$/d' >"$tmp/protos"
sed -n 's/^\([^(]*[ *]\)\(gauss_[a-z0-9_]*\)(.*/\2/p' "$tmp/protos" \
	>"$tmp/functions"
nfn=$(wc -l <"$tmp/functions")
if [ "$nfn" -ge 20 ] &&
	[ "$nfn" -eq "$(grep -c '^GAUSS_API' "$inc/gauss.h")" ]; then
	ok "gauss.h: $nfn functions"
else
	bad "gauss.h" "parsed $nfn functions of $(grep -c '^GAUSS_API' \
		"$inc/gauss.h") GAUSS_API declarations"
fi

# ---- section 3 ----
have_groff=1
command -v groff >/dev/null 2>&1 || have_groff=0
: >"$tmp/synopses"
pages=0
for page in "$man"/man3/*.3; do
	[ -f "$page" ] || continue
	[ -L "$page" ] && continue
	pages=$((pages + 1))
	[ "$have_groff" -eq 1 ] || continue
	out=$(groff -ww -z -t -man "$page" 2>&1)
	if [ -n "$out" ]; then
		bad "groff ${page##*/}" "$out"
	else
		ok "groff ${page##*/}"
	fi
	# the SYNOPSIS as a reader sees it
	groff -t -man -Tascii -P-cbu "$page" 2>/dev/null |
		awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
		squeeze >>"$tmp/synopses"
	echo >>"$tmp/synopses"
done
[ "$pages" -ge 5 ] || bad man3 "only $pages section-3 pages installed"
while read -r fn; do
	page=$man/man3/$fn.3
	if [ ! -f "$page" ]; then
		bad "man3 $fn" "no page $fn.3"
		continue
	fi
	if [ "$have_groff" -eq 1 ]; then
		proto=$(grep "[ *]$fn(" "$tmp/protos")
		if ! grep -qF -- "$proto" "$tmp/synopses"; then
			bad "man3 $fn" "no SYNOPSIS shows '$proto'"
			continue
		fi
	fi
	ok "man3 $fn"
done <"$tmp/functions"
if command -v man >/dev/null 2>&1; then
	# man finds a function's page by its name
	if MANPATH=$man man -w 3 gauss_reader_extract >"$tmp/out" 2>&1; then
		ok "man -w 3 gauss_reader_extract"
	else
		bad "man -w" "$(cat "$tmp/out")"
	fi
fi

# ---- gauss.pc ----
export PKG_CONFIG_PATH="$lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest"
want="libxxhash jansson"
[ "$HAVE_URING" = 1 ] && want="$want liburing"
reqs=$(pkg-config --print-requires-private gauss 2>&1 | tr '\n' ' ')
for r in $want; do
	case " $reqs " in
	*" $r "*) ok "gauss.pc requires $r" ;;
	*) bad "gauss.pc" "Requires.private lacks $r: '$reqs'" ;;
	esac
done
v=$(pkg-config --modversion gauss 2>&1)
if "$bin/gauss" --version 2>&1 | grep -qF "$v"; then
	ok "gauss.pc version $v"
else
	bad "gauss.pc" "version '$v' is not the command's"
fi

# ---- build and run example.c ----
san=""
[ -n "$SANITIZE" ] && san="-fsanitize=$SANITIZE"
cflags=$(pkg-config --cflags gauss) || bad pkg-config "--cflags failed"
libs=$(pkg-config --libs gauss) || bad pkg-config "--libs failed"
slibs=$(pkg-config --static --libs gauss) || bad pkg-config "--static failed"
case " $libs " in
*" -lgauss "*) ;;
*) bad "pkg-config --libs" "no -lgauss in '$libs'" ;;
esac
# Both libgauss.so and libgauss.a are in the same directory and the linker
# takes the shared one for -lgauss: ask it for the archive.
static_libs=$(echo "$slibs" | sed 's/\(^\| \)-lgauss\( \|$\)/ -Wl,-Bstatic -lgauss -Wl,-Bdynamic /')
std="-std=c11 -Wall -Wextra -Wpedantic -Werror"
mkdir "$tmp/run-shared" "$tmp/run-static"

# shellcheck disable=SC2086
if cc $std $san $cflags "$EXAMPLE" -o "$tmp/example-shared" $libs \
	>"$tmp/cc.log" 2>&1; then
	ok "cc \$(pkg-config --cflags --libs gauss)"
	if readelf -d "$tmp/example-shared" | grep -q 'NEEDED.*libgauss\.so'; then
		ok "example-shared needs libgauss.so"
	else
		bad "example-shared" "does not need libgauss.so"
	fi
	if LD_LIBRARY_PATH="$lib" "$tmp/example-shared" "$tmp/run-shared" \
		>"$tmp/run.log" 2>&1; then
		ok "example-shared runs"
		cat "$tmp/run.log"
	else
		bad "example-shared" "$(cat "$tmp/run.log")"
	fi
else
	bad "cc shared" "$(cat "$tmp/cc.log")"
fi

# shellcheck disable=SC2086
if cc $std $san $cflags "$EXAMPLE" -o "$tmp/example-static" $static_libs \
	>"$tmp/cc.log" 2>&1; then
	ok "cc \$(pkg-config --static --cflags --libs gauss)"
	if readelf -d "$tmp/example-static" | grep -q 'NEEDED.*libgauss'; then
		bad "example-static" "needs libgauss.so"
	else
		ok "example-static does not need libgauss.so"
	fi
	if "$tmp/example-static" "$tmp/run-static" >"$tmp/run.log" 2>&1; then
		ok "example-static runs"
	else
		bad "example-static" "$(cat "$tmp/run.log")"
	fi
else
	bad "cc static" "$(cat "$tmp/cc.log")"
fi

# ---- what the shared library exports ----
so=$(readlink -f "$lib/libgauss.so")
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' |
	grep -v '^_' | sort >"$tmp/exported"
sort "$tmp/functions" >"$tmp/declared"
if cmp -s "$tmp/exported" "$tmp/declared"; then
	ok "libgauss.so exports the $nfn GAUSS_API functions only"
else
	bad "exports" "$(diff "$tmp/declared" "$tmp/exported" | tr '\n' ' ')"
fi

if [ "$nfail" -ne 0 ]; then
	echo "$nfail failed"
	exit 1
fi
if [ "$have_groff" -eq 0 ]; then
	echo "skip: groff not found, section-3 pages not rendered"
	exit 77
fi
exit 0
