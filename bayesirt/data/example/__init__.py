"""The example leaderboard shipped in ``data/example/``, and how it is made.

A synthetic but realistic LLM leaderboard: 40 models in 8 families (correlated abilities),
1,500 questions in 8 categories (each with its own difficulty and discrimination level), drawn
from a 2PL with 2% of the cells missing completely at random. The files are written by
``python -m bayesirt.data.example`` from :data:`EXAMPLE_SETTINGS`; :func:`load_example` reads
them, or regenerates the same data in memory where the files are not installed.

Files (all CSV, blank = missing):

``responses.csv``
    Wide table, one row per model (first column ``subject``), one column per item, 0/1.
``items.csv``, ``subjects.csv``
    Metadata: ``item, category`` and ``subject, family``.
``truth_<dim>.csv``, ``truth_attrs.json``
    The generating values of :func:`~bayesirt.data.simulate.simulate_responses`, one table per
    dimension of the truth dataset (``subject``, ``item``, ``family``, ``category``), and its
    settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import xarray as xr

from bayesirt.data.responses import Responses
from bayesirt.data.simulate import simulate_responses

__all__ = ["EXAMPLE_DIR", "EXAMPLE_SETTINGS", "generate_example", "load_example", "write_example"]

#: Where the files live in a source checkout (``<repo>/data/example``).
EXAMPLE_DIR = Path(__file__).resolve().parents[3] / "data" / "example"

#: The arguments of :func:`simulate_responses` that make the example.
EXAMPLE_SETTINGS = {
    "n_subjects": 40,
    "n_items": 1500,
    "model": "2pl",
    "seed": 20251122,
    "n_families": 8,
    "family_correlation": 0.6,
    "n_categories": 8,
    "category_difficulty_sd": 0.7,
    "category_discrimination_sd": 0.25,
    "discrimination_sd": 0.3,
    "missing_fraction": 0.02,
}

RESPONSES_FILE = "responses.csv"
ITEMS_FILE = "items.csv"
SUBJECTS_FILE = "subjects.csv"
ATTRS_FILE = "truth_attrs.json"
TRUTH_DIMS = ("subject", "item", "family", "category")


def generate_example() -> tuple[Responses, xr.Dataset]:
    """Draw the example from :data:`EXAMPLE_SETTINGS` (the same data every time)."""
    return simulate_responses(**EXAMPLE_SETTINGS)


def write_example(directory: str | Path = EXAMPLE_DIR) -> list[Path]:
    """Write the example's files into ``directory``; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    responses, truth = generate_example()
    written = []

    def save(frame: pd.DataFrame, name: str) -> None:
        frame.to_csv(directory / name, lineterminator="\n")
        written.append(directory / name)

    save(responses.to_wide().astype("Int8"), RESPONSES_FILE)
    save(responses.item_meta, ITEMS_FILE)
    save(responses.subject_meta, SUBJECTS_FILE)
    for dim in TRUTH_DIMS:
        names = [name for name, var in truth.data_vars.items() if var.dims == (dim,)]
        save(truth[names].to_dataframe(), f"truth_{dim}.csv")
    (directory / ATTRS_FILE).write_text(json.dumps(truth.attrs, indent=2) + "\n")
    written.append(directory / ATTRS_FILE)
    return written


def load_example(*, return_truth: bool = False) -> Responses | tuple[Responses, xr.Dataset]:
    """The example leaderboard, with ``category`` and ``family`` metadata.

    Reads ``data/example/`` of a source checkout; where it is absent (an installed package)
    regenerates the identical data from :data:`EXAMPLE_SETTINGS`.

    Parameters
    ----------
    return_truth : bool
        Also return the generating values (``theta``, ``a``, ``b``, structure) as an
        :class:`xarray.Dataset`.
    """
    files = [RESPONSES_FILE, ITEMS_FILE, SUBJECTS_FILE, ATTRS_FILE]
    files += [f"truth_{dim}.csv" for dim in TRUTH_DIMS]
    if not all((EXAMPLE_DIR / name).is_file() for name in files):
        responses, truth = generate_example()
        return (responses, truth) if return_truth else responses
    responses = Responses.from_wide(
        pd.read_csv(EXAMPLE_DIR / RESPONSES_FILE, index_col=0),
        item_meta=pd.read_csv(EXAMPLE_DIR / ITEMS_FILE, index_col=0),
        subject_meta=pd.read_csv(EXAMPLE_DIR / SUBJECTS_FILE, index_col=0),
    )
    if not return_truth:
        return responses
    truth = xr.merge(
        [
            xr.Dataset.from_dataframe(pd.read_csv(EXAMPLE_DIR / f"truth_{dim}.csv", index_col=0))
            for dim in TRUTH_DIMS
        ]
    )
    truth.attrs = json.loads((EXAMPLE_DIR / ATTRS_FILE).read_text())
    return responses, truth
