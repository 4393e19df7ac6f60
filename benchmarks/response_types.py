"""Beyond right/wrong (issue 20): continuous scores against their binarised form on AlpacaEval 2,
and repeated samples (binomial responses) against one sample per question.

**AlpacaEval 2 (58 models × 805 instructions).** The judge's preference in [1, 2] is fitted
as a continuous score (the ordered beta model, ``--response-type continuous --scale 1 2``)
and as the leaderboard's binary win (``correct >= 0.5``, the 2PL), each on the same random
80% of the cells. On the held-out 20%:

* the win itself (preference >= 1.5), which both models predict: mean log score and Brier
  score of the posterior predictive probability (the continuous model's is
  :math:`P(y = 1) + P(0 < y < 1)\\,(1 - I_{1/2}(\\mu\\phi, (1 - \\mu)\\phi))`);
* the preference, which only the continuous model predicts: CRPS of its posterior predictive
  distribution, against the CRPS of each item's training scores used as the prediction;
* the rankings: mean width of the 90% rank intervals, Kendall's tau between the two orders
  of posterior mean ability, and the subjects whose intervals do not overlap.

**Repeated samples.** A simulated 2PL leaderboard (40 × 150, seed 21) answered once per
question and five times per question (same abilities and items): the posterior sd of the
abilities should shrink by about :math:`1/\\sqrt 5 = 0.45` and the rank intervals with it.

    python benchmarks/response_types.py            # both parts
    python benchmarks/response_types.py --only alpacaeval

One fit at a time (each uses both cores). Results go to ``results/response_types.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import betainc, expit
from scipy.stats import kendalltau

import bayesirt
from bayesirt import Responses
from bayesirt.inference import fit
from bayesirt.models import OrderedBeta, TwoPL

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "alpacaeval2" / "responses_tidy.csv"
RESULTS = ROOT / "benchmarks" / "results" / "response_types.json"
#: Posterior draws used for the held-out predictions (thinned evenly).
PREDICTIVE_DRAWS = 1000


def _timed_fit(responses: Responses, model: str) -> tuple[object, float]:
    started = time.perf_counter()
    idata = fit(responses, model=model, random_seed=1, progressbar=False)
    return idata, time.perf_counter() - started


def _thinned(posterior):
    n = posterior.sizes["chain"] * posterior.sizes["draw"]
    step = max(1, n // PREDICTIVE_DRAWS)
    return posterior.isel(draw=slice(None, None, step))


def _indices(posterior, held: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    subjects = pd.Index(posterior["subject"].values.astype(str))
    items = pd.Index(posterior["item"].values.astype(str))
    s = subjects.get_indexer(held["subject"].astype(str))
    i = items.get_indexer(held["item"].astype(str))
    known = (s >= 0) & (i >= 0)
    return s, i, known


def _crps(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of the empirical distribution of ``samples`` (draws × cells) at ``y``:
    E|X - y| - E|X - X'| / 2, the second term from the sorted samples."""
    s = np.sort(samples, axis=0)
    n = s.shape[0]
    weights = (2.0 * np.arange(1, n + 1) - n - 1.0)[:, None]
    spread = 2.0 * np.sum(weights * s, axis=0) / n**2
    return np.mean(np.abs(s - y[None, :]), axis=0) - 0.5 * spread


def _scores(p: np.ndarray, won: np.ndarray) -> dict:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return {
        "log_score": float(np.mean(np.where(won, np.log(p), np.log1p(-p)))),
        "brier": float(np.mean((p - won) ** 2)),
    }


def _ranking(idata) -> pd.DataFrame:
    ranked = bayesirt.rank(idata)
    return pd.DataFrame(
        {
            "mean_rank": ranked["mean_rank"].values,
            "rank_lo": ranked["rank_lo"].values,
            "rank_hi": ranked["rank_hi"].values,
        },
        index=ranked["subject"].values.astype(str),
    )


