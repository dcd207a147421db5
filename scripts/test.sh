#!/bin/sh
# SPDX-License-Identifier: MIT
# Set up, build, and run every test: a release build, then a build with
# AddressSanitizer and UndefinedBehaviorSanitizer (warnings are errors in
# both). The round trip of the whole corpus runs when ../shared/corpus
# is there.
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
