#!/usr/bin/env bash
# Installs oneDNN (Debian's libdnnl2), which the wasm backend uses for its convolutions through
# Deno's FFI (lib/kernels/onednn.ts); the oneDNN tests need it. Idempotent; run as root or with sudo.
set -euo pipefail

if ldconfig -p | grep -q 'libdnnl\.so\.2 '; then
  echo "oneDNN: present"
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "native.sh: need root or sudo to apt-get install libdnnl2" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends libdnnl2 >/dev/null 2>&1; then
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends libdnnl2 >/dev/null
fi
ldconfig -p | grep -q 'libdnnl\.so\.2 ' || { echo "native.sh: libdnnl.so.2 still missing" >&2; exit 1; }
echo "oneDNN: installed ($(dpkg-query -W -f='${Version}' libdnnl2))"
