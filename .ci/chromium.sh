#!/usr/bin/env bash
# Installs Debian's chromium, which the gallery test (tests/figures/gallery_test.ts) runs headless.
# Idempotent; run as root or with sudo.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium: present ($(chromium --version 2>/dev/null | head -n 1))"
  exit 0
fi
source "$(dirname "$0")/apt_install.sh"
apt_install chromium.sh chromium
command -v chromium >/dev/null 2>&1 || { echo "chromium.sh: chromium still missing" >&2; exit 1; }
echo "chromium: installed ($(chromium --version 2>/dev/null | head -n 1))"
