"""How close can IRT estimation from 10% of the items come to the full score? An oracle run.

Issue 7 asks that, at 10% of a benchmark's items, the best method's mean absolute error (MAE)
of the estimated full-benchmark accuracy be at most 0.6 × that of a random subset's plain
mean. ``subsets_real.py`` measures the package's methods with item parameters fitted to
training subjects only. This script removes that handicap. The item parameters here come
from a fit to *every* subject, the evaluated ones included, so they are as good as these data
make them (and in-sample, so optimistic). If even this gives a ratio above 0.6, no better
item calibration can help the IRT estimators.

* gsm8k (metabench, 5,041 LLMs × 249 items): metabench's own mirt 2PL parameters (fitted by
  its authors to all the LLMs; slope-intercept ``a1``, ``d``), 1,000 LLMs at random.
* AlpacaEval 2 (58 models × 805 instructions, a tie counts as a win): the package's 2PL by
  ADVI on all 58 models, posterior-mean item parameters, every model.

For each subject, an adaptive test of ``k`` items: the ability posterior lives on a grid
(prior N(0, 1)); the next item maximises the Fisher information averaged over the current
posterior. After ``k`` items, the p-IRT estimate (Polo et al. 2024) is the answered items plus
:math:`\\sum_i P_i(\\hat\\theta)` over the unanswered ones, over the number of items, with
:math:`\\hat\\theta` the posterior mode. The baseline is the plain mean of ``k`` items drawn at
random (100 draws per subject). Writes ``results/subsets_ceiling.md``.

    python benchmarks/subsets_ceiling.py
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayesirt
from bayesirt.analysis import item_parameters
from bayesirt.irt import icc, item_information, log_likelihood

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
GRID = np.linspace(-6.0, 6.0, 401)
SHARES = (0.10, 0.20)
RANDOM_DRAWS = 100


def gsm8k(n_subjects: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Answers (subjects × items) and metabench's mirt (a, b) for gsm8k."""
    folder = DATA / "metabench"
    answers = pd.read_csv(folder / "gsm8k_train_responses_wide.csv", index_col=0)
    params = pd.read_csv(folder / "gsm8k_mirt_item_parameters.csv")
    params = params.set_index(params["item"].astype(str)).loc[answers.columns.astype(str)]
    if not ((params["g"] == 0).all() and (params["u"] == 1).all()):
        raise ValueError("expected metabench's gsm8k fit to be a 2PL (g = 0, u = 1)")
    a = params["a1"].to_numpy()
    b = -params["d"].to_numpy() / a  # a1 * theta + d = a (theta - b)
    rows = np.random.default_rng(0).choice(len(answers), n_subjects, replace=False)
    note = f"metabench's mirt 2PL fitted to all {len(answers):,} LLMs; {n_subjects} LLMs at random"
    return answers.to_numpy(dtype=float)[rows], a, b, note


def alpacaeval2() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Answers and the package's ADVI 2PL (posterior means) fitted to every AlpacaEval model."""
    responses = bayesirt.load_responses(
        DATA / "alpacaeval2" / "responses_tidy.csv",
        format="long",
        response="correct",
        threshold=0.5,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = bayesirt.fit(
            responses,
            model="2pl",
            method="advi",
            draws=300,
            chains=1,
            random_seed=0,
            progressbar=False,
        )
    table = item_parameters(idata, by=None)
    columns = responses.items.astype(str).get_indexer(table.index.astype(str))
    answers = responses.dense()[:, columns]
    note = f"the package's 2PL (ADVI) fitted to all {responses.n_subjects} models"
    return answers, table["a"].to_numpy(), table["b"].to_numpy(), note


def adaptive_pirt(answers: np.ndarray, a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """p-IRT estimate of each subject's accuracy after an adaptive test of ``k`` items."""
    curve = icc(GRID[:, None], a, b)
    information = item_information(GRID[:, None], a, b)
    right, wrong = log_likelihood(1, GRID[:, None], a, b), log_likelihood(0, GRID[:, None], a, b)
    estimates = np.empty(len(answers))
    for row, y in enumerate(answers):
        observed = ~np.isnan(y)
        log_post = -0.5 * GRID**2
        available = observed.copy()
        for _ in range(min(k, int(observed.sum()))):
            weights = np.exp(log_post - log_post.max())
            expected = (weights / weights.sum()) @ information
            item = int(np.flatnonzero(available)[expected[available].argmax()])
            available[item] = False
            log_post = log_post + (right[:, item] if y[item] == 1 else wrong[:, item])
        asked = observed & ~available
        mode = log_post.argmax()
        estimates[row] = (y[asked].sum() + curve[mode, available].sum()) / observed.sum()
    return estimates


def random_mean_mae(answers: np.ndarray, truth: np.ndarray, k: int) -> float:
    rng = np.random.default_rng(1)
    errors = [
        np.abs(
            np.nanmean(answers[:, rng.choice(answers.shape[1], k, replace=False)], axis=1) - truth
        )
        for _ in range(RANDOM_DRAWS)
    ]
    return float(np.nanmean(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gsm8k-subjects", type=int, default=1000)
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    lines = [
        "### Oracle item parameters: adaptive tests + p-IRT against random subsets\n",
        "Written by `benchmarks/subsets_ceiling.py` (see its docstring). Item parameters fitted "
        "to every subject, the evaluated ones included (in-sample, so optimistic).\n",
        "| data set | item parameters | items (share) | random + mean MAE | "
        "oracle adaptive + p-IRT MAE | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, (answers, a, b, note) in {
        "gsm8k": gsm8k(args.gsm8k_subjects),
        "AlpacaEval 2": alpacaeval2(),
    }.items():
        truth = np.nanmean(answers, axis=1)
        for share in SHARES:
            k = round(share * answers.shape[1])
            baseline = random_mean_mae(answers, truth, k)
            oracle = float(np.mean(np.abs(adaptive_pirt(answers, a, b, k) - truth)))
            lines.append(
                f"| {name} | {note} | {k} ({share:.0%}) | {baseline:.4f} | {oracle:.4f} | "
                f"{oracle / baseline:.2f} |"
            )
            print(lines[-1], flush=True)
    (args.results / "subsets_ceiling.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
