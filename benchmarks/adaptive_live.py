"""Live adaptive tests on simulated data: decision-rule stopping, exposure control, content
balancing (issue 23).

A 2PL leaderboard is simulated (``--shape``; items in three categories with shares 0.5, 0.3,
0.2) and fitted by NUTS with the package defaults. Then, for ``--new`` new models with true
abilities drawn from N(0, 1):

* **Decision rule.** Each takes an adaptive test (variance selector) that stops once
  P(new beats X) >= 0.95 or <= 0.05, X the fitted subject of median ability, or at
  ``--budget`` items; the decision is "beats X" where P >= 1/2. A decision is wrong where it
  disagrees with the sign of (true θ_new - posterior mean θ_X). The same models also take
  fixed-length adaptive tests of every length in ``--lengths``, decided the same way at
  the end. Reported: the decision rule's error rate and mean items, each fixed length's
  error rate, and the shortest fixed length whose error rate is at most the rule's.
* **Exposure control.** The models take live tests one after another
  (:class:`bayesirt.AdaptiveTest`, sd 0.3 or 30 items), without control and with an
  :class:`~bayesirt.tinybench.ExposureControl` of max rate ``--max-rate``: the largest
  exposure rate of any item, items per test and RMSE of θ.
* **Content balancing.** Fixed-length tests of 30 items with target shares 0.5/0.3/0.2, and
  shares 1/3 each: per test, the largest deviation of a category's count from its share.

    python benchmarks/adaptive_live.py          # about 5 minutes on 2 cores

Writes ``--results``/``adaptive_live.md``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tables import markdown

import bayesirt
from bayesirt.inference.io import fit_diagnostics
from bayesirt.irt import icc
from bayesirt.tinybench import (
    AdaptiveTest,
    ContentBalance,
    DecisionStopper,
    ExposureControl,
    ItemBank,
    PriorInitializer,
    SdOrBudgetStopper,
    VarianceSelector,
    simulate_adaptive_test,
)

SHARES = {"algebra": 0.5, "geometry": 0.3, "logic": 0.2}


def leaderboard(n_subjects: int, n_items: int, seed: int):
    """The simulated responses with item categories, and the fit."""
    responses, _ = bayesirt.simulate_responses(n_subjects, n_items, seed=seed)
    rng = np.random.default_rng(seed)
    category = rng.choice(list(SHARES), size=n_items, p=list(SHARES.values()))
    meta = pd.DataFrame({"category": category}, index=pd.Index(responses.items, name="item"))
    data = bayesirt.Responses.from_wide(responses.to_wide(), item_meta=meta)
    start = time.perf_counter()
    idata = bayesirt.fit(data, model="2pl", random_seed=seed, progressbar=False)
    return data, idata, time.perf_counter() - start


def answer_key(bank: ItemBank, theta: np.ndarray, seed: int) -> bayesirt.Responses:
    """Every new model's answer to every item, drawn once under the posterior mean item
    parameters, so that all the tests compared see the same answer to the same item (common
    random numbers: their differences are not drowned by the answers' noise)."""
    p = icc(theta[:, None], *(x[None, :] for x in bank.mean_params))
    right = (np.random.default_rng(seed).random(p.shape) < p).astype(np.int8)
    wide = pd.DataFrame(right, index=[f"new_{k:04d}" for k in range(len(theta))])
    return bayesirt.Responses.from_wide(wide.set_axis(bank.items, axis=1))


def decision_study(bank, theta, budget, lengths, seed):
    """Decision rule against fixed-length adaptive tests; errors counted over all new
    models and outside the indifference zone |θ - θ_X| <= 2 sd(θ_X), where the fitted
    subject's own posterior leaves the right decision open whatever the test."""
    means = bank.theta.mean(axis=0)
    code = np.argsort(means)[len(means) // 2]
    opponent = str(bank.subjects[code])
    zone = 2 * bank.theta[:, code].std()
    truth = theta > means[code]
    outside = np.abs(theta - means[code]) > zone
    key = answer_key(bank, theta, seed)
    column = f"p_beats[{opponent}]"

    def row(test: str, items: np.ndarray, p: np.ndarray, decided=np.nan) -> dict:
        wrong = (p >= 0.5) != truth
        return {
            "test": test,
            "mean items": float(np.mean(items)),
            "median items": float(np.median(items)),
            "decided before the budget": decided,
            "error rate": wrong.mean(),
            "error rate outside the zone": wrong[outside].mean(),
        }

    rows = []
    for label, selector in [
        ("decision rule (0.95), variance of the decision", VarianceSelector(beats=opponent)),
        ("decision rule (0.95), variance of θ", VarianceSelector()),
    ]:
        rule = simulate_adaptive_test(
            bank,
            key,
            selector=selector,
            stopper=DecisionStopper(opponent, level=0.95, max_items=budget),
            beats=[opponent],
            seed=seed,
        ).summary
        decided = (rule["stopped"] == "decided").mean()
        rows.append(row(label, rule["n_items"], rule[column].to_numpy(), decided))
    # The first L items of a longer adaptive test are the adaptive test of length L (the
    # choice of the next item does not depend on the stopper), so one run of the longest
    # length gives every shorter one: its posterior after L answers is rebuilt from its
    # history.
    longest = simulate_adaptive_test(
        bank, key, stopper=SdOrBudgetStopper(target_sd=None, max_items=max(lengths)), seed=seed
    )
    by_step = longest.history.pivot(index="subject", columns="step")
    log_post = PriorInitializer()(bank, len(theta))
    for step in range(1, max(lengths) + 1):
        items = bank.items.get_indexer(by_step[("item", step)].loc[longest.summary.index])
        answers = by_step[("response", step)].loc[longest.summary.index].to_numpy()
        log_post += bank.log_likelihood(items, answers.astype(np.int8))
        if step in lengths:
            rows.append(row(f"fixed length {step}", step, bank.p_beats(log_post, opponent)))
    table = pd.DataFrame(rows)
    fixed = table[table["test"].str.startswith("fixed")]
    matches = {}
    for error in ("error rate", "error rate outside the zone"):
        matched = fixed[fixed[error] <= table[error].iloc[0]]
        shortest = matched["mean items"].min() if len(matched) else np.nan
        matches[error] = (shortest, 1 - table["mean items"].iloc[0] / shortest)
    return opponent, zone, outside.mean(), table, matches


def simulated_model(bank: ItemBank, theta: float, rng: np.random.Generator):
    """``answer(item) -> 0/1`` of a model of ability ``theta`` under the posterior mean item
    parameters: what a caller running a real model would pass."""
    params = bank.mean_params

    def answer(item: str) -> int:
        code = bank.items.get_loc(item)
        return int(rng.random() < icc(theta, *(x[code] for x in params)))

    return answer


def exposure_study(bank, theta, max_rate, seed):
    rows = []
    for label, control in [
        ("no control", ExposureControl()),
        (f"max rate {max_rate}", ExposureControl(max_rate=max_rate)),
        (f"max rate {max_rate}, randomesque 3", ExposureControl(max_rate=max_rate, randomesque=3)),
    ]:
        rng = np.random.default_rng(seed)
        items, errors = [], []
        start = time.perf_counter()
        for k, true in enumerate(theta):
            answer = simulated_model(bank, true, rng)
            test = AdaptiveTest(
                bank,
                stop=SdOrBudgetStopper(target_sd=0.3, max_items=30),
                exposure=control,
                seed=seed + k,
            )
            estimate = test.run(answer)
            items.append(estimate["n_items"])
            errors.append(estimate["theta_mean"] - true)
        rates = control.rates()
        rows.append(
            {
                "control": label,
                "largest exposure rate": rates.max(),
                "items over the rate": int((rates > max_rate).sum()),
                "items used": len(rates),
                "mean items per test": np.mean(items),
                "RMSE of θ": float(np.sqrt(np.mean(np.square(errors)))),
                "seconds per test": (time.perf_counter() - start) / len(theta),
            }
        )
    return pd.DataFrame(rows)


def content_study(data, bank, theta, seed):
    categories = data.item_meta["category"]
    rows = []
    for label, shares in [("0.5 / 0.3 / 0.2", SHARES), ("1/3 each", dict.fromkeys(SHARES, 1))]:
        run = simulate_adaptive_test(
            bank,
            theta,
            stopper=SdOrBudgetStopper(target_sd=None, max_items=30),
            content=ContentBalance(categories, shares),
            seed=seed,
        )
        given = run.history.assign(category=categories.reindex(run.history["item"]).to_numpy())
        counts = given.groupby(["subject", "category"]).size().unstack(fill_value=0)
        target = pd.Series(shares, dtype=float) / sum(shares.values()) * 30
        deviation = (counts - target).abs().max(axis=1)
        rows.append(
            {
                "target shares": label,
                "tests": len(counts),
                "largest deviation (items)": deviation.max(),
                "mean share": ", ".join(f"{c} {counts[c].mean() / 30:.3f}" for c in SHARES),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=2, default=(60, 400))
    parser.add_argument("--new", type=int, default=400, help="simulated new models")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--lengths", type=int, nargs="+", default=list(range(10, 101, 10)))
    parser.add_argument("--max-rate", type=float, default=0.2)
    parser.add_argument("--exposure-tests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--only", nargs="+", choices=["decision", "exposure", "content"], default=None
    )
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    data, idata, fit_seconds = leaderboard(*args.shape, args.seed)
    diagnostics = (fit_diagnostics(idata) or {}).get("converged")
    bank = ItemBank.from_idata(idata)
    theta = np.random.default_rng(args.seed + 1).normal(size=args.new)
    lines = [
        f"# Live adaptive tests ({args.shape[0]} × {args.shape[1]} simulated 2PL, seed "
        f"{args.seed}; fit {fit_seconds:.0f} s, converged: {diagnostics})",
        "",
    ]
    studies = args.only or ["decision", "exposure", "content"]
    start = time.perf_counter()
    if "decision" in studies:
        lines += decision_lines(bank, theta, args, start)
    if "exposure" in studies:
        exposure = exposure_study(bank, theta[: args.exposure_tests], args.max_rate, args.seed)
        lines += [
            f"## Exposure control ({args.exposure_tests} tests in sequence, sd 0.3 or 30 items)",
            "",
            markdown(exposure),
            "",
        ]
        print(exposure.to_string(), flush=True)
    if "content" in studies:
        content = content_study(data, bank, theta, args.seed)
        lines += ["## Content balancing (tests of 30 items)", "", markdown(content), ""]
        print(content.to_string(), flush=True)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "adaptive_live.md").write_text("\n".join(lines))


def decision_lines(bank, theta, args, start) -> list[str]:
    opponent, zone, share, table, matches = decision_study(
        bank, theta, args.budget, args.lengths, args.seed
    )
    lines = [
        f"## Decision rule: does a new model beat {opponent} (median fitted ability)?",
        "",
        f"{args.new} new models, θ ~ N(0, 1), answers drawn once per item; budget "
        f"{args.budget} items; indifference zone ±{zone:.2f} around {opponent}'s ability "
        f"({1 - share:.0%} of the models in it); {time.perf_counter() - start:.0f} s.",
        "",
        markdown(table),
        "",
    ]
    for error, (shortest, saving) in matches.items():
        if np.isnan(shortest):
            longest = max(args.lengths)
            lines.append(
                f"No fixed length up to {longest} items reaches the rule's {error}: the rule "
                f"(first row) uses at least {1 - table['mean items'].iloc[0] / longest:.0%} "
                "fewer items on average."
            )
            continue
        lines.append(
            f"Shortest fixed length with an {error} at most that of the rule (first row): "
            f"{shortest:.0f} items; the rule uses {saving:.0%} fewer items on average."
        )
    lines.append("")
    print("\n".join(lines), flush=True)
    return lines


if __name__ == "__main__":
    main()
