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
    median of ``Q`` (:attr:`reports.stats.RecipeTest.query_var`) over the report's recipe comparisons (the rows of
    its tables judged by the recipe test), which are the comparisons the study was designed for; when there is
    none, the median over recipe tests of every configuration with ``>= 2`` runs against the one with the most runs
    (ties: the lowest first trial number); when only one configuration has ``>= 2`` runs, ``sigma_d^2`` cannot be
    estimated and the MDE is computed without the query term, a lower bound (labelled so).

When no configuration has two included runs the seed noise is *not available* (:attr:`SeedNoise.reason` says
why): the study cannot tell its training noise, and none of its comparisons is seed-aware.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .collect import StudyData, TrialRecord
from .stats import RecipeTest, minimum_detectable_effect, recipe_test

__all__ = ["MDE_ALPHA", "MDE_POWER", "SeedNoise", "pooled_sd", "seed_noise"]

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


def _query_var(repeated: list[list[TrialRecord]], recipe_tests: Sequence[RecipeTest]) -> tuple[float | None, str]:
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


def seed_noise(data: StudyData, recipe_tests: Sequence[RecipeTest] = ()) -> SeedNoise:
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
