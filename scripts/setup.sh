#!/usr/bin/env bash
# Installs every Debian package that celltrace's build and tests need.
# Idempotent: a machine that already has them only pays for the check.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang
      libsqlite3-dev sqlite3 libsodium-dev zlib1g-dev libzstd-dev zstd
      libcmocka-dev libjansson-dev libclang-rt-14-dev valgrind
      kannel kannel-extras libmicrohttpd-dev libcurl4-openssl-dev tzdata curl openssl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}"
fi
