"""Small posterior rankings to draw, built from fake fits (:func:`bayesirt.testing.fake_fit`)."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from bayesirt.analysis import rank
from bayesirt.testing import complete_responses, fake_fit


def fake_ranking(n_subjects: int, *, seed: int = 11, spread: float = 1.5):
    """The ranking of a fake fit: ``n_subjects`` abilities evenly spaced in ±``spread``,
    12 items, 2 chains of 40 draws."""
    rng = np.random.default_rng(seed)
    n_items, shape = 12, (2, 40)
    subjects = [f"model-{j}" for j in range(n_subjects)]
    items = [f"q{i}" for i in range(n_items)]
    true_theta = np.linspace(spread, -spread, n_subjects)
    p_correct = np.clip(0.5 + 0.15 * true_theta[:, None], 0.05, 0.95)
    y = (rng.random((n_subjects, n_items)) < p_correct).astype(np.int8)
    responses = complete_responses(y, subjects=subjects, items=items)
    idata = fake_fit(
        responses,
        theta=true_theta + 0.5 * rng.normal(size=(*shape, n_subjects)),
        a=np.ones((*shape, n_items)),
        b=rng.normal(size=(*shape, n_items)),
    )
    return rank(idata, n_boot=50)


@pytest.fixture(scope="session")
def ranking():
    return fake_ranking(7)


@pytest.fixture(scope="session")
def make_ranking():
    """:func:`fake_ranking`, for tests that need another number of subjects."""
    return fake_ranking
