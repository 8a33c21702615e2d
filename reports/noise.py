"""Seed noise of a study, measured from its own runs, and the smallest difference its design can detect.

A *configuration* is a trial's parameters without the seed (:attr:`reports.collect.TrialRecord.config_key`). When
some configurations have several included runs (seeds), the spread of their scores is training noise:

* **pooled within-configuration sd** of a score ``x`` (the objective ``value``, validation; test mAP@10 from
  ``per_query.csv``) over the ``K`` configurations ``i`` with ``n_i >= 2`` included runs::

      s_i^2    = sample variance (ddof 1) of configuration i's runs
      s_pooled = sqrt( sum_i (n_i - 1) s_i^2 / sum_i (n_i - 1) )

  (the one-way ANOVA within-group estimate; configurations with one run carry no information on it).

* **minimum detectable effect** (MDE) of test mAP@10: :func:`reports.stats.minimum_detectable_effect` (power 0.8,
  two-sided alpha 0.05) for two configurations with ``m`` seeds each and the study's ``n`` test queries, where

  - ``m`` = the most common number of runs among the configurations with ``n_i >= 2`` (ties: the smaller);
  - run variance (each arm) = ``s_pooled^2`` of test mAP@10 (``run_var = tau^2 + omega^2/n``, what the recipe
    test's ``S^2`` estimates);
  - query variance ``sigma_d^2`` (variance over queries of the per-query difference of two configurations): the
    median of ``Q`` (:attr:`reports.stats.RecipeTest.query_var`, or :attr:`reports.stats.PairedRecipeTest.query_var`
    for a paired row) over the report's recipe comparisons (the rows of its tables judged by the recipe test), which are the comparisons the study was designed for; when there is
    none, the median over recipe tests of every configuration with ``>= 2`` runs against the one with the most runs
    (ties: the lowest first trial number); when only one configuration has ``>= 2`` runs, ``sigma_d^2`` cannot be
    estimated and the MDE is computed without the query term, a lower bound (labelled so).

When no configuration has two included runs the seed noise is *not available* (:attr:`SeedNoise.reason` says
why): the study cannot tell its training noise, and none of its comparisons is seed-aware.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .collect import StudyData, TrialRecord
from .stats import PairedRecipeTest, RecipeTest, minimum_detectable_effect, recipe_test

__all__ = ["BIMODALITY_THRESHOLD", "MDE_ALPHA", "MDE_POWER", "SeedNoise", "distribution_stats", "pooled_sd",
           "resampled_type_i", "seed_noise"]

MDE_POWER = 0.8
MDE_ALPHA = 0.05


@dataclass(frozen=True)
class SeedNoise:
    """Seed noise of a study (see the module docstring). ``None`` fields are not available; ``reason`` /
    ``mde_reason`` say why (empty when available)."""

    n_configs: int  # configurations with >= 2 included runs
    n_runs: int  # included runs in them
    sd_objective: float | None  # pooled within-configuration sd of the objective (validation)
    sd_map10: float | None  # pooled within-configuration sd of test mAP@10
    seeds_per_config: int | None  # m of the MDE design
    n_queries: int
    query_var: float | None  # sigma_d^2 used by the MDE (None: unknown, MDE without it)
    query_var_source: str
    mde: float | None  # test mAP@10, AP units (0-1)
    mde_lower_bound: bool = False  # True when the MDE ignores the (unknown) query term
    reason: str = ""
    mde_reason: str = ""
    power: float = MDE_POWER  # the MDE's power ...
    alpha: float = MDE_ALPHA  # ... at this two-sided level

    @property
    def available(self) -> bool:
        return self.sd_map10 is not None


def pooled_sd(groups: Sequence[Sequence[float]]) -> float | None:
    """``sqrt(sum_i (n_i - 1) s_i^2 / sum_i (n_i - 1))`` over the groups with ``n_i >= 2`` values; ``None`` if none."""
    ss, df = 0.0, 0
    for g in groups:
        x = np.asarray(list(g), dtype=np.float64)
        if x.size >= 2:
            ss += float(np.sum((x - x.mean()) ** 2))  # (n_i - 1) s_i^2
            df += x.size - 1
    return float(np.sqrt(ss / df)) if df else None


def _configs(data: StudyData) -> list[list[TrialRecord]]:
    """Included trials grouped by configuration, groups in order of their first trial number."""
    groups: dict[tuple, list[TrialRecord]] = {}
    for t in sorted(data.included, key=lambda t: t.number):
        groups.setdefault(t.config_key, []).append(t)
    return list(groups.values())


def _query_var(repeated: list[list[TrialRecord]],
               recipe_tests: Sequence[RecipeTest | PairedRecipeTest]) -> tuple[float | None, str]:
    """sigma_d^2 for the MDE and where it comes from (see the module docstring)."""
    if recipe_tests:
        q = float(statistics.median(t.query_var for t in recipe_tests))
        return q, f"median Q of the report's {len(recipe_tests)} recipe comparison(s)"
    if len(repeated) >= 2:
        ref = max(repeated, key=lambda ts: (len(ts), -ts[0].number))
        qs = [recipe_test([t.ap for t in ts], [t.ap for t in ref]).query_var for ts in repeated if ts is not ref]
        return (float(statistics.median(qs)),
                f"median Q of {len(qs)} recipe test(s): each configuration with ≥ 2 runs against the one with the "
                f"most runs (trial #{ref[0].number}'s)")
    return None, "unknown (a single configuration with ≥ 2 runs: no pair of configurations to estimate it from)"


def seed_noise(data: StudyData, recipe_tests: Sequence[RecipeTest | PairedRecipeTest] = ()) -> SeedNoise:
    """The seed noise of ``data`` (see the module docstring); ``recipe_tests``: the report's recipe comparisons."""
    n_q = len(data.query_keys)
    repeated = [ts for ts in _configs(data) if len(ts) >= 2]
    if not repeated:
        return SeedNoise(0, 0, None, None, None, n_q, None, "", None,
                         reason="no configuration has 2 included runs (each ran once; seeds: [0, 1, 2] in the spec "
                                "repeats every configuration)",
                         mde_reason="no seed noise measured")
    n_runs = sum(len(ts) for ts in repeated)
    sd_obj = pooled_sd([[t.value for t in ts if t.value is not None] for ts in repeated])
    sd_map = pooled_sd([[t.metrics["map10"] for t in ts] for ts in repeated])
    counts = Counter(len(ts) for ts in repeated)
    m = min(counts, key=lambda n: (-counts[n], n))  # the most common number of runs; ties: the smaller
    q, source = _query_var(repeated, recipe_tests)
    common = dict(n_configs=len(repeated), n_runs=n_runs, sd_objective=sd_obj, sd_map10=sd_map, seeds_per_config=m,
                  n_queries=n_q, query_var=q, query_var_source=source)
    if n_q < 2:
        return SeedNoise(**common, mde=None, mde_reason=f"{n_q} query per run")
    run_var, qv = sd_map**2, (q if q is not None else 0.0)
    if run_var + qv <= 0.0:
        return SeedNoise(**common, mde=None, mde_reason="no variance: the runs of every repeated configuration "
                                                        "score identically")
    mde = minimum_detectable_effect(n_runs_a=m, n_runs_b=m, n_queries=n_q, run_var_a=run_var, run_var_b=run_var,
                                    query_var=qv, alpha=MDE_ALPHA, power=MDE_POWER)
    return SeedNoise(**common, mde=mde, mde_lower_bound=q is None)


