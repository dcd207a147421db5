#!/bin/sh
# SPDX-License-Identifier: MIT
# Set up, build, and run every test: a release build; a build with
# AddressSanitizer and UndefinedBehaviorSanitizer; a build with
# ThreadSanitizer for the threaded tests; a build without the AVX2 and
# AVX-512 kernels (warnings are errors in all). The round trip of the whole
# corpus runs when ../shared/corpus is there.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build -Dwerror=true
meson test -C build --print-errorlogs
scripts/build.sh build-san -Dwerror=true -Dbuildtype=debug \
	-Db_sanitize=address,undefined -Db_lundef=false
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
ASAN_OPTIONS=detect_leaks=1 \
	meson test -C build-san --print-errorlogs
scripts/build.sh build-tsan -Dwerror=true -Dbuildtype=debugoptimized \
	-Db_sanitize=thread -Dbenchmarks=false
TSAN_OPTIONS=halt_on_error=1 \
	meson test -C build-tsan --print-errorlogs roundtrip corruption io pool
scripts/build.sh build-nosimd -Dwerror=true -Dsimd=disabled \
	-Dbenchmarks=false
meson test -C build-nosimd --print-errorlogs
