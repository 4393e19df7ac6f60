#!/usr/bin/env bash
# Make the interpreter that runs the py-irt peer of bench_core.py: a virtual environment at
# benchmarks/.venv-pyirt (git-ignored) that sees the main environment's packages but holds its
# own py-irt, CPU-only torch and the pandas<3 / rich<14 that py-irt pins, so that installing
# py-irt never downgrades anything bayesirt uses.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/.venv-pyirt}"
python="${PYTHON:-python}"

"$python" -m venv --system-site-packages "$venv"
# torch 2.13.0 is taken as the local CPU wheel where one is offered (find-links); the check
# below refuses a CUDA build.
"$venv/bin/python" -m pip install --disable-pip-version-check --only-binary=:all: \
    "py-irt==0.7.1" "torch==2.13.0"
"$venv/bin/python" - <<'PY'
import sys

import py_irt  # noqa: F401
import torch

if torch.version.cuda is not None:
    sys.exit(f"torch {torch.__version__} is a CUDA build; install the CPU wheel instead")
print(f"py-irt peer ready: torch {torch.__version__} (CPU), python {sys.executable}")
PY
