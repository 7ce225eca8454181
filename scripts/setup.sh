#!/usr/bin/env bash
# Installs every Debian package that celltrace's build and tests need.
# Idempotent: a machine that already has them only pays for the check.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang
      libsqlite3-dev sqlite3 libsodium-dev zlib1g-dev libzstd-dev zstd
      libcmocka-dev libjansson-dev libclang-rt-14-dev valgrind
      kannel kannel-extras libmicrohttpd-dev libcurl4-openssl-dev tzdata curl openssl
      git dpkg-dev debhelper fakeroot mmdebstrap openmpi-bin libopenmpi-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "$@"
}
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"

# The web page of `celltrace serve` (docs/WEB.md): Leaflet and uPlot from
# npm, pinned by web/package-lock.json, built into web/dist, which the
# build embeds in the binary; playwright-core drives Debian's chromium in
# the browser tests (no browser is downloaded). Node.js: the machine's, or
# Debian's nodejs and npm when there is none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed' || apt_install chromium
web=$(cd "$(dirname "$0")/../web" && pwd)
if [ ! -f "$web/node_modules/.package-lock.json" ] ||
   [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi
node "$web/build.mjs"
