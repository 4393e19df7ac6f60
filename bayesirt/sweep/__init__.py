r"""Sweeps: a declared grid of fits and analyses, cached on disk, on a process pool or Dask.

A sensitivity study of a ranking is many fits of the same subjects: other model families,
other priors, other item sets (subsets, a bootstrap over items), other seeds. :func:`sweep`
takes the grid as data (a TOML file or a dict), fits every point, runs the ranking analyses on
each fit and gathers them into one labelled :class:`xarray.Dataset`.

Spec
----
Every key is optional but ``data``::

    models = ["2pl", "3pl"]        # registered model names (default ["2pl"])
    seeds = [0, 1]                 # seed of each fit and of its analyses (default [0])

    [data]                         # labelled sources; or data = "example" / a list of them
    example = "example"            # the example leaderboard shipped with bayesirt
    chem = "dataset:chembench"     # a public dataset (bayesirt.datasets)
    mine = { path = "results.csv", format = "long", subject = "model" }  # load_responses
    sim = { simulate = { n_subjects = 30, n_items = 200, seed = 1 } }   # simulate_responses

    [items]                        # the item sets every source is fitted on
    full = true                    # all items, labelled "all" (default true)
    bootstrap = 10                 # replicates "boot1" ... "boot10" (default 0)
    bootstrap_seed = 0
    subsets = { code = { column = "category", values = ["code"] }, two = ["q1", "q2"] }

    [priors]                       # labelled prior overrides (default { default = {} })
    default = {}
    tight = { sigma_log_a = { distribution = "HalfNormal", sigma = 0.25 } }

    [fit]                          # keyword arguments of bayesirt.fit: method, draws, pool_by...
    method = "advi"

    [analysis]                     # keyword arguments of scenario_rankings
    groups = "category"
    group_weights = { code_heavy = { code = 0.5 } }

A relative ``path`` is read from the spec file's folder. The grid is the product
data × items × models × priors × seeds, in that order; each point is labelled
``"{data}/{items}/{model}/{priors}/seed{seed}"``.

**Item bootstrap.** Replicate :math:`r` draws :math:`n` items uniformly with replacement from
the :math:`n` items of the source, with the generator ``numpy.random.default_rng(
[bootstrap_seed, r])``: the same replicate for every model, prior and seed, so that the fits
of one replicate are paired. The :math:`k`-th copy (:math:`k \ge 2`) of item ``q`` is the item
``q#k``, with the answers and metadata of ``q`` and its own parameters. The spread of a
ranking over the replicates is the part of its uncertainty that comes from which questions
the benchmark happened to contain, which one fit cannot show.

**Analyses.** Each fit goes through :func:`~bayesirt.analysis.scenarios.scenario_rankings`
with the grid point's seed: the rank posterior by ability (:func:`~bayesirt.analysis.rank`,
scenario ``theta``), by expected score on all items (``uniform``) and, with ``groups``, under
the group weights of ``balanced``, of every ``group_weights`` entry and of random Dirichlet use
cases.

Cache
-----
A completed fit is written to ``cache_dir/fits/KEY.nc`` (with its card), its analyses to
``cache_dir/results/KEY2.nc``. ``KEY`` is the sha256 of the fit's configuration (model, every
prior after the overrides, the inference settings with their defaults filled in, the seed,
the package version) and of the fingerprint (:meth:`~bayesirt.data.Responses.fingerprint`) of
the responses actually fitted (after the item subset or bootstrap); ``KEY2`` adds the analysis
settings. Labels are not part of a key: a point that is renamed, or appears in two sweeps, is
found again. Files are written under a temporary name and renamed into place, so a sweep that
is interrupted leaves only whole files, and the next run computes only what is missing. A
rerun of a finished sweep starts no worker at all.

Engines
-------
``"local"`` (default) runs the points on a :class:`concurrent.futures.ProcessPoolExecutor`
(spawned processes). ``"dask"`` runs them on Dask distributed (``pip install
'bayesirt[dask]'``): on the scheduler at ``address`` (the cluster's workers need bayesirt
installed; the data are loaded here and sent to them), or on a
``LocalCluster`` of worker processes on the loopback interface. The driver writes every cache
file itself, so workers need no shared file system. Every point has its own fixed seed and
the same code runs it, so both engines give identical results.

Why Dask rather than Ray: Dask distributed installs from PyPI as pure-Python wheels (about
28 MB with its new dependencies, two small compiled ones), starts a ``LocalCluster`` on the
loopback interface in seconds for tests and laptops, and its futures mirror
:mod:`concurrent.futures`, so both engines share one code path; existing clusters (SLURM /
PBS through dask-jobqueue, Kubernetes) are reached with ``Client(address)``. The measurements
behind this are in ``benchmarks/README.md``.

Modules
-------
:mod:`bayesirt.sweep.spec` reads and checks the spec and builds the item sets,
:mod:`bayesirt.sweep.engines` runs one point (fit and analyses) on either engine, and
:mod:`bayesirt.sweep.run` keys the points, caches them, runs the grid and gathers the results.
"""

from bayesirt.sweep.engines import ENGINES
from bayesirt.sweep.run import AXES, DEFAULT_CACHE_DIR, SweepError, sweep, sweep_scenarios
from bayesirt.sweep.spec import ITEMS_KEYS, SPEC_KEYS, load_spec

__all__ = [
    "AXES",
    "DEFAULT_CACHE_DIR",
    "ENGINES",
    "ITEMS_KEYS",
    "SPEC_KEYS",
    "SweepError",
    "load_spec",
    "sweep",
    "sweep_scenarios",
]
