"""Ranking plots: each returns its Axes with one mark per subject."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.image import AxesImage

from bayesirt.reports import plot_p_beats, plot_rank_caterpillar, plot_rank_probabilities
from bayesirt.reports.ranking import tier_colours

#: Least RGB distance between the colours of two neighbouring tiers (0 to √3).
DISTINCT = 0.25


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


# ------------------------------------------------------------ tier colours (issue 18)
@pytest.mark.parametrize("n_tiers", range(1, 31))
def test_neighbouring_tiers_never_share_a_colour(n_tiers):
    colours = tier_colours(np.arange(1, n_tiers + 1))
    assert colours.shape == (n_tiers, 4)
    step = np.linalg.norm(np.diff(colours[:, :3], axis=0), axis=1)
    assert (step >= DISTINCT).all(), f"tiers {np.argmin(step) + 1} and {np.argmin(step) + 2}"
    # a tier and the next but one differ as well (in shade)
    assert (np.linalg.norm(colours[2:, :3] - colours[:-2, :3], axis=1) > 0.05).all()


def test_caterpillar_colours_neighbouring_tiers_apart(make_ranking):
    """The drawn points: for 1 to 30 tiers over 30 subjects, a subject whose tier differs from
    the one above it has a clearly different colour; subjects of one tier share theirs."""
    ranking = make_ranking(30, spread=6.0)
    for n_tiers in range(1, 31):
        tiers = 1 + np.arange(30) * n_tiers // 30
        ax = plot_rank_caterpillar(ranking.assign(tier=("subject", tiers)))
        (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
        colours = points.get_facecolors()[:, :3]
        assert len(colours) == 30
        step = np.linalg.norm(np.diff(colours, axis=0), axis=1)
        new_tier = np.diff(tiers) > 0
        assert (step[new_tier] >= DISTINCT).all(), f"{n_tiers} tiers"
        assert (step[~new_tier] == 0).all(), f"{n_tiers} tiers"
        plt.close(ax.figure)


def test_tier_colours_rejects_tier_zero():
    with pytest.raises(ValueError, match="start at 1"):
        tier_colours([0, 1])
