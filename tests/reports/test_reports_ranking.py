"""Ranking plots: each returns its Axes with one mark per subject."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.image import AxesImage

from bayesirt.reports import plot_p_beats, plot_rank_caterpillar, plot_rank_probabilities


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _tick_labels(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def test_caterpillar(ranking):
    ax = plot_rank_caterpillar(ranking)
    assert isinstance(ax, Axes)
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(lines.get_segments()) == 7
    assert len(points.get_offsets()) == 7
    subjects = list(ranking["subject"].values)
    assert _tick_labels(ax) == [f"{k}. {s}" for k, s in enumerate(subjects, start=1)]
    marks = [t.get_text() for t in ax.texts]
    expected = [f"acc #{r:g}" for r in ranking["accuracy_rank"].values]
    assert marks == expected
    # interval ends are the credible bounds of the first subject
    first = lines.get_segments()[0]
    np.testing.assert_allclose(
        first[:, 0], [ranking["estimate_lo"].values[0], ranking["estimate_hi"].values[0]]
    )
    assert "ability" in ax.get_xlabel()


def test_caterpillar_top_and_given_axes(ranking):
    _, given = plt.subplots()
    ax = plot_rank_caterpillar(ranking, top=3, ax=given)
    assert ax is given
    assert len(ax.texts) == 3 and len(_tick_labels(ax)) == 3


def test_rank_probability_heat_map(ranking):
    ax = plot_rank_probabilities(ranking)
    (image,) = [im for im in ax.get_images() if isinstance(im, AxesImage)]
    np.testing.assert_allclose(image.get_array(), ranking["p_rank"].values)
    assert len(_tick_labels(ax)) == 7
    assert ax.get_xlabel() == "rank"
    assert len(ax.figure.axes) == 2  # with its colour bar


def test_p_beats_heat_map(ranking):
    ax = plot_p_beats(ranking, annotate=True)
    (image,) = ax.get_images()
    data = np.ma.filled(image.get_array(), np.nan)
    np.testing.assert_allclose(data, ranking["p_beats"].values)
    assert len(ax.texts) == 7 * 6  # every cell but the diagonal
    assert [t.get_text() for t in ax.get_xticklabels()] == list(ranking["opponent"].values)
    assert len(plot_p_beats(ranking, top=4).get_images()[0].get_array()) == 4


def test_plots_follow_posterior_order_whatever_the_input_order(ranking):
    shuffled = ranking.isel(subject=[3, 0, 6, 1, 5, 2, 4])
    ax = plot_rank_probabilities(shuffled)
    np.testing.assert_allclose(ax.get_images()[0].get_array(), ranking["p_rank"].values)


def test_bad_top(ranking):
    with pytest.raises(ValueError, match="top must be a positive"):
        plot_rank_caterpillar(ranking, top=0)
