#!/usr/bin/env bash
# Sets up Jupyter for the notebook tests (tests/notebooks/kernel_test.ts), idempotently:
#   - Debian's jupyter_client (python3-jupyter-client), the only Python module the runner
#     scripts/run_notebooks.py needs, with the `jupyter` CLI (jupyter-client, jupyter-core);
#     ipykernel is not needed: the kernel is Deno's;
#   - the Deno kernelspec (`deno jupyter --install`, for the deno on PATH).
# Run as root (or with sudo available) on Debian 12 or later. Prints one line per step.
set -euo pipefail
cd "$(dirname "$0")/.."

python=/usr/bin/python3 # Debian's python: apt installs its modules there, not into pyenv/venvs
packages=(python3-jupyter-client jupyter-client jupyter-core)

has_client() { "$python" -c 'import jupyter_client' >/dev/null 2>&1; }

if has_client; then
  echo "jupyter_client: present ($("$python" -c 'import jupyter_client; print(jupyter_client.__version__)'))"
else
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "jupyter.sh: need root or sudo to apt-get install ${packages[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Try with the current package lists first; refresh them only when that fails (fresh images).
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  fi
  has_client || { echo "jupyter.sh: jupyter_client still missing after apt-get install" >&2; exit 1; }
  echo "jupyter_client: installed ${packages[*]}"
fi

# --force rewrites an existing kernelspec, so it always points at the current deno binary.
deno jupyter --install --force >/dev/null 2>&1 || deno jupyter --install --force
"$python" - <<'PY'
from jupyter_client.kernelspec import KernelSpecManager
spec = KernelSpecManager().get_kernel_spec("deno")
print(f"deno kernelspec: {spec.resource_dir} -> {spec.argv[0]}")
PY
