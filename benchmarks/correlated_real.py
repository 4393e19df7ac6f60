"""2PL against the testlet model on AlpacaEval 2: the numbers of issue 5's real check and
issue 6's model-based scenario.

* Data: ``alpacaeval2`` (58 LLMs × 805 instructions), ``responses_tidy.csv``, response
  ``correct`` binarised with ``threshold=0.5`` as in ``benchmarks/robustness_real.py``: the
  loader counts ``score >= threshold`` as correct, so the judge's exact ties (0.5) count as
  wins. Clusters: the 5 source data sets in ``items.csv`` (``category``).
* Fits: the 2PL and the testlet model with ``cluster_by="category"``, by NUTS (nutpie,
  2 chains, ``--draws`` draws after as many tuning steps) with the pointwise log-likelihood.
* Reported: the testlet's :math:`\\sigma_k` per category (posterior mean, 90% interval),
  :func:`bayesirt.compare` by response and by item, how far the ranks move between the two
  models (Kendall τ of the mean ranks, largest shifts, widths of the rank intervals), and
  :func:`bayesirt.analysis.scenario_rankings` of the 2PL fit with the testlet fit as an
  ``other_fits`` scenario, summarised by :func:`bayesirt.analysis.rank_stability`.

    python benchmarks/correlated_real.py --out /tmp/correlated [--draws 500]

Writes ``correlated_alpacaeval2.json`` and the two fits (``.nc`` with cards) under ``--out``.
The data live beside the repository in ``../shared/data`` (see ``tests/conftest.py``).
"""

from __future__ import annotations

import os

# The benchmark machine has 2 shared cores: multithreaded BLAS only oversubscribes them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

import bayesirt
from bayesirt.analysis import rank_stability, scenario_rankings
from bayesirt.analysis.compare import ParetoKWarning
from bayesirt.inference import fit_info, fit_model, save_fit

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def load(data: Path) -> bayesirt.Responses:
    folder = data / "alpacaeval2"
    items = pd.read_csv(folder / "items.csv")[["item", "category"]]
    return bayesirt.load_responses(
        folder / "responses_tidy.csv", response="correct", threshold=0.5, item_meta=items
    )


def fit(responses, model: str, *, draws: int, **options):
    started = time.perf_counter()
    model_obj = bayesirt.models.get_model(model)(responses, **options)
    idata = fit_model(
        model_obj,
        draws=draws,
        tune=draws,
        chains=2,
        random_seed=0,
        log_likelihood=True,
        progressbar=False,
    )
    return idata, time.perf_counter() - started


def sigma_table(idata) -> pd.DataFrame:
    sigma = idata.posterior["sigma_cluster"]
    lo, hi = sigma.quantile([0.05, 0.95], dim=("chain", "draw")).values
    counts = pd.Series(idata.posterior["item_cluster"].values[0, 0]).value_counts()
    return pd.DataFrame(
        {
            "n_items": [int(counts.get(k, 0)) for k in range(sigma.sizes["cluster"])],
            "sigma_mean": sigma.mean(("chain", "draw")).values,
            "sigma_lo": lo,
            "sigma_hi": hi,
        },
        index=sigma["cluster"].values,
    )


