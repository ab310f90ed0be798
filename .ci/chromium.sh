#!/usr/bin/env bash
# Installs Debian's chromium, which the gallery test (tests/figures/gallery_test.ts) runs headless.
# Idempotent; run as root or with sudo.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium: present ($(chromium --version 2>/dev/null | head -n 1))"
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "chromium.sh: need root or sudo to apt-get install chromium" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y -qq chromium >/dev/null 2>&1; then
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq chromium >/dev/null
fi
command -v chromium >/dev/null 2>&1 || { echo "chromium.sh: chromium still missing" >&2; exit 1; }
echo "chromium: installed ($(chromium --version 2>/dev/null | head -n 1))"