def alpacaeval(seed: int = 0) -> dict:
    table = pd.read_csv(DATA)
    table = table[table["preference"].notna()].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    hidden = rng.uniform(size=len(table)) < 0.2
    train, held = table[~hidden], table[hidden].reset_index(drop=True)
    continuous = Responses.from_long(
        train, response="preference", response_type="continuous", scale=(1, 2)
    )
    binary = Responses.from_long(train, response="correct", threshold=0.5)
    beta_fit, beta_seconds = _timed_fit(continuous, "beta")
    two_pl_fit, two_pl_seconds = _timed_fit(binary, "2pl")

    won = held["preference"].to_numpy() >= 1.5
    y = held["preference"].to_numpy() - 1.0
    post = _thinned(beta_fit.posterior)
    s, i, known = _indices(post, held)
    s, i, y_known, won_known = s[known], i[known], y[known], won[known]
    eta, _, p_inside, p_high = OrderedBeta.outcome_probabilities(post, s, i)
    phi = post["phi"].values[:, :, i]
    mu = expit(eta)
    p_win_beta = (p_high + p_inside * (1.0 - betainc(mu * phi, (1.0 - mu) * phi, 0.5))).reshape(
        -1, len(s)
    )
    # one predictive score per draw and cell
    u = rng.uniform(size=p_high.shape)
    p_low = 1.0 - p_inside - p_high
    inner = rng.beta(np.maximum(mu * phi, 1e-300), np.maximum((1 - mu) * phi, 1e-300))
    predictive = np.where(u < p_low, 0.0, np.where(u > 1.0 - p_high, 1.0, inner)).reshape(
        -1, len(s)
    )
    crps_model = _crps(predictive, y_known)
    # baseline: each item's training scores as its predictive distribution
    train_scores = continuous.to_long().groupby("item")["response"].apply(np.asarray)
    crps_item = np.empty(len(s))
    items = post["item"].values.astype(str)
    for code in np.unique(i):
        cells = i == code
        crps_item[cells] = _crps(train_scores[items[code]][:, None], y_known[cells])

    post2 = _thinned(two_pl_fit.posterior)
    s2, i2, known2 = _indices(post2, held)
    p_win_2pl = TwoPL.observation_probability(post2, s2[known2], i2[known2]).reshape(
        -1, int(known2.sum())
    )

    rank_beta, rank_2pl = _ranking(beta_fit), _ranking(two_pl_fit)
    rank_2pl = rank_2pl.loc[rank_beta.index]
    apart = (rank_beta["rank_hi"] < rank_2pl["rank_lo"]) | (
        rank_2pl["rank_hi"] < rank_beta["rank_lo"]
    )
    shift = (rank_beta["mean_rank"] - rank_2pl["mean_rank"]).abs().sort_values(ascending=False)

    def diagnostics(idata, seconds):
        d = bayesirt.inference.io.fit_diagnostics(idata)
        settings = json.loads(idata.attrs["bayesirt_inference"])
        return {
            "seconds": round(seconds, 1),
            "draws_per_chain": settings["draws"],
            "converged": d["converged"],
            "max_rhat": d["max_rhat"],
            "min_ess_bulk": d["min_ess_bulk"],
        }

    return {
        "held_out_cells": len(held),
        "held_out_scored": int(known.sum()),
        "continuous_fit": diagnostics(beta_fit, beta_seconds),
        "binarised_fit": diagnostics(two_pl_fit, two_pl_seconds),
        "win_continuous": _scores(p_win_beta.mean(axis=0), won_known),
        "win_binarised": _scores(p_win_2pl.mean(axis=0), won[known2]),
        "win_base_rate": float(won.mean()),
        "crps_continuous": float(crps_model.mean()),
        "crps_item_scores": float(crps_item.mean()),
        "rank_width_continuous": float((rank_beta["rank_hi"] - rank_beta["rank_lo"]).mean()),
        "rank_width_binarised": float((rank_2pl["rank_hi"] - rank_2pl["rank_lo"]).mean()),
        "kendall_tau": float(kendalltau(rank_beta["mean_rank"], rank_2pl["mean_rank"])[0]),
        "intervals_apart": [str(v) for v in rank_beta.index[apart.to_numpy()]],
        "largest_rank_shifts": {
            str(k): [
                round(float(rank_beta.loc[k, "mean_rank"]), 1),
                round(float(rank_2pl.loc[k, "mean_rank"]), 1),
            ]
            for k in shift.index[:5]
        },
    }


def repeated_samples() -> dict:
    once, _ = bayesirt.simulate_responses(40, 150, seed=21)
    five, truth = bayesirt.simulate_responses(40, 150, seed=21, trials=5)
    out = {}
    for label, responses in (("one_sample", once), ("five_samples", five)):
        idata, seconds = _timed_fit(responses, "2pl")
        ranked = bayesirt.rank(idata)
        theta = idata.posterior["theta"]
        out[label] = {
            "seconds": round(seconds, 1),
            "converged": bayesirt.inference.io.fit_diagnostics(idata)["converged"],
            "theta_sd": float(theta.std(("chain", "draw")).mean()),
            "rank_width": float((ranked["rank_hi"] - ranked["rank_lo"]).mean()),
            "theta_corr": float(np.corrcoef(theta.mean(("chain", "draw")), truth["theta"])[0, 1]),
        }
    out["sd_ratio"] = out["five_samples"]["theta_sd"] / out["one_sample"]["theta_sd"]
    out["width_ratio"] = out["five_samples"]["rank_width"] / out["one_sample"]["rank_width"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["alpacaeval", "binomial"])
    args = parser.parse_args()
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
    if args.only in (None, "alpacaeval"):
        record["alpacaeval2"] = alpacaeval()
        print(json.dumps(record["alpacaeval2"], indent=1))
    if args.only in (None, "binomial"):
        record["repeated_samples"] = repeated_samples()
        print(json.dumps(record["repeated_samples"], indent=1))
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*runs, record], indent=1) + "\n")


if __name__ == "__main__":
    main()