# ------------------------------------------------------------------------------------------------------------------
# the seed distribution of one configuration, as it is


#: A bimodality coefficient above this (the value of a uniform distribution) hints at two modes (SAS, Pfister et al.
#: 2013, "Good things peak in pairs", Front. Psychol. 4:700).
BIMODALITY_THRESHOLD = 5.0 / 9.0


def distribution_stats(values: Sequence[float], *, level: float = 0.95) -> dict:
    """What one configuration's run scores (e.g. test mAP@10 over seeds) look like, with ``n`` runs ``x_i``:

    * ``mean``, ``sd`` (ddof 1), ``median``, ``min``, ``max``; ``sd_ci``: the chi-square CI of the sd,
      ``sqrt((n-1) s^2 / chi2_{n-1, (1 +- level)/2})`` (exact for normal runs only);
    * ``skew``: the adjusted Fisher-Pearson ``G1 = sqrt(n(n-1))/(n-2) * m3 / m2^1.5`` (``n >= 3``) and
      ``excess_kurtosis`` ``G2 = (n-1)/((n-2)(n-3)) * ((n+1) (m4/m2^2 - 3) + 6)`` (``n >= 4``), with
      ``m_r = mean((x - mean)^r)`` (what ``scipy.stats.skew/kurtosis(bias=False)`` compute);
    * ``bimodality_coefficient`` ``BC = (G1^2 + 1) / (G2 + 3 (n-1)^2 / ((n-2)(n-3)))``: above 5/9 hints at two
      modes (or a heavy skew);
    * ``largest_gap``: the widest gap between neighbouring sorted runs, its ends and its size in sds (a gap of
      several sds among 20 runs is a second mode or an outlier);
    * ``shapiro_w``, ``shapiro_p``: Shapiro-Wilk test of normality (``n >= 3``; ``None`` when every run is equal).

    Fields that need more runs are ``None``.
    """
    from scipy import stats

    x = np.asarray(list(values), dtype=np.float64)
    n = x.size
    if n < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"distribution_stats needs at least 2 finite values, got {n}")
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    dev = x - mean
    m2, m3, m4 = (float(np.mean(dev**r)) for r in (2, 3, 4))
    skew = kurt = bc = None
    if n >= 3 and m2 > 0:
        skew = math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5
    if n >= 4 and m2 > 0:
        kurt = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * (m4 / m2**2 - 3.0) + 6.0)
        bc = (skew**2 + 1.0) / (kurt + 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    xs = np.sort(x)
    gaps = np.diff(xs)
    i = int(np.argmax(gaps))
    gap = {"gap": float(gaps[i]), "lower": float(xs[i]), "upper": float(xs[i + 1]),
           "gap_over_sd": float(gaps[i] / sd) if sd > 0 else None}
    sw_w = sw_p = None
    if n >= 3 and sd > 0:
        sw = stats.shapiro(x)
        sw_w, sw_p = float(sw.statistic), float(sw.pvalue)
    lo_q, hi_q = (1 + level) / 2, (1 - level) / 2
    sd_ci = [math.sqrt((n - 1) * sd**2 / stats.chi2.ppf(lo_q, n - 1)),
             math.sqrt((n - 1) * sd**2 / stats.chi2.ppf(hi_q, n - 1))]
    return {"n": int(n), "mean": mean, "sd": sd, "sd_ci": sd_ci, "median": float(np.median(x)),
            "min": float(xs[0]), "max": float(xs[-1]), "skew": skew, "excess_kurtosis": kurt,
            "bimodality_coefficient": bc, "largest_gap": gap, "shapiro_w": sw_w, "shapiro_p": sw_p}


def resampled_type_i(x: np.ndarray, arm_size: int, *, n_splits: int = 2000, seed: int = 0,
                     alphas: Sequence[float] = (0.05, 0.01)) -> dict:
    """Type-I error of the recipe test measured by resampling real runs of **one** configuration.

    ``x``: runs x queries (per-query scores of ``N`` runs that differ only in their seed). Each of ``n_splits``
    random splits draws two disjoint arms of ``arm_size`` runs (``2 * arm_size <= N``); both are the same recipe,
    so every rejection is a false positive. Two tests per split:

    * ``welch``: :func:`reports.stats.recipe_test` as it is by default;
    * ``floor``: with the seed-variance floor (``seed_var_floor``) pooled over the two arms **and** the ``N - 2k``
      runs left out (one group), as a benchmark pools it over its other arms.

    Nothing is drawn from a normal: the rates are those of the runs as they are (sampled without replacement, so a
    little conservative when ``2k`` is close to ``N``). Splits share runs, so the rate's error is larger than a
    binomial sd over ``n_splits`` says; the finite number of runs is the limit. Returns ``{"arm_size", "n_runs",
    "n_splits", "welch": {alpha: rate}, "floor": {alpha: rate}}`` (alphas as strings, e.g. ``"0.05"``).
    """
    from .stats import recipe_arrays

    x = np.asarray(x, dtype=np.float64)
    n_runs, n_q = x.shape
    k = int(arm_size)
    if k < 2 or 2 * k > n_runs:
        raise ValueError(f"resampled_type_i: arm_size {k} needs 2 <= arm_size and 2 * arm_size <= {n_runs} runs")
    rng = np.random.default_rng(seed)
    run = x.mean(axis=1)
    rest_df = max(0, n_runs - 2 * k - 1)
    chunk = max(1, (1 << 21) // (k * n_q))
    p_welch, p_floor = [], []
    done = 0
    while done < n_splits:
        c = min(chunk, n_splits - done)
        perm = np.argsort(rng.random((c, n_runs)), axis=1)
        ia, ib, rest = perm[:, :k], perm[:, k:2 * k], perm[:, 2 * k:]
        ss = sum(((run[i] - run[i].mean(axis=1, keepdims=True)) ** 2).sum(axis=1) for i in (ia, ib))
        if rest_df:
            ss = ss + ((run[rest] - run[rest].mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        floor_df = 2 * (k - 1) + rest_df
        xa, xb = x[ia], x[ib]
        p_welch.append(recipe_arrays(xa, xb, 0.95)["p_value"])
        p_floor.append(recipe_arrays(xa, xb, 0.95, ss / floor_df, floor_df)["p_value"])
        done += c
    pw, pf = np.concatenate(p_welch), np.concatenate(p_floor)
    return {"arm_size": k, "n_runs": int(n_runs), "n_splits": int(n_splits),
            "welch": {str(a): float(np.mean(pw < a)) for a in alphas},
            "floor": {str(a): float(np.mean(pf < a)) for a in alphas}}
