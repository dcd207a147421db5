#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what building and testing gauss needs on Debian 12, if missing.
set -eu
pkgs="meson ninja-build pkg-config gcc libc6-dev liburing-dev libxxhash-dev
libjansson-dev libcmocka-dev libhtscodecs-dev libzstd-dev python3 zstd groff-base
bsdutils"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
else
	sudo="sudo"
fi
echo "installing:$missing" >&2
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
