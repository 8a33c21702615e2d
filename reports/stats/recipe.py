"""Recipe comparisons: arms of several seed runs, tested over seeds and queries.

A **recipe** (architecture + hyperparameters + training procedure) is a random variable: every
training seed gives a different system.  The claim "recipe A beats recipe B" must survive the
training noise too, and the query-only tests ignore it.  Measured on SynthCaps-small (one
configuration, seeds 0-7: test mAP@10 0.400 .. 0.492, seed sd 3.35 pp, 500 queries), the
query-only test calls seed 0 vs seed 1 *of the same recipe* different at p = 0.0013, 14 of the
28 single-run pairs at p < 0.05, and 52% of the 280 3-vs-3 seed splits (per-query AP averaged
over seeds, then tested over queries).  A *recipe comparison* (:func:`recipe_test`,
:func:`compare_arms`) gives a CI and p that cover seed variance *and* query sampling.

* :func:`recipe_test`          -- the seed- and query-aware t-test below, a :class:`RecipeTest`;
  ``seed_var_floor``: the robust variant (see "Robustness").
* :func:`pooled_seed_variance` -- the floor: seed variance pooled over a benchmark's arms.
* :func:`compare_arms`         -- front door: :func:`recipe_test` when both arms have >= 2
  runs, else the query-only comparison of the per-query means (:mod:`reports.stats.system`),
  a :class:`QueryOnlyTest`.
* :func:`recipe_arrays`        -- the recipe test vectorised over stacked studies (simulations,
  resampling real runs).

Planning the number of seeds (power, minimum detectable effect) is :mod:`reports.stats.power`.

The recipe test
---------------
Data: arm A has ``m`` runs (seeds), arm B has ``k`` runs, each a per-query score vector over the
same ``n`` queries: matrices ``X_A`` (m x n) and ``X_B`` (k x n).  Model (crossed random effects
runs x queries within an arm; Searle, Casella & McCulloch 1992):

    x_{r,q} = mu_q^arm + s_r + e_{r,q},
    s_r     ~ (0, tau^2_arm)      run-level seed effect (shifts every query of run r),
    e_{r,q} ~ (0, omega^2_arm)    run x query noise,
    d_q = mu_q^A - mu_q^B         drawn from a query population with mean delta, variance sigma_d^2.

Estimate of ``delta`` (the difference of the arms' mean mAP):

    Delta = mean_r(mAP_r^A) - mean_r(mAP_r^B) = mean_q(abar_q - bbar_q),

with ``abar_q``, ``bbar_q`` the per-query means over each arm's runs.  Its variance, over seeds
and over the draw of the ``n`` queries (all terms independent):

    Var(Delta) = sigma_d^2 / n + (tau^2_A + omega^2_A / n) / m + (tau^2_B + omega^2_B / n) / k.

Estimators:

* ``S^2_A`` = sample variance (ddof 1) of A's ``m`` run means ``mAP_r^A``; it estimates
  ``tau^2_A + omega^2_A / n`` (the run mean is ``const + s_r + mean_q e_{r,q}``).  Same for B.
* ``omega^2_A`` from the two-way residuals within arm A,
  ``e_{r,q} = x_{r,q} - xbar_{r.} - xbar_{.q} + xbar_{..}``:
  ``omegahat^2_A = sum e^2 / ((m - 1)(n - 1))`` (unbiased under the additive model).
* query term: ``dhat_q = abar_q - bbar_q = d_q + (sbar_A - sbar_B) + ebar^A_{.q} - ebar^B_{.q}``,
  so ``E[var_q(dhat_q)] = sigma_d^2 + omega^2_A / m + omega^2_B / k`` (the seed shifts are
  constant over q and drop out); removing the run x query noise counted in ``S^2`` already,

      Q = max(0, var_q(dhat_q) - omegahat^2_A / m - omegahat^2_B / k)      (estimates sigma_d^2).

Then

    V  = S^2_A / m + S^2_B / k + Q / n,        SE = sqrt(V),        t = Delta / SE,

with Welch-Satterthwaite degrees of freedom over the three components ``c = (S^2_A/m, S^2_B/k,
Q/n)`` of df ``nu = (m - 1, k - 1, n - 1)`` (Satterthwaite 1946, Welch 1947):

    df = V^2 / (c_1^2 / (m - 1) + c_2^2 / (k - 1) + c_3^2 / (n - 1)),

two-sided ``p = 2 * P(T_df >= |t|)`` (Student t) and CI ``Delta +- t_{df, 1 - alpha/2} * SE``.
``V = 0`` (every arm's runs identical and a constant per-query difference) is degenerate:
``p = 1`` and CI ``[Delta, Delta]`` when ``Delta = 0`` (identical arms); ``p = 0`` otherwise
(``t = +-inf``, ``df`` NaN; usually a sign of the same run listed twice).  With the seed terms
dominant this is Welch's t-test on the run means; when each arm's runs are identical
(``S^2 = 0``) it is the paired t-test over queries.  Bouthillier et al. (2021) show that seed,
data-sampling and hyperparameter variance are large enough to decide benchmark comparisons, so
that a comparison must draw these sources over several runs and count them; this test counts the
two that a study here varies (training seeds and the test set's queries).


Why not ...
~~~~~~~~~~~
* **the query-only test on seed-averaged scores**: it treats the arms' seed effects ``sbar_A -
  sbar_B`` as a real difference; its false-positive rate grows with ``n`` and ``tau^2`` (52% in
  the measurement above; 21-32% in the null simulations with seed effects of
  ``tests/reports/test_recipe_stats.py``, and 26-35% for one run against one run).
* **a two-level bootstrap** (resample seeds, then queries): the bootstrap variance of a mean of
  ``m`` seeds is ``(m - 1)/m * S^2 / m`` -- 2/3 of the truth with 3 seeds, so the CI is too
  narrow -- and its distribution is discrete (10 distinct seed resamples of 3 seeds); see Davison
  & Hinkley (1997), section 3.8, on resampling hierarchical data.
* **an exact permutation test over seeds**: 3 vs 3 seeds have ``C(6, 3) = 20`` relabellings, so
  the smallest two-sided p is ``2/20 = 0.1``: it can never reach ``p < 0.05``.  The t reference
  distribution buys power from the normality assumption on run means (t with ~4 df for 3 vs 3).

Limits (measured, ``tests/reports/test_recipe_stats.py``): with equal seed counts the size is
within [0.035, 0.06] (conservative when there is no seed effect and no query effect, because
``Q`` is truncated at 0); Welch's df is slightly liberal when the arm with *fewer* seeds has the
*larger* seed variance (3 vs 5 seeds, seed sd ratio 2.4: about 0.075; with 2 seeds in such an
arm about 0.12).  Use equal numbers of seeds, and at least 3.

Robustness: the seed-variance floor
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
Measured on main: the planted text-augmentation effect, +1.88 pp [+0.49, +3.27], p 0.016 on seeds 0-4, gave
-1.49 pp [-3.45, +0.47], p 0.12 on seeds 10-14 (same arms).  The base arm, shared by every factor, had a seed sd
of 0.52 pp over seeds 0-4 and about 1.7 pp over 15 seeds: a draw of 5 runs that tight happens (``S^2 / tau^2 ~
chi^2_4 / 4`` is below 0.094 with probability 0.015), and a Welch-type test that sees it is liberal *for that draw*.
Unconditionally the test keeps its size (above), so the failure is conditional, and a benchmark whose factors
all share one base arm inherits it in every row at once.  Three remedies were weighed:

* **a seed-level bootstrap-t** (resample runs within each arm, studentize): it corrects for skewness, but only
  once an arm has about 8 runs (5 runs have only 126 distinct resamples, 5 of them with ``S^2 = 0``), and the
  benchmarks here run 5 seeds per arm and set;
* **a permutation test over seeds**: exact under exchangeability, whatever the seed distribution; but 3 vs 3
  seeds cannot reach p < 0.05 (see above), 5 vs 5 has 252 relabellings, it conditions on the test queries (no
  query term), it is exact only for identical distributions (augmentations change the seed spread, so "equal
  means, unequal spreads" is the null that matters), and its CI needs test inversion;
* **Welch with a floor on the seed variance pooled over arms** (chosen): a benchmark trains many arms of one
  recipe family on the same seeds and metric (11 in planted_effects), so the pooled within-arm variance
  ``F = sum_i (n_i - 1) S_i^2 / sum_i (n_i - 1)`` (:func:`pooled_seed_variance`, ``sum (n_i - 1)`` df) is a far
  better estimate of a typical arm's seed variance than one arm's 4 df.  :func:`recipe_test` with
  ``seed_var_floor=F`` uses ``max(S^2_A, F)`` (and ``F``'s df when it is used) in ``V`` and in the
  Welch-Satterthwaite df.  The SE is never smaller than Welch's; an arm noisier than the pool keeps its own
  variance (heteroscedasticity is not assumed away); the test keeps its closed form, its CI and the query term.

Simulations (``tests/reports/test_recipe_robust.py``: 8000 benchmarks of 6 arms sharing a base arm, 50 queries,
seed effects normal, t with 3 df, bimodal (a quarter of the seeds in a second mode 5 of the first's sds away) or
log-normal; rates at alpha 0.05):

============  ===========================  ===========================
seeds          Welch: all draws (tight)     floor: all draws (tight)
============  ===========================  ===========================
normal 3v3     0.038 (0.113)                0.026 (0.049)
normal 5v5     0.044 (0.089)                0.029 (0.046)
t3 5v5         0.043 (0.110)                0.027 (0.044)
bimodal 5v5    0.041 (0.095)                0.027 (0.050)
lognormal 5v5  0.040 (0.098)                0.027 (0.055)
============  ===========================  ===========================

("tight": the 10% of draws with the smallest base-arm ``S^2``.)  95% CI coverage of a planted 3 pp effect with
5 seeds: floor 0.967-0.973 (0.946-0.956 given a tight base), Welch 0.953-0.959 (0.886-0.909 given a tight
base).  The price is conservatism when every arm has the same spread (size 0.023-0.029 instead of 0.04) and
some power (0.12-0.13 against Welch's 0.16 at that effect).  The claim-making benchmarks (``planted_effects``,
``fusion_effect``; ``--test welch`` turns it off) use the floor, and require replication on fresh seeds on top
(:mod:`reports.replication`); ``benchmarks seed_noise`` measures both tests' type-I error by resampling real
runs and says whether the runs call for the robust test elsewhere too.  ``recipe_test`` without a floor is
unchanged, and is what :mod:`reports.analysis` uses for a study's rows.

References
~~~~~~~~~~
* X. Bouthillier, P. Delaunay, M. Bronzi, et al., "Accounting for variance in machine learning
  benchmarks", MLSys 2021 (arXiv:2103.03098).
* S. R. Searle, G. Casella, C. E. McCulloch, *Variance Components*, Wiley 1992 (crossed random
  effects, ANOVA estimators of variance components); H. H. Clark, "The language-as-fixed-effect
  fallacy", J. Verbal Learning and Verbal Behavior 12 (1973) -- the same error with items.
* F. E. Satterthwaite, "An approximate distribution of estimates of variance components",
  Biometrics Bulletin 2 (1946) 110-114; B. L. Welch, "The generalization of 'Student's' problem
  when several different population variances are involved", Biometrika 34 (1947) 28-35.
* A. C. Davison, D. V. Hinkley, *Bootstrap Methods and their Application*, CUP 1997, section 3.8;
  C. A. Field, A. H. Welsh, "Bootstrapping clustered data", JRSS B 69 (2007) 369-390.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .common import Difference, _as_scores, _check_finite, _check_integer, _check_level, _check_n_resamples, _check_seed, \
    _welch_satterthwaite
from .power import minimum_detectable_effect
from .system import compare_paired

__all__ = ["QUERY_ONLY_METHOD", "RECIPE_FLOOR_METHOD", "RECIPE_METHOD", "QueryOnlyTest", "RecipeTest",
           "SeedVarianceFloor", "compare_arms", "pooled_seed_variance", "recipe_arrays", "recipe_test"]

#: ``method`` of a :class:`RecipeTest`.
RECIPE_METHOD = "recipe t-test over seeds and queries (Welch-Satterthwaite)"
#: ``method`` of a :class:`RecipeTest` computed with a seed-variance floor (``seed_var_floor``).
RECIPE_FLOOR_METHOD = ("recipe t-test over seeds and queries (Welch-Satterthwaite, seed variance floored at the "
                       "pooled seed variance of the benchmark's arms)")
#: ``method`` of a :class:`QueryOnlyTest`.
QUERY_ONLY_METHOD = "paired sign-flip test over queries (covers query sampling only)"

#: ``SE`` and ``|Delta|`` at most this times the largest ``|score|`` count as 0 (degenerate ``V = 0``).
_DEGENERATE_RTOL = 1e-12


def _finite_or_none(x):
    return x if not isinstance(x, float) or math.isfinite(x) else None


@dataclass(frozen=True)
class RecipeTest(Difference):
    """Result of :func:`recipe_test`: arm A (``m`` runs) against arm B (``k`` runs) over ``n`` queries.

    Attributes
    ----------
    mean_a, mean_b : mean over the arm's runs of the run's mean score (mAP), ``mean_r mAP_r``.
    diff : ``Delta = mean_a - mean_b``.
    ci_low, ci_high, ci_level : ``Delta -+ t_{df, (1 + level)/2} * se``.
    p_value : two-sided ``2 * P(T_df >= |t|)``.
    t, df, se : ``t = Delta / se``, Welch-Satterthwaite df, ``se = sqrt(V)``,
        ``V = S^2_A/m + S^2_B/k + Q/n``.  ``df`` is NaN and ``t`` 0 or +-inf when ``V = 0``.
    seed_sd_a, seed_sd_b : ``S_A``, ``S_B``: sample sd (ddof 1) of the arm's run mAPs, the "seed sd"
        (it includes the run x query noise ``omega^2 / n``).
    seed_var_a, seed_var_b : ``tauhat^2 = max(0, S^2 - omegahat^2 / n)``, the run-level seed variance.
    noise_var_a, noise_var_b : ``omegahat^2``, run x query noise variance from the two-way residuals.
    query_var : ``Q``, estimate of ``sigma_d^2``, the variance of per-query differences over queries.
    n_runs_a, n_runs_b, n_queries : ``m``, ``k``, ``n``.
    seed_aware : always ``True`` (the CI and p cover seed variance and query sampling).
    method : :data:`RECIPE_METHOD`, or :data:`RECIPE_FLOOR_METHOD` with a seed-variance floor.
    seed_var_floor, seed_var_floor_df : the floor ``F`` and its df (``None`` without one).
    floored_a, floored_b : whether the arm's ``S^2`` was below ``F`` and replaced by it.
    """

    p_value: float
    t: float
    df: float
    se: float
    seed_sd_a: float
    seed_sd_b: float
    seed_var_a: float
    seed_var_b: float
    noise_var_a: float
    noise_var_b: float
    query_var: float
    n_runs_a: int
    n_runs_b: int
    n_queries: int
    seed_aware: bool = True
    method: str = RECIPE_METHOD
    seed_var_floor: float | None = None
    seed_var_floor_df: int | None = None
    floored_a: bool = False
    floored_b: bool = False

    def to_dict(self) -> dict:
        """Plain ``dict`` of the fields; non-finite floats (``df`` NaN, ``t`` inf when ``V = 0``) become ``None``."""
        return {k: _finite_or_none(v) for k, v in asdict(self).items()}

    def minimum_detectable_effect(self, *, n_runs_a: int | None = None, n_runs_b: int | None = None,
                                  alpha: float = 0.05, power: float = 0.8) -> float:
        """:func:`minimum_detectable_effect` with this test's estimates (``S^2_A``, ``S^2_B``, ``Q``, ``n``) and
        ``n_runs_a`` / ``n_runs_b`` seeds (default: the ones observed), e.g. to plan how many seeds a study needs."""
        return minimum_detectable_effect(
            n_runs_a=self.n_runs_a if n_runs_a is None else n_runs_a,
            n_runs_b=self.n_runs_b if n_runs_b is None else n_runs_b,
            n_queries=self.n_queries, run_var_a=self.seed_sd_a**2, run_var_b=self.seed_sd_b**2,
            query_var=self.query_var, alpha=alpha, power=power)


@dataclass(frozen=True)
class QueryOnlyTest(Difference):
    """Result of :func:`compare_arms` when an arm has a single run: the query-only paired comparison.

    The per-query means over each arm's runs (:func:`mean_over_seeds`) are compared by
    :func:`compare_paired`; the CI and p cover query sampling only, not training (seed) variance.

    Attributes
    ----------
    mean_a, mean_b, diff : mean score of each arm's per-query means, and their difference.
    ci_low, ci_high, ci_level : paired percentile bootstrap CI of ``diff`` over queries.
    p_value : ``p_randomization`` (the p this comparison is judged by).
    p_randomization, p_wilcoxon : as in :class:`PairedTest`.
    seed_sd_a, seed_sd_b : sd (ddof 1) of the arm's run mAPs; ``None`` for a one-run arm.
    n_runs_a, n_runs_b, n_queries, n_resamples, seed : design and resampling settings.
    seed_aware : always ``False``.
    method : :data:`QUERY_ONLY_METHOD`.
    """

    p_value: float
    p_randomization: float
    p_wilcoxon: float | None
    seed_sd_a: float | None
    seed_sd_b: float | None
    n_runs_a: int
    n_runs_b: int
    n_queries: int
    n_resamples: int
    seed: int
    seed_aware: bool = False
    method: str = QUERY_ONLY_METHOD


def _as_runs(runs, name: str) -> np.ndarray:
    """``runs`` (a sequence of 1-D per-query score arrays, or a 2-D array, one row per run) as an (r, n) matrix."""
    if isinstance(runs, np.ndarray):
        if runs.ndim != 2:
            raise ValueError(f"{name} must be a sequence of per-query score arrays (one per run) or a 2-D array "
                             f"(runs x queries), got an array of shape {runs.shape}; wrap a single run in a list")
        runs = list(runs)
    try:
        runs = list(runs)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of per-query score arrays, one per run") from None
    if not runs:
        raise ValueError(f"{name} is empty: need at least one run")
    arrays = [_as_scores(run, f"{name}[{i}]") for i, run in enumerate(runs)]
    n = arrays[0].size
    for i, arr in enumerate(arrays):
        if arr.size != n:
            raise ValueError(f"{name}[{i}] has {arr.size} query scores but {name}[0] has {n}: every run must score "
                             "the same queries in the same order")
    return np.stack(arrays)


def _as_arms(runs_a, runs_b) -> tuple[np.ndarray, np.ndarray]:
    xa = _as_runs(runs_a, "runs_a")
    xb = _as_runs(runs_b, "runs_b")
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(f"runs_a and runs_b must score the same queries in the same order: runs_a has "
                         f"{xa.shape[1]} query scores per run, runs_b has {xb.shape[1]}")
    return xa, xb


def _t_inference(diff, se, df, xa, xb, level):
    """``(t, df, p, half-width)`` of the t test of ``diff`` with standard error ``se`` and ``df`` degrees of freedom;
    a degenerate ``se`` (at most :data:`_DEGENERATE_RTOL` times the largest ``|score|`` of ``xa``, ``xb``) gives
    ``t`` 0 (``diff`` 0 too) or +-inf, ``df`` NaN, ``p`` 1 or 0 and a zero-width CI. Shared by the recipe tests."""
    from scipy import stats

    tol = _DEGENERATE_RTOL * np.maximum(np.abs(xa).max(axis=(-2, -1)), np.abs(xb).max(axis=(-2, -1)))
    degenerate = se <= tol
    zero = np.abs(diff) <= tol
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(degenerate, np.where(zero, 0.0, np.sign(diff) * np.inf), diff / np.where(degenerate, 1.0, se))
    df = np.where(degenerate, np.nan, df)
    safe_df = np.where(degenerate, 1.0, df)
    p = np.where(degenerate, np.where(zero, 1.0, 0.0), np.minimum(1.0, 2.0 * stats.t.sf(np.abs(t), safe_df)))
    half = np.where(degenerate, 0.0, stats.t.ppf(0.5 + level / 2.0, safe_df) * se)
    return t, df, p, half


def recipe_arrays(xa: np.ndarray, xb: np.ndarray, level: float, floor_var=None,
                   floor_df=None) -> dict[str, np.ndarray]:
    """The recipe test, vectorised over stacked studies: ``xa`` (..., m, n), ``xb`` (..., k, n).

    Every entry of the result has the leading shape ``(...)``; the formulas are those of the module
    docstring ("The recipe test").  :func:`recipe_test` is this function on one study.  ``floor_var``,
    ``floor_df`` (scalars or arrays of the leading shape): the seed-variance floor ``F`` and its df
    ("Robustness: the seed-variance floor"); ``None``: Welch's test without a floor.
    """
    m, n = xa.shape[-2], xa.shape[-1]
    k = xb.shape[-2]
    if m < 2 or k < 2 or n < 2:
        raise ValueError(f"the recipe test needs >= 2 runs per arm and >= 2 queries, got m={m}, k={k}, n={n}")
    run_a, run_b = xa.mean(axis=-1), xb.mean(axis=-1)  # run-level means (mAP of each run)
    mean_a, mean_b = run_a.mean(axis=-1), run_b.mean(axis=-1)
    diff = mean_a - mean_b  # Delta
    s2a, s2b = run_a.var(axis=-1, ddof=1), run_b.var(axis=-1, ddof=1)  # S^2_A, S^2_B
    col_a, col_b = xa.mean(axis=-2), xb.mean(axis=-2)  # abar_q, bbar_q
    res_a = xa - run_a[..., :, None] - col_a[..., None, :] + mean_a[..., None, None]
    res_b = xb - run_b[..., :, None] - col_b[..., None, :] + mean_b[..., None, None]
    w2a = np.sum(res_a**2, axis=(-2, -1)) / ((m - 1) * (n - 1))  # omegahat^2_A
    w2b = np.sum(res_b**2, axis=(-2, -1)) / ((k - 1) * (n - 1))
    q = np.maximum(0.0, (col_a - col_b).var(axis=-1, ddof=1) - w2a / m - w2b / k)  # Q
    if floor_var is None:
        fa = fb = np.zeros(np.shape(diff), dtype=bool)
        va, vb, nu_a, nu_b = s2a, s2b, m - 1, k - 1
    else:  # S^2 below the floor F is replaced by F, which carries F's df
        fa, fb = s2a < floor_var, s2b < floor_var
        va, vb = np.where(fa, floor_var, s2a), np.where(fb, floor_var, s2b)
        nu_a, nu_b = np.where(fa, floor_df, m - 1), np.where(fb, floor_df, k - 1)
    c = (va / m, vb / k, q / n)
    v = c[0] + c[1] + c[2]
    se = np.sqrt(v)
    df = _welch_satterthwaite(c, (nu_a, nu_b, n - 1))

    t, df, p, half = _t_inference(diff, se, df, xa, xb, level)
    return {
        "mean_a": mean_a, "mean_b": mean_b, "diff": diff, "ci_low": diff - half, "ci_high": diff + half,
        "p_value": p, "t": t, "df": df, "se": se,
        "seed_sd_a": np.sqrt(s2a), "seed_sd_b": np.sqrt(s2b),
        "seed_var_a": np.maximum(0.0, s2a - w2a / n), "seed_var_b": np.maximum(0.0, s2b - w2b / n),
        "noise_var_a": w2a, "noise_var_b": w2b, "query_var": q, "floored_a": fa, "floored_b": fb,
    }  # fmt: skip


@dataclass(frozen=True)
class SeedVarianceFloor:
    """A pooled seed variance ``F`` (variance of one run's mean score over seeds) and its degrees of freedom, used
    as a floor on each arm's ``S^2`` by :func:`recipe_test` (``seed_var_floor``); :func:`pooled_seed_variance`."""

    var: float
    df: int
    n_arms: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def pooled_seed_variance(arms) -> SeedVarianceFloor:
    r"""The pooled within-arm variance of run scores over several arms: a :class:`SeedVarianceFloor`.

    ``arms``: a sequence of arms, each a 1-D sequence of its runs' mean scores (e.g. the runs' mAP@10,
    ``x.mean(axis=1)`` of a runs x queries matrix).  Over the arms with ``n_i >= 2`` runs::

        F = sum_i (n_i - 1) S_i^2 / sum_i (n_i - 1),        df = sum_i (n_i - 1)

    (the one-way ANOVA within-arm mean square).  Arms with one run carry no information and are skipped;
    ``ValueError`` when no arm has two runs or a score is not finite.
    """
    ss, df, used = 0.0, 0, 0
    for i, arm in enumerate(arms):
        x = _as_scores(arm, f"arms[{i}]")
        if x.size >= 2:
            ss += float(np.sum((x - x.mean()) ** 2))
            df += x.size - 1
            used += 1
    if df == 0:
        raise ValueError("pooled_seed_variance needs at least one arm with 2 runs")
    return SeedVarianceFloor(var=ss / df, df=df, n_arms=used)


def _check_floor(floor) -> SeedVarianceFloor | None:
    if floor is None:
        return None
    if not isinstance(floor, SeedVarianceFloor):
        try:
            var, df = floor
        except (TypeError, ValueError):
            raise ValueError(f"seed_var_floor must be a SeedVarianceFloor or a (variance, df) pair, got {floor!r}") \
                from None
        floor = SeedVarianceFloor(var=var, df=df)
    _check_finite(floor.var, "seed_var_floor.var", non_negative=True)
    _check_integer(floor.df, "seed_var_floor.df", 1, "an integer >= 1")
    return floor


def recipe_test(runs_a, runs_b, *, level: float = 0.95, seed_var_floor=None) -> RecipeTest:
    r"""Seed- and query-aware comparison of two training recipes (arms of seed runs).

    ``runs_a``: the ``m >= 2`` runs (seeds) of recipe A, each a 1-D array of per-query scores (or a
    2-D array, runs x queries); ``runs_b``: the ``k >= 2`` runs of recipe B over the same ``n >= 2``
    queries in the same order.  With ``S^2`` the sample variance of an arm's run means,
    ``omegahat^2`` its two-way residual variance and ``dhat_q = abar_q - bbar_q``:

        Delta = mean(run means of A) - mean(run means of B)
        Q     = max(0, var_q(dhat_q) - omegahat^2_A / m - omegahat^2_B / k)
        V     = S^2_A / m + S^2_B / k + Q / n,     t = Delta / sqrt(V)
        df    = V^2 / ((S^2_A/m)^2 / (m-1) + (S^2_B/k)^2 / (k-1) + (Q/n)^2 / (n-1))
        p     = 2 * P(T_df >= |t|),    CI = Delta -+ t_{df, (1+level)/2} * sqrt(V)

    which estimates ``Var(Delta) = sigma_d^2/n + (tau^2_A + omega^2_A/n)/m + (tau^2_B +
    omega^2_B/n)/k`` over seeds and queries (derivation, references and limits in the module
    docstring).  ``V = 0``: ``p = 1`` for identical arms (``Delta = 0``), else ``p = 0``.

    ``seed_var_floor``: a :class:`SeedVarianceFloor` (or ``(F, df)``), e.g. :func:`pooled_seed_variance`
    over every arm of a benchmark: an arm whose ``S^2`` is below ``F`` uses ``F`` (with ``F``'s df in the
    Welch-Satterthwaite sum) -- the robust variant of "Robustness: the seed-variance floor" in the module
    docstring.  ``se`` is never smaller than without the floor; the df may grow (the floor's df replace a
    tight arm's ``m - 1``).

    Raises ``ValueError`` for an arm with fewer than 2 runs (the seed variance cannot be
    estimated from one run: use :func:`compare_arms`, which falls back to the query-only
    :func:`compare_paired`), fewer than 2 queries, or invalid scores (named by arm and run).
    """
    xa, xb = _as_arms(runs_a, runs_b)
    level = _check_level(level)
    for name, x in (("runs_a", xa), ("runs_b", xb)):
        if x.shape[0] < 2:
            raise ValueError(
                f"{name} has {x.shape[0]} run: the recipe test needs at least 2 runs (seeds) per arm to estimate "
                "the seed variance; with one run only the query-only test applies (compare_paired, or compare_arms, "
                "which falls back to it)")
    if xa.shape[1] < 2:
        raise ValueError(f"the recipe test needs at least 2 queries, got {xa.shape[1]}")
    floor = _check_floor(seed_var_floor)
    arrays = recipe_arrays(xa, xb, level, None if floor is None else floor.var, None if floor is None else floor.df)
    flags = {key: bool(arrays.pop(key)) for key in ("floored_a", "floored_b")}
    r = {key: float(val) for key, val in arrays.items()}
    extra = {} if floor is None else dict(method=RECIPE_FLOOR_METHOD, seed_var_floor=float(floor.var),
                                          seed_var_floor_df=int(floor.df), **flags)
    return RecipeTest(ci_level=level, n_runs_a=int(xa.shape[0]), n_runs_b=int(xb.shape[0]),
                      n_queries=int(xa.shape[1]), **r, **extra)


def compare_arms(runs_a, runs_b, *, n_resamples: int = 10_000, seed: int = 0,
                 level: float = 0.95, seed_var_floor=None) -> RecipeTest | QueryOnlyTest:
    """Compare two arms (lists of runs over the same queries): the front door for recipe and system claims.

    * both arms with >= 2 runs: :func:`recipe_test` (``seed_aware=True``; CI and p cover seed
      variance and query sampling; ``n_resamples`` and ``seed`` are unused; ``seed_var_floor`` is
      passed on);
    * otherwise: :func:`compare_paired` on the per-query means over each arm's runs
      (:func:`mean_over_seeds`), as a :class:`QueryOnlyTest` (``seed_aware=False``: it covers
      query sampling only).  With one run per arm this is exactly ``compare_paired(a, b)``.

    Both results have ``diff``, ``ci_low``, ``ci_high``, ``ci_level``, ``p_value``, ``mean_a``,
    ``mean_b``, ``seed_aware``, ``n_runs_a``, ``n_runs_b``, ``n_queries``, ``seed_sd_a``,
    ``seed_sd_b``, ``method`` and ``to_dict()``.
    """
    xa, xb = _as_arms(runs_a, runs_b)
    n_resamples = _check_n_resamples(n_resamples)
    seed = _check_seed(seed)
    level = _check_level(level)
    m, k = xa.shape[0], xb.shape[0]
    if m >= 2 and k >= 2:
        return recipe_test(xa, xb, level=level, seed_var_floor=seed_var_floor)
    a = xa[0] if m == 1 else xa.mean(axis=0)
    b = xb[0] if k == 1 else xb.mean(axis=0)
    t = compare_paired(a, b, n_resamples=n_resamples, seed=seed, level=level)
    return QueryOnlyTest(
        mean_a=t.mean_a, mean_b=t.mean_b, diff=t.diff, ci_low=t.ci_low, ci_high=t.ci_high, ci_level=t.ci_level,
        p_value=t.p_randomization, p_randomization=t.p_randomization, p_wilcoxon=t.p_wilcoxon,
        seed_sd_a=float(np.std(xa.mean(axis=1), ddof=1)) if m >= 2 else None,
        seed_sd_b=float(np.std(xb.mean(axis=1), ddof=1)) if k >= 2 else None,
        n_runs_a=int(m), n_runs_b=int(k), n_queries=t.n, n_resamples=t.n_resamples, seed=t.seed)
