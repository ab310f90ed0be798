#!/usr/bin/env bash
# Installs oneDNN (Debian's libdnnl2), which the wasm backend uses for its convolutions through
# Deno's FFI (lib/kernels/onednn.ts); the oneDNN tests need it. Idempotent; run as root or with sudo.
set -euo pipefail

if ldconfig -p | grep -q 'libdnnl\.so\.2 '; then
  echo "oneDNN: present"
  exit 0
fi
source "$(dirname "$0")/apt_install.sh"
apt_install native.sh --no-install-recommends libdnnl2
ldconfig -p | grep -q 'libdnnl\.so\.2 ' || { echo "native.sh: libdnnl.so.2 still missing" >&2; exit 1; }
echo "oneDNN: installed ($(dpkg-query -W -f='${Version}' libdnnl2))"
