"""Write a notebook from a list of ("md" | "code", source) cells; run it at full size.

The notebooks are generated from the build_*.py scripts beside them:

    python notebooks/_nb.py                 # rewrite every NN_*.ipynb from its script
    python notebooks/_nb.py 03              # only the scripts whose name holds "03"
    python notebooks/_nb.py --execute 03    # rewrite, then run at full size, keeping outputs

The committed notebooks are executed at full size (``--execute``, with
``BAYESIRT_NOTEBOOK_QUICK`` unset), so a reader sees the numbers and plots; CI re-runs them
with the quick settings and does not write the outputs back.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

SETUP = """\
import os
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import bayesirt

# BAYESIRT_NOTEBOOK_QUICK=1 (set by CI) shrinks draws, data and repetitions so that the
# notebook runs in about two minutes; unset, it runs at full size.
QUICK = os.environ.get("BAYESIRT_NOTEBOOK_QUICK", "0") not in ("", "0")
# nbmake and Jupyter run a notebook in its own folder; the shared data sits beside the repo.
REPO = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
SHARED = REPO.parent / "shared" / "data"
if "BAYESIRT_DATA_CACHE" not in os.environ and (SHARED / "raw").is_dir():
    os.environ["BAYESIRT_DATA_CACHE"] = str(SHARED / "raw")  # offline copy of public data
pd.set_option("display.width", 120, "display.max_columns", 20, "display.precision", 3)
plt.rcParams["figure.dpi"] = 72  # modest PNGs: the notebooks are committed with outputs
STARTED = time.perf_counter()
print(f"bayesirt {bayesirt.__version__}, QUICK={QUICK}")
"""


def write(name: str, cells: list[tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        source = source.strip("\n")
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    nbformat.validate(nb)
    path = HERE / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def execute(path: Path) -> None:
    """Run the notebook at ``path`` at full size and write it back with its outputs (cell
    timings, which change on every run, are not kept)."""
    import nbclient

    # The kernel inherits the environment: full size, and Jupyter's inline figures (a
    # non-interactive MPLBACKEND such as Agg would leave the notebook without plots).
    os.environ.pop("BAYESIRT_NOTEBOOK_QUICK", None)
    os.environ.pop("MPLBACKEND", None)
    nb = nbformat.read(path, 4)
    client = nbclient.NotebookClient(
        nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    )
    client.execute()
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(nb, path)


if __name__ == "__main__":
    run = "--execute" in sys.argv[1:]
    wanted = [arg for arg in sys.argv[1:] if arg != "--execute"]
    for script in sorted(HERE.glob("build_*.py")):
        if wanted and not any(w in script.stem for w in wanted):
            continue
        spec = importlib.util.spec_from_file_location(script.stem, script)
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(HERE))
        spec.loader.exec_module(module)
        path = write(module.NAME, module.CELLS)
        if run:
            execute(path)
        print(path)
