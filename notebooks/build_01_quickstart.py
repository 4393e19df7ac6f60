from _nb import SETUP

NAME = "01_quickstart"
CELLS = [
    ("md", """
# 01 · Quick start: from a results table to a ranking you can defend

This notebook walks the whole path once: load a leaderboard, fit the two-parameter logistic
(2PL) model, check that the sampler can be trusted, rank the subjects *with* their
uncertainty, and save the fit so that later work starts from the file instead of refitting.

The data is the example leaderboard shipped with the package: 40 synthetic models answering
1,500 questions, simulated from a 2PL with a known truth, so we can also see how close the
fit comes to the values that generated the data.

The first cell reads `BAYESIRT_NOTEBOOK_QUICK`. CI sets it to `1`, which keeps only 150 items
and draws 100 + 100 per chain: enough to exercise every step, **not** enough for the sampler
to converge, so under QUICK expect a `ConvergenceWarning` below. That warning is the package
doing its job, and we leave it visible on purpose.
"""),
    ("code", SETUP + '''
NUTS = dict(draws=100, tune=100, chains=2) if QUICK else {}  # full size: the defaults
N_ITEMS = 150 if QUICK else None  # None = all 1,500 items
'''),
    ("md", """
## The data

`load_example(return_truth=True)` returns the responses and the parameters they were simulated
from. A `Responses` object stores only observed cells (missing answers are absent, never
imputed) together with the subject and item labels.
"""),
    ("code", '''
responses, truth = bayesirt.load_example(return_truth=True)
if N_ITEMS is not None:
    responses = responses.subset(items=list(responses.item_accuracy().index[:N_ITEMS]))
print(responses.summary())
truth
'''),
    ("code", '''
accuracy = responses.subject_accuracy().sort_values(ascending=False)
accuracy.head(10).to_frame("observed accuracy")
'''),
    ("md", """
## Fitting the 2PL

`bayesirt.fit` builds the model and samples it with NUTS (nutpie by default). Every NUTS fit is
followed by the standard convergence checks — R-hat, bulk and tail ESS, divergences, E-BFMI —
and a miss raises a `ConvergenceWarning` naming the worst parameter.
"""),
    ("code", '''
t0 = time.perf_counter()
idata = bayesirt.fit(responses, model="2pl", **NUTS, random_seed=1, progressbar=False)
print(f"fit took {time.perf_counter() - t0:.0f} s")
'''),
    ("md", """
## Diagnostics

`summarize_fit` gives the numbers behind `bayesirt summary`: posterior summaries of every
ability and item, and the diagnostics. At full size the fit uses the package's defaults,
which sample until every check passes; under QUICK the R-hat and ESS values show why 100 draws are not a result.
"""),
    ("code", '''
summary = bayesirt.summarize_fit(idata)
summary["diagnostics"]
'''),
    ("code", '''
subjects = pd.DataFrame(summary["subjects"]).set_index("subject")
items = pd.DataFrame(summary["items"]).set_index("item")
subjects.head()
'''),
    ("md", """
Because the data is simulated we can compare with the truth. The package fixes the scale of
the abilities in every draw (mean 0, sd 1 over the fitted subjects), so correlations are the
fair comparison for θ; difficulties live on that same scale.
"""),
    ("code", '''
checks = {}
if "theta" in truth:
    true_theta = truth["theta"].to_series().reindex(subjects.index)
    checks["corr(theta)"] = np.corrcoef(true_theta, subjects["theta_mean"])[0, 1]
    inside = (true_theta - true_theta.mean()) / true_theta.std()
    checks["90% interval coverage of standardised theta"] = float(
        ((inside >= subjects["theta_lo"]) & (inside <= subjects["theta_hi"])).mean())
if "b" in truth:
    true_b = truth["b"].to_series().reindex(items.index)
    checks["corr(b)"] = np.corrcoef(true_b, items["b_mean"])[0, 1]
pd.Series(checks, dtype=float).round(3)
'''),
    ("md", """
## Ranking with uncertainty

`bayesirt.rank` ranks the subjects draw by draw. The result holds the distribution of every
rank, rank intervals, P(top k), the probability that each subject beats each other one, and
*tiers*: runs of subjects that the data cannot separate at 95%. The observed-accuracy
leaderboard is kept next to it, with bootstrap intervals over items.
"""),
    ("code", '''
from bayesirt.analysis import rank_table

ranking = bayesirt.rank(idata)
table = rank_table(ranking)
table.head(12)
'''),
    ("code", '''
print(f"{len(ranking.attrs['tiers'])} tiers; "
      f"{ranking.attrs['n_separated']} of {ranking.attrs['n_adjacent']} adjacent pairs separated; "
      f"Kendall tau(accuracy rank, posterior rank) = {ranking.attrs['kendall_tau']:.3f}")
'''),
    ("code", '''
from bayesirt.reports import plot_p_beats, plot_rank_caterpillar

fig, axes = plt.subplots(1, 2, figsize=(13, 6))
plot_rank_caterpillar(ranking, top=20, ax=axes[0])
plot_p_beats(ranking, top=15, ax=axes[1])
fig.tight_layout()
'''),
    ("md", """
Read the caterpillar plot from the top: where neighbouring rank intervals overlap heavily, the
leaderboard order between them is a coin flip the data cannot settle, and the heat map gives
the exact probability for each pair.

## Saving and reloading

`save_fit` writes the complete `InferenceData` (posterior, the responses themselves, model and
prior configuration, inference settings, diagnostics, versions, a fingerprint of the data) as
netCDF, and a human-readable card beside it. `load_fit` refuses a file whose stored responses no
longer match their fingerprint.
"""),
    ("code", '''
import tempfile

folder = Path(tempfile.mkdtemp())
path = bayesirt.save_fit(idata, folder / "example-2pl.nc")
print(sorted(p.name for p in folder.iterdir()))
print((folder / "example-2pl.card.md").read_text()[:800])
'''),
    ("code", '''
reloaded = bayesirt.load_fit(path)
same = np.allclose(reloaded.posterior["theta"].values, idata.posterior["theta"].values)
again = bayesirt.summarize_fit(reloaded)["diagnostics"] == summary["diagnostics"]
print(f"posterior identical after reload: {same}; diagnostics identical: {again}")
assert same
print(f"notebook ran in {time.perf_counter() - STARTED:.0f} s")
'''),
    ("md", """
## What to take away

A posterior ranking answers the question a leaderboard cannot: *which* of its differences are
real. From here, `02_ranking_chembench` does the same on a real benchmark, and
`03_model_choice` asks whether the 2PL was the right model in the first place.
"""),
]
