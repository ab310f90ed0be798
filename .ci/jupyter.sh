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
  source .ci/apt_install.sh
  apt_install jupyter.sh --no-install-recommends "${packages[@]}"
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