def rank_movement(two_pl, testlet) -> tuple[pd.DataFrame, dict]:
    ranked = {}
    for name, idata in (("2pl", two_pl), ("testlet", testlet)):
        result = bayesirt.rank(idata, n_boot=200)
        per_subject = result[["mean_rank", "rank_lo", "rank_hi", "tier"]].to_dataframe()
        ranked[name] = per_subject.add_suffix(f"_{name}")
    table = ranked["2pl"].join(ranked["testlet"])
    table["shift"] = table["mean_rank_testlet"] - table["mean_rank_2pl"]
    tau = kendalltau(table["mean_rank_2pl"], table["mean_rank_testlet"]).statistic
    width = {
        name: float((table[f"rank_hi_{name}"] - table[f"rank_lo_{name}"]).mean())
        for name in ("2pl", "testlet")
    }
    summary = {
        "kendall_tau": float(tau),
        "max_abs_shift": float(table["shift"].abs().max()),
        "mean_abs_shift": float(table["shift"].abs().mean()),
        "mean_rank_interval_width": width,
        "n_tiers": {name: int(table[f"tier_{name}"].max()) for name in ("2pl", "testlet")},
    }
    return table.sort_values("mean_rank_2pl"), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=Path("correlated_real"))
    parser.add_argument("--draws", type=int, default=500, help="draws (and tuning) per chain")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    responses = load(args.data)
    print(responses)

    seconds = {}
    two_pl, seconds["2pl"] = fit(responses, "2pl", draws=args.draws)
    testlet, seconds["testlet"] = fit(responses, "testlet", draws=args.draws, cluster_by="category")
    for name, idata in (("2pl", two_pl), ("testlet", testlet)):
        save_fit(idata, args.out / f"alpacaeval2-{name}.nc")
    diagnostics = {
        name: fit_info(i)["diagnostics"] for name, i in (("2pl", two_pl), ("testlet", testlet))
    }
    print("fit seconds:", {k: round(v) for k, v in seconds.items()})
    for name, diag in diagnostics.items():
        print(name, {k: diag[k] for k in ("max_rhat", "min_ess_bulk", "divergences", "problems")})

    sigma = sigma_table(testlet)
    print("\ntestlet sigma_k by category\n", sigma.round(3).to_string())

    fits = {"2pl": two_pl, "testlet": testlet}
    tables = {}
    for unit in ("response", "item"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ParetoKWarning)
            tables[unit] = bayesirt.compare(fits, unit=unit)
        for w in caught:
            print("warning:", w.message)
        columns = ["elpd_loo", "p_loo", "elpd_diff", "se", "dse", "n_bad_k", "max_k"]
        print(f"\nLOO by {unit}\n", tables[unit][columns].round(2).to_string())

    movement, moved = rank_movement(two_pl, testlet)
    print("\nrank movement 2PL -> testlet:", json.dumps(moved))
    print(movement.reindex(movement["shift"].abs().sort_values(ascending=False).index).head(10))

    scenarios = scenario_rankings(
        two_pl, groups="category", other_fits={"testlet": testlet}, random_seed=0
    )
    stability = rank_stability(scenarios, reference="uniform")
    tau = stability["kendall_tau"].to_pandas()
    print("\nscenario Kendall tau (posterior mean ranks)\n", tau.round(3).to_string())
    print(
        "flips vs uniform:", dict(zip(tau.index, stability["n_flips"].values.tolist(), strict=True))
    )
    shift = stability["rank_shift"].sel(scenario="fit:testlet").to_pandas()

    summary = {
        "data": {
            "n_subjects": responses.n_subjects,
            "n_items": responses.n_items,
            "n_observed": responses.n_observed,
            "mean_accuracy": float(np.mean(responses.response)),
            "rule": "correct >= 0.5 (ties of 0.5 count as wins)",
        },
        "fit": {"sampler": "nutpie", "chains": 2, "draws": args.draws, "tune": args.draws},
        "fit_seconds": seconds,
        "diagnostics": diagnostics,
        "sigma_k": sigma.reset_index(names="category").to_dict(orient="records"),
        "loo": {
            unit: table.drop(columns=["warning"])
            .reset_index(names="model")
            .to_dict(orient="records")
            for unit, table in tables.items()
        },
        "rank_movement": moved,
        "largest_shifts": movement["shift"].abs().sort_values(ascending=False).head(10).to_dict(),
        "scenario_kendall_tau": tau.to_dict(),
        "scenario_flips": dict(zip(tau.index, stability["n_flips"].values.tolist(), strict=True)),
        "testlet_scenario_shift": shift.to_dict(),
    }
    path = args.out / "correlated_alpacaeval2.json"
    path.write_text(json.dumps(summary, indent=1, default=float))
    print("wrote", path)


if __name__ == "__main__":
    main()
