"""A small posterior ranking to draw, built from a fake fit (``arviz.from_dict``)."""

import arviz as az
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from bayesirt.analysis import rank
from bayesirt.data import Responses


@pytest.fixture(scope="session")
def ranking():
    rng = np.random.default_rng(11)
    n_subjects, n_items, shape = 7, 12, (2, 40)
    subjects = [f"model-{j}" for j in range(n_subjects)]
    items = [f"q{i}" for i in range(n_items)]
    true_theta = np.linspace(1.5, -1.5, n_subjects)
    y = (rng.random((n_subjects, n_items)) < 0.5 + 0.15 * true_theta[:, None]).astype(np.int8)
    responses = Responses(
        subject_index=np.repeat(np.arange(n_subjects), n_items),
        item_index=np.tile(np.arange(n_items), n_subjects),
        response=y.ravel(),
        subjects=subjects,
        items=items,
    )
    idata = az.from_dict(
        posterior={
            "theta": true_theta + 0.5 * rng.normal(size=(*shape, n_subjects)),
            "a": np.ones((*shape, n_items)),
            "b": rng.normal(size=(*shape, n_items)),
        },
        coords={"subject": subjects, "item": items},
        dims={"theta": ["subject"], "a": ["item"], "b": ["item"]},
    )
    idata.add_groups(constant_data=responses.to_xarray())
    return rank(idata, n_boot=50)
