from _nb import SETUP

NAME = "03_model_choice"
CELLS = [
    ("md", """
# 03 · Which model? 1PL to 4PL, a testlet model, LOO and posterior predictive checks

Every ranking in these notebooks rests on an item response model. This notebook fits the four
unidimensional models and one *correlated-item* model to the same real data and asks two
questions: which predicts held-out answers best (PSIS-LOO through `bayesirt.compare`), and
does the chosen model reproduce what we see in the data (posterior predictive checks through
`bayesirt.ppc`)?

**Data.** AlpacaEval 2 (58 LLMs × 805 instructions, data CC BY-NC 4.0, read from
`../shared/data/alpacaeval2`, never copied into the repository). A cell is 1 when a judge
preferred the model's answer over the GPT-4-Turbo reference; exact ties (0.5) are counted as
not winning (`threshold=1.0`). Every instruction belongs to one of 5 source collections
(`category`), which the testlet model uses as its clusters: answers to questions from the same
collection may be correlated beyond what one ability explains.

**QUICK.** Under `BAYESIRT_NOTEBOOK_QUICK=1` each category keeps 25 instructions and each model
is fitted by ADVI with at most 3,000 steps and 200 draws. ADVI is a fast approximation whose
intervals are too narrow, and LOO over its draws is indicative only: expect Pareto-k warnings
and do not read the QUICK numbers as a result. The full run fits every instruction by NUTS
with the package's defaults (sampling until the convergence checks pass), each fit given at
most 10 minutes and 2,000 draws per chain: a fit that has not converged by then says so.
"""),
    ("code", SETUP + '''
PER_CATEGORY = 25 if QUICK else None
if QUICK:
    FIT_OPTIONS = dict(method="advi", advi_iterations=3000, draws=200, chains=1)
else:
    FIT_OPTIONS = dict(method="nuts", max_seconds=600, max_draws=2000)
'''),
    ("code", '''
folder = SHARED / "alpacaeval2"
responses = bayesirt.load_responses(
    folder / "responses_tidy.csv", format="long", subject="subject", item="item",
    response="correct", threshold=1.0, item_meta=folder / "items.csv",
    item_meta_columns=["category"], drop_constant=True,
)
if PER_CATEGORY is not None:
    meta = responses.item_meta
    keep = meta.groupby("category").head(PER_CATEGORY).index
    responses = responses.subset(items=list(keep))
print(responses.summary())
responses.item_meta["category"].value_counts()
'''),
    ("md", """
## Five fits

`compare` computes the pointwise log-likelihood that LOO needs from each posterior, one fit at a
time (`log_likelihood=True` would store it with each fit: 4 × 2,000 draws × 45,636 answers is
2.9 GB per fit, and five of them held at once exhausted this notebook's 24 GB). The testlet model
adds, for each subject, a random effect per cluster of items (`cluster_by="category"`), with a
variance per cluster: a variance near zero means that cluster shows no extra dependence.
"""),
    ("code", '''
fits, seconds = {}, {}
specs = {"1pl": {}, "2pl": {}, "3pl": {}, "4pl": {}, "testlet": {"cluster_by": "category"}}
for name, options in specs.items():
    t0 = time.perf_counter()
    fits[name] = bayesirt.fit(responses, model=name, random_seed=3, progressbar=False,
                              **FIT_OPTIONS, **options)
    seconds[name] = time.perf_counter() - t0
pd.Series(seconds, name="seconds").round(0)
'''),
    ("md", """
## LOO comparison

`unit="response"` asks which model best predicts a missing answer of a known model on a known
question; `unit="item"` asks which predicts a whole *new* question of the same benchmark.
`elpd_diff` is the gap to the best model, `dse` its standard error: a gap within about two
standard errors is not a clear preference. `n_bad_k` counts units whose Pareto k says the
importance-sampling estimate is unreliable.
"""),
    ("code", '''
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    by_response = bayesirt.compare(fits, unit="response")
for w in caught:
    print(f"{w.category.__name__}: {str(w.message)[:200]}")
by_response[["rank", "elpd_loo", "p_loo", "elpd_diff", "dse", "weight", "n_bad_k", "max_k"]]
'''),
    ("code", '''
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    by_item = bayesirt.compare(fits, unit="item")
print(f"{len(caught)} warning(s), e.g. Pareto k on held-out items")
by_item[["rank", "elpd_loo", "p_loo", "elpd_diff", "dse", "weight", "n_bad_k", "max_k"]]
'''),
    ("md", """
## Posterior predictive checks

LOO ranks the candidates; it does not say whether the best of them is good enough. A
posterior predictive check simulates replicated data sets from the posterior and compares them
with the data: the distribution of total scores, each item's accuracy, the residual
correlations between items (Yen's Q3, which the unidimensional models assume to be near zero),
and item fit. A global p-value near 0 or 1 marks a feature the model does not reproduce.
"""),
    ("code", '''
from bayesirt.analysis.ppc import ppc_table

best = by_response.index[0]
statistics = ("total_score", "item_accuracy", "residual_correlation", "item_fit")
checks = {name: bayesirt.ppc(fits[name], statistics=statistics, n_draws=100 if QUICK else 400)
          for name in dict.fromkeys(["2pl", best])}
pd.concat({name: ppc_table(result) for name, result in checks.items()})
'''),
    ("code", '''
from bayesirt.reports import plot_ppc_discrepancy, plot_ppc_histogram, plot_ppc_units

result = checks["2pl"]
fig, axes = plt.subplots(1, 3, figsize=(17, 4.5))
plot_ppc_histogram(result, statistic="total_score", ax=axes[0])
plot_ppc_discrepancy(result, statistic="residual_correlation", ax=axes[1])
plot_ppc_units(result, statistic="item_fit", ax=axes[2])
fig.suptitle("2PL")
fig.tight_layout()
'''),
    ("md", """
## The testlet variances

If the categories carry dependence beyond the ability, the testlet model's cluster variances
are clearly above zero and the residual-correlation check of the 2PL is poor. The posterior of
those variances (`sigma_cluster`) is summarised below.
"""),
    ("code", '''
posterior = fits["testlet"].posterior
names = [v for v in posterior.data_vars if v.startswith("sigma_cluster") and not v.endswith("_z")]
for v in names:
    values = posterior[v].mean(("chain", "draw"))
    print(v, values.to_series().round(3).to_dict() if values.ndim else round(float(values), 3))
'''),
    ("code", '''
print(f"best by response-level LOO: {by_response.index[0]}; by item-level LOO: {by_item.index[0]}")
print(f"notebook ran in {time.perf_counter() - STARTED:.0f} s")
'''),
    ("md", """
## What to take away

Choose the model with the predictive task in mind (new answers vs new questions), treat LOO
gaps within two standard errors as ties, and check the chosen model with posterior predictive
checks before trusting its ranking. Notebook `04_robustness` takes the residual correlations
further: where they come from and whether they change the ranking.
"""),
]
