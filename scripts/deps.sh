#!/usr/bin/env bash
# Installs the Debian packages cmlx builds with, if any are missing.
# Sourced by run.sh and test.sh; safe to run repeatedly. With --fuzz, also
# what the libFuzzer build needs (scripts/fuzz.sh): clang and its runtime.
set -euo pipefail
pkgs=(cmake build-essential pkg-config libopenblas-dev libpcre2-dev)
if [ "${1:-}" = "--fuzz" ]; then pkgs+=(clang libclang-rt-14-dev); fi
need=()
for pkg in "${pkgs[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "Installing missing packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
