"""Legibility of the report's figures (issue 18): nothing drawn on top of another text.

Every check renders the figure with the Agg renderer and compares the window extents of the
texts as drawn: the subjects' names on the Wright map, from 5 to 150 subjects, and the titles
of the rank plots with long parameter names.
"""

from __future__ import annotations

import itertools

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from bayesirt.reports import plot_worst_rank, plot_wright_map
from bayesirt.reports.quality import WRIGHT_LABEL_SIZE


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _overlap(a: Bbox, b: Bbox) -> bool:
    """Whether two boxes share an area (touching edges do not count)."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width > 0.0 and height > 0.0


def _overlapping_pairs(boxes: dict[str, Bbox]) -> list[tuple[str, str]]:
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2)
            if _overlap(box_a, box_b)]  # fmt: skip


def _wright(n_subjects: int, *, seed: int = 0, spread: float = 0.6) -> pd.DataFrame:
    """Wright-map data like the demo's: subjects packed around 0, 600 items in 4 groups."""
    rng = np.random.default_rng(seed)
    subjects = pd.DataFrame(
        {
            "kind": "subject",
            "label": [f"org/model-{j:03d}-instruct" for j in range(n_subjects)],
            "location": rng.normal(0.0, spread, n_subjects),
            "group": "",
        }
    )
    items = pd.DataFrame(
        {
            "kind": "item",
            "label": [f"item_{i:04d}" for i in range(600)],
            "location": rng.normal(0.0, 1.5, 600),
            "group": [f"category_{i % 4}" for i in range(600)],
        }
    )
    frame = pd.concat([subjects, items], ignore_index=True)
    frame["lo"], frame["hi"] = frame["location"] - 0.2, frame["location"] + 0.2
    return frame


def _drawn_names(ax, wright: pd.DataFrame) -> dict[str, Bbox]:
    """The subjects' names on the Wright map, with their extents as rendered."""
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    names = set(wright.loc[wright["kind"] == "subject", "label"])
    return {  # the text's own extent (an annotation's also covers its leader line)
        t.get_text(): Text.get_window_extent(t, renderer)
        for t in ax.texts
        if t.get_text() in names and t.get_visible()
    }


@pytest.mark.parametrize("n_subjects", [5, 12, 40, 60])
def test_wright_map_names_every_subject_without_overlap(n_subjects):
    wright = _wright(n_subjects)
    ax = plot_wright_map(wright)
    names = _drawn_names(ax, wright)
    assert len(names) == n_subjects  # all named
    assert not _overlapping_pairs(names)
    assert all(t.get_fontsize() >= WRIGHT_LABEL_SIZE for t in ax.texts if t.get_text() in names)
    # the names stay clear of the θ axis' tick labels and inside the figure
    renderer = ax.figure.canvas.get_renderer()
    ticks = [t.get_window_extent(renderer) for t in ax.get_yticklabels() if t.get_text()]
    figure_box = ax.figure.bbox
    for name, box in names.items():
        assert not any(_overlap(box, tick) for tick in ticks), name
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1, name


def test_wright_map_keeps_well_spaced_names_at_their_subjects():
    """Five subjects far apart: each name sits level with its own point."""
    wright = _wright(5)
    wright.loc[wright["kind"] == "subject", "location"] = [-2.0, -1.0, 0.0, 1.0, 2.0]
    ax = plot_wright_map(wright)
    subjects = wright[wright["kind"] == "subject"].set_index("label")["location"]
    heights = {
        t.get_text(): t.get_position()[1] for t in ax.texts if t.get_text() in subjects.index
    }
    assert heights == pytest.approx(subjects.to_dict())


def test_wright_map_names_a_readable_subset_of_many_subjects():
    wright = _wright(150, spread=1.0)
    ax = plot_wright_map(wright)
    names = _drawn_names(ax, wright)
    assert 20 <= len(names) < 150
    assert not _overlapping_pairs(names)
    subjects = wright[wright["kind"] == "subject"].sort_values("location")
    assert {subjects["label"].iloc[0], subjects["label"].iloc[-1]} <= set(names)  # both ends
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"subjects ({len(names)} of 150 named)" in legend


def test_wright_map_on_given_small_axes():
    """On a small panel the names still do not overlap (fewer are named)."""
    wright = _wright(40)
    _, ax = plt.subplots(figsize=(5, 3))
    assert plot_wright_map(wright, ax=ax) is ax
    names = _drawn_names(ax, wright)
    assert 2 <= len(names) <= 40
    assert not _overlapping_pairs(names)


def _long_named_fit(n_items: int = 6):
    """Two chains that disagree, on items with long labels (long rank-plot titles); the item
    parameter is the intercept (``b`` is derived, and the convergence check leaves it out)."""
    rng = np.random.default_rng(3)
    items = [f"mmlu_professional_law/question_{k:06d}_long_label" for k in range(n_items)]
    draws = rng.normal(size=(2, 100, n_items)) + np.array([0.0, 0.8])[:, None, None]
    return az.from_dict(
        posterior={"intercept": draws, "sigma": rng.gamma(2.0, size=(2, 100))},
        coords={"item": items},
        dims={"intercept": ["item"]},
    )


@pytest.mark.parametrize("n", [1, 3, 4, 6])
def test_rank_plot_titles_do_not_overlap(n):
    axes = np.ravel(plot_worst_rank(_long_named_fit(), n=n))
    assert len(axes) == n
    figure = axes[0].figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    titles = {f"{k}: {ax.get_title()}": ax.title.get_window_extent(renderer)
              for k, ax in enumerate(axes)}  # fmt: skip
    assert all(ax.get_title() for ax in axes)
    assert not _overlapping_pairs(titles)
    for k, ax in enumerate(axes):
        title = ax.title.get_window_extent(renderer)
        # within the figure, and clear of every other panel (its labels and ticks included)
        assert figure.bbox.x0 <= title.x0 and title.x1 <= figure.bbox.x1
        for j, other in enumerate(axes):
            if j != k:
                assert not _overlap(title, other.get_tightbbox(renderer)), (k, j)
        # a shortened title keeps the start and the end of the parameter's name
        assert ax.get_title().startswith("intercept[") or ax.get_title().startswith("sigma")
