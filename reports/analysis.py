"""The analysis of a study, computed once: every number its report shows, as one immutable record.

``python -m reports build`` goes collect -> analysis -> formatting -> files: :func:`reports.collect.collect_study`
reads the study and its runs, :func:`analyse_study` computes a :class:`StudyAnalysis` from them, and the
formatting modules only lay it out -- :mod:`reports.tables` (Markdown, LaTeX, CSV and index.md's summary
paragraph), :mod:`reports.plots` (figures) -- before :mod:`reports.build` writes the files. The analysis imports
no formatting module; the formatting modules import no statistics (:mod:`reports.stats`, :mod:`reports.noise`,
:mod:`reports.importance`). Every record is a frozen dataclass (sequences are tuples, arrays read-only).

A :class:`StudyAnalysis` holds

* :class:`StudySummary`: trials per state, what was left out, compute spent (trial-epochs = sum of
  ``epochs_trained``, CPU hours = sum of ``wall_time_s`` x ``resources.cpu``), the best trial;
* the top-k configurations (:class:`RankedConfig`: parameters without the seed, ranked by their mean objective);
* one :class:`FactorAnalysis` per comparison table (:func:`factor_specs`): its groups (rows) and each row's
  :class:`Comparison` against the baseline with its test and Holm mark;
* the study's seed noise and minimum detectable Δ (:func:`reports.noise.seed_noise`, fed with the distinct recipe
  tests of the comparison tables);
* the hyperparameter importance (:class:`Importance`, :func:`reports.importance.importance_table`), or in
  ``problems`` why there is none.

Comparisons
-----------
A factor's groups are the included trials (COMPLETE with a per-query file) grouped by the values of its keys; the
baseline group comes first, then the others in the spec's order (a categorical's choices). Per group, in the
layout of Table 5 of the DCASE 2022 paper (Primus & Widmer): R@1/5/10 and mAP@10 per run come from the run's
``per_query.csv`` (test split): mAP@10 = mean AP@10, R@k = fraction of queries whose first relevant item has rank
<= k; the group has their means over its runs and the sample standard deviation (``ddof=1``) of mAP@10 -- over
seeds of one configuration, or, in a group that pools configurations, over runs of different configurations.

``Δ mAP@10 = mean_r mAP_r(row) - mean_r mAP_r(baseline)`` against the baseline group, and the row's kind of
comparison (docs/reports.md, "The tables"), decided in this order:

* **exploratory** when another searched parameter takes several values among the row's and the baseline's runs
  (runs without a conditional parameter are not counted for it), or when a sampler (tpe, random) chose the
  configurations: Δ only -- no CI, no p, no mark;
* **recipe** when both have >= 2 runs: 95% CI and two-sided p that cover seed noise and query sampling, from

  - the **paired** recipe test (:func:`reports.stats.paired_recipe_test`, ``SE^2 = S^2_D/m + Q/n`` over the
    per-seed differences) when the row and the baseline ran the same set of distinct seeds: the runs are matched
    by seed (:func:`reports.stats.compare_seeded_arms`); the arms differ only in the factor's keys (nothing else
    varies, see exploratory) and, with split random streams, seed ``s`` gives both the same initial weights and
    data order, so the shared seed component cancels in the differences. The comparison records the measured
    between-arm correlation of the run mAPs (``correlation``). Only from stats version 2 on (below);
  - otherwise the unpaired recipe test (:func:`reports.stats.compare_arms` -> :func:`reports.stats.recipe_test`)
    with the row's runs and the baseline's runs as the arms (``SE^2 = S^2_row/m + S^2_base/k + Q/n``,
    Welch-Satterthwaite df);
* **query-only** otherwise (a single run on one side): the paired percentile bootstrap 95% CI over queries of
  :func:`reports.stats.compare_arms`, with no p-value and no mark (an effect estimate).

Holm-adjusted p-values over the factor's recipe comparisons only (:func:`reports.stats.holm`) and significance
marks on the adjusted p (:func:`reports.stats.significance_mark`). A factor without a baseline group has no
comparisons.

Stats versions
--------------
:attr:`Settings.stats_version` names the method, so that ``python -m reports verify`` recomputes a report with the
method it was built with (the version is recorded in ``inputs.json`` with the other settings):

* **1** -- every recipe row by the unpaired recipe test. Reports whose ``inputs.json`` records no version were
  built with it (:func:`settings_from_record`).
* **2** (:data:`STATS_VERSION`, what a build uses unless told otherwise) -- recipe rows whose arms ran the same
  seeds by the paired recipe test; the tables then show which rows are paired and their measured correlation.
  A study without such rows gives the same numbers as version 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np

from .collect import VARIANT_PARAM, StudyData, TrialRecord
from .noise import SeedNoise, seed_noise
from .stats import (Decision, PairedRecipeTest, QueryOnlyTest, RecipeTest, SequentialDesign, compare_arms,
                    compare_seeded_arms, decide_ablation, holm, mean_over_seeds, significance_mark)

__all__ = [
    "BASELINE",
    "EXPLORATORY",
    "QUERY_ONLY",
    "RECIPE",
    "STATS_VERSION",
    "STATS_VERSIONS",
    "Comparison",
    "FactorAnalysis",
    "FactorSpec",
    "Group",
    "Importance",
    "RankedConfig",
    "Settings",
    "StudyAnalysis",
    "StudySummary",
    "analyse_factor",
    "analyse_study",
    "factor_specs",
    "settings_from_record",
]

#: the stats method a build uses (see "Stats versions" in the module docstring)
STATS_VERSION = 2
#: every stats method that can be recomputed
STATS_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Settings:
    """Settings of a report: ``resamples`` bootstrap / sign-flip draws, ``seed`` of both, top-k rows, and the
    ``stats_version`` of the method (see "Stats versions" in the module docstring)."""

    resamples: int = 10_000
    seed: int = 0
    top_k: int = 10
    stats_version: int = STATS_VERSION

    def __post_init__(self) -> None:
        if self.stats_version not in STATS_VERSIONS:
            raise ValueError(f"stats_version must be one of {', '.join(map(str, STATS_VERSIONS))}, got "
                             f"{self.stats_version!r}")


def settings_from_record(record: dict[str, Any]) -> Settings:
    """The :class:`Settings` recorded in a report's ``inputs.json``; a record without ``stats_version`` was written
    before the version existed, by the method of version 1."""
    return Settings(**{"stats_version": 1, **record})


# ----------------------------------------------------------------------------------------------- the records
#: both arms have >= 2 runs of one configuration each, differing only in the factor's keys: the recipe test
RECIPE = "recipe"
#: a controlled comparison where the row or the baseline has a single run: effect and a query-only CI, no test
QUERY_ONLY = "query-only"
#: the row or the baseline pools configurations (or a sampler chose them): Δ only, no CI, no p, no mark
EXPLORATORY = "exploratory"
#: the kind of the baseline row itself
BASELINE = "baseline"


@dataclass(frozen=True)
class FactorSpec:
    """A comparison table to build: group by ``keys``; Δ against the group whose values are ``baseline``
    (``None``: the first group in level order); ``want_delta=False`` for no Δ columns; ``require_keys``: only
    trials that have every key (a conditional parameter's own table)."""

    name: str
    title: str
    keys: tuple[str, ...]
    baseline: tuple | None = None
    baseline_text: str = ""
    want_delta: bool = True
    require_keys: bool = False


@dataclass(frozen=True)
class Group:
    """One row of a comparison table: the included trials (by number) whose keys take the values ``values``, and
    their test metrics: R@k means, mAP@10 mean and sample sd (``None`` for one run) over the runs, and ``ap``, the
    per-query AP@10 averaged over the runs (:func:`reports.stats.mean_over_seeds`; read-only)."""

    values: tuple
    trials: tuple[TrialRecord, ...]
    n_configs: int
    r1: float
    r5: float
    r10: float
    map10_mean: float
    map10_std: float | None
    ap: np.ndarray


@dataclass(frozen=True)
class Comparison:
    """A row against the baseline. ``kind``: :data:`RECIPE`, :data:`QUERY_ONLY` or :data:`EXPLORATORY`;
    ``test``: the :class:`reports.stats.RecipeTest`, :class:`reports.stats.PairedRecipeTest` or
    :class:`reports.stats.QueryOnlyTest` (``None`` when exploratory); ``p_holm`` and ``mark`` over the factor's
    recipe rows; ``pooled_over``: the searched parameters (besides the keys) that take several values among the
    row's and the baseline's runs; ``paired``: a recipe row judged by the paired test (runs matched by seed), with
    ``correlation``, the measured between-arm correlation of the run mAPs over seeds (``None`` when unpaired, with
    fewer than 3 seeds, or when an arm's run mAPs are all equal)."""

    kind: str
    diff: float
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    mark: str = ""
    test: RecipeTest | PairedRecipeTest | QueryOnlyTest | None = None
    pooled_over: tuple[str, ...] = ()
    paired: bool = False
    correlation: float | None = None
    decision: Decision | None = None


@dataclass(frozen=True)
class FactorAnalysis:
    """One comparison table: ``groups`` (the baseline first when there is one) and, per group, its
    :class:`Comparison` against the baseline (``None`` for the baseline; all ``None`` without one).
    ``n_family``: how many recipe comparisons the Holm family holds."""

    spec: FactorSpec
    groups: tuple[Group, ...]
    comparisons: tuple[Comparison | None, ...]
    has_baseline: bool
    n_family: int

    @property
    def baseline(self) -> Group | None:
        return self.groups[0] if self.has_baseline else None


@dataclass(frozen=True)
class RankedConfig:
    """A configuration (parameters without the seed) of COMPLETE trials: its ``rank`` by mean objective, its
    trials (by number), the objective's mean and sample sd over them (``None`` for one), and the mean test
    metrics of those with a per-query file (``None`` when none has one)."""

    rank: int
    trials: tuple[TrialRecord, ...]
    objective_mean: float
    objective_std: float | None
    map10: float | None
    r1: float | None
    r5: float | None
    r10: float | None


@dataclass(frozen=True)
class StudySummary:
    """Trials per state (``(state, count)`` in :meth:`reports.collect.StudyData.state_counts` order), included and
    left-out trials, queries per run, compute spent and the best trial."""

    state_counts: tuple[tuple[str, int], ...]
    n_trials: int
    n_included: int
    left_out: str  # "left out: 3 pruned (stopped by ASHA), ..." or "left out: none"
    n_queries: int
    trial_epochs: int
    wall_hours: float
    cpu_hours: float
    best: TrialRecord | None


@dataclass(frozen=True)
class Importance:
    """Hyperparameter importance: rows ``(branch, evaluator, param, importance, n_trials)`` as plain Python values,
    and the ``(branch, evaluator, reason)`` of what was not evaluated."""

    rows: tuple[tuple[str, str, str, float, int], ...]
    skipped: tuple[tuple[str, str, str], ...]

    COLUMNS = ("branch", "evaluator", "param", "importance", "n_trials")


@dataclass(frozen=True)
class StudyAnalysis:
    """Everything a study's report shows (see the module docstring); ``problems``: what could not be computed, with
    the reason."""

    data: StudyData
    settings: Settings
    sampled: bool  # a sampler (tpe, random) chose the configurations: not a controlled grid
    summary: StudySummary
    top_configs: tuple[RankedConfig, ...]
    factors: tuple[FactorAnalysis, ...]
    noise: SeedNoise
    importance: Importance | None
    problems: tuple[str, ...] = ()


# ----------------------------------------------------------------------------------------------- factors
def _level_index(data: StudyData, key: str, value: Any) -> tuple:
    """Sort key of a parameter value: its position among a categorical's choices, numbers by value, absent last."""
    if value is None:
        return (2, 0, "")
    d = data.distributions.get(key)
    choices = getattr(d, "choices", None)
    if choices is not None:
        for i, c in enumerate(choices):
            if c == value and type(c) is type(value):
                return (0, i, "")
        for i, c in enumerate(choices):
            if c == value:
                return (0, i, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, float(value), "")
    return (1, 0, str(value))


def _discrete(data: StudyData, key: str) -> bool:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    d = data.distributions.get(key)
    if isinstance(d, CategoricalDistribution):
        return True
    # an int parameter of a grid study takes a few, fixed values: a factor as well
    return isinstance(d, IntDistribution) and data.is_grid


def _varies(trials: Sequence[TrialRecord], key: str) -> bool:
    return len({repr(t.params.get(key)) for t in trials if key in t.params}) > 1


def factor_specs(data: StudyData) -> list[FactorSpec]:
    """Which comparison tables a study gets (see docs/reports.md): the ablation over ``variant``, encoders
    (audio x text), fusion (kind x metadata, Δ against ``none``), data sets (``data.*``), then one table per other
    varied discrete parameter."""
    inc = data.included
    varied = [k for k in data.param_order if _discrete(data, k) and _varies(inc, k)]
    specs: list[FactorSpec] = []
    used: list[tuple[str, ...]] = []
    if VARIANT_PARAM in varied:
        choices = list(getattr(data.distributions[VARIANT_PARAM], "choices", ()))
        present = {t.params.get(VARIANT_PARAM) for t in inc}
        control = (data.sequential or {}).get("control", "full")
        base = control if control in present else next((c for c in choices if c in present), None)
        specs.append(FactorSpec("ablation", "Ablation (leave-one-out)", (VARIANT_PARAM,), (base,),
                                f"variant {base}"))
        used.append((VARIANT_PARAM,))
    enc = tuple(k for k in varied if k.startswith(("audio_encoder.", "text_encoder.")))
    if enc:
        specs.append(FactorSpec("encoders", "Encoder comparison (audio × text)", enc))
        used.append(enc)
    if "fusion.kind" in varied:
        keys = ("fusion.kind",) + tuple(k for k in varied if k.startswith("fusion.metadata"))
        kinds = {t.params.get("fusion.kind") for t in inc}
        if "none" in kinds:
            # the content-only group; with metadata parameters, the first such group in level order
            specs.append(FactorSpec("fusion", "Fusion comparison (kind × metadata)", keys, ("none",),
                                    "fusion.kind none (content only)"))
        else:
            specs.append(FactorSpec("fusion", "Fusion comparison (kind × metadata)", keys, want_delta=False))
        used.append(keys)
    data_keys = tuple(k for k in varied if k.startswith("data."))
    if data_keys:
        specs.append(FactorSpec("data", "Training-data comparison", data_keys))
        used.append(data_keys)
    for k in varied:
        if k == VARIANT_PARAM or (k,) in used:
            continue
        conditional = any(k not in t.params for t in inc)
        specs.append(FactorSpec("factor_" + re.sub(r"[^A-Za-z0-9]+", "_", k).strip("_"), f"Factor {k}", (k,),
                                require_keys=conditional))
    return specs


def _sampled(data: StudyData) -> bool:
    return data.sampler is not None and data.sampler != "grid"


def _pooled_over(data: StudyData, keys: Sequence[str], runs: Sequence[TrialRecord]) -> tuple[str, ...]:
    """Searched parameters besides ``keys`` that take several values among ``runs``. Runs without a parameter are
    not counted for it: a conditional parameter that exists on one side only belongs to that side's level."""
    return tuple(k for k in data.param_order
                 if k not in keys and len({repr(t.params[k]) for t in runs if k in t.params}) > 1)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _group(values: tuple, trials: Sequence[TrialRecord]) -> Group:
    ts = tuple(sorted(trials, key=lambda t: t.number))
    maps = np.array([t.metrics["map10"] for t in ts])

    def mean(key: str) -> float:
        return float(np.mean([t.metrics[key] for t in ts]))

    return Group(values=values, trials=ts, n_configs=len({t.config_key for t in ts}), r1=mean("r1"), r5=mean("r5"),
                 r10=mean("r10"), map10_mean=mean("map10"),
                 map10_std=float(np.std(maps, ddof=1)) if len(ts) > 1 else None,
                 ap=_read_only(mean_over_seeds([t.ap for t in ts])))


def _compare(data: StudyData, keys: Sequence[str], row: Group, base: Group, settings: Settings) -> Comparison:
    """Judge ``row`` against ``base`` (see the module docstring): exploratory when other searched parameters vary
    among their runs or a sampler chose them; else, with stats version 2, :func:`reports.stats.compare_seeded_arms`
    (paired when both ran the same seeds), with version 1 :func:`reports.stats.compare_arms`, on the two arms."""
    pooled = _pooled_over(data, keys, row.trials + base.trials)
    if pooled or _sampled(data):
        maps = [np.array([t.metrics["map10"] for t in g.trials]) for g in (row, base)]
        return Comparison(EXPLORATORY, float(np.mean(maps[0]) - np.mean(maps[1])), pooled_over=pooled)
    runs_a, runs_b = [r.ap for r in row.trials], [b.ap for b in base.trials]
    if settings.stats_version >= 2:
        t = compare_seeded_arms(runs_a, runs_b, seeds_a=[r.seed for r in row.trials],
                                seeds_b=[b.seed for b in base.trials], paired="auto", n_resamples=settings.resamples,
                                seed=settings.seed)
    else:
        t = compare_arms(runs_a, runs_b, n_resamples=settings.resamples, seed=settings.seed)
    if isinstance(t, PairedRecipeTest):
        corr = t.correlation if np.isfinite(t.correlation) else None
        return Comparison(RECIPE, t.diff, t.ci_low, t.ci_high, p_value=t.p_value, test=t, paired=True,
                          correlation=corr)
    if t.seed_aware:
        return Comparison(RECIPE, t.diff, t.ci_low, t.ci_high, p_value=t.p_value, test=t)
    return Comparison(QUERY_ONLY, t.diff, t.ci_low, t.ci_high, test=t)


def _with_holm(comparisons: Sequence[Comparison | None]) -> tuple[tuple[Comparison | None, ...], int]:
    """Holm over the recipe comparisons' p (the others are not tests): their ``p_holm`` and ``mark`` set; returns
    the comparisons and how many the family holds."""
    recipe = [i for i, c in enumerate(comparisons) if c is not None and c.kind == RECIPE]
    out = list(comparisons)
    adjusted = holm([comparisons[i].p_value for i in recipe]) if recipe else []
    for i, p in zip(recipe, adjusted):
        out[i] = replace(out[i], p_holm=float(p), mark=significance_mark(float(p)))
    return tuple(out), len(recipe)


def _is_sequential(data: StudyData, spec: FactorSpec) -> bool:
    return data.sequential is not None and spec.keys == (VARIANT_PARAM,) and not _sampled(data)


def _with_decisions(q: dict[str, Any], groups: Sequence[Group],
                    comparisons: Sequence[Comparison | None]) -> tuple[tuple[Comparison | None, ...], int]:
    """A sequential ablation (``seeds: {min, max, delta}``; :mod:`reports.stats.sequential`): every row's
    :class:`~reports.stats.Decision` as the runner took it (:func:`reports.stats.decide_ablation` on the same runs),
    its repeated CI and repeated p-value (valid over the looks) in place of the fixed-sample ones, ``p_holm`` the
    design's Holm over the decided rows. A row not yet looked at (fewer than ``min`` pairs) keeps its paired test
    with no Holm value and no mark."""
    design = SequentialDesign(min_seeds=int(q["min"]), max_seeds=int(q["max"]), delta=float(q["delta"]),
                              alpha=float(q["alpha"]))
    rows = {g.values[0]: {t.seed: t.ap for t in g.trials if t.seed is not None} for g in groups[1:]}
    control = {t.seed: t.ap for t in groups[0].trials if t.seed is not None}
    decisions = decide_ablation(design, rows, control, [int(s) for s in q["seeds"]])
    out: list[Comparison | None] = [None]
    for g, c in zip(groups[1:], comparisons[1:]):
        d = decisions.get(g.values[0])
        if c is None or d is None or c.kind != RECIPE:
            out.append(c)
            continue
        order = {int(s): i for i, s in enumerate(q["seeds"])}
        pairs = sorted((s for s in rows[g.values[0]] if s in control and s in order), key=order.get)[:d.n]
        a = np.array([float(np.mean(rows[g.values[0]][s])) for s in pairs])
        b = np.array([float(np.mean(control[s])) for s in pairs])
        corr = float(np.corrcoef(a, b)[0, 1]) if len(pairs) >= 3 and a.std() > 0 and b.std() > 0 else None
        out.append(replace(c, diff=d.diff, ci_low=d.ci_low, ci_high=d.ci_high, p_value=d.p_value, p_holm=d.p_holm,
                           mark=significance_mark(d.p_holm), paired=True, correlation=corr, decision=d))
    return tuple(out), sum(d is not None for d in decisions.values())


def analyse_factor(data: StudyData, spec: FactorSpec, settings: Settings) -> FactorAnalysis | None:
    """Group the included trials by ``spec.keys`` and compare the groups with the baseline (see the module
    docstring); ``None`` when fewer than two groups have trials."""
    trials = [t for t in data.included if not spec.require_keys or all(k in t.params for k in spec.keys)]
    by_values: dict[tuple, list[TrialRecord]] = {}
    for t in trials:
        by_values.setdefault(tuple(t.params.get(k) for k in spec.keys), []).append(t)
    if len(by_values) < 2:
        return None
    order = sorted(by_values, key=lambda g: tuple(_level_index(data, k, v) for k, v in zip(spec.keys, g)))
    base: int | None = None
    if spec.want_delta:
        n = len(spec.baseline or ())
        base = 0 if spec.baseline is None else next(
            (i for i, g in enumerate(order) if tuple(g[:n]) == tuple(spec.baseline)), None)
        if base is not None:  # the baseline first (Table 5 of the 2022 paper: "full" on top), then level order
            order.insert(0, order.pop(base))
            base = 0
    groups = tuple(_group(g, by_values[g]) for g in order)
    comps: tuple[Comparison | None, ...] = (None,) * len(groups)
    if base is not None:
        comps = tuple(None if i == base else _compare(data, spec.keys, g, groups[base], settings)
                      for i, g in enumerate(groups))
    if base is not None and _is_sequential(data, spec):
        comps, n_family = _with_decisions(data.sequential, groups, comps)
    else:
        comps, n_family = _with_holm(comps)
    return FactorAnalysis(spec=spec, groups=groups, comparisons=comps, has_baseline=base is not None,
                          n_family=n_family)


def _recipe_tests(factors: Sequence[FactorAnalysis]) -> list[RecipeTest | PairedRecipeTest]:
    """The distinct recipe tests (paired or not) of the factors, keyed by their arms' trial numbers (a pair shown in
    two tables counts once), in table order."""
    seen: dict[tuple, RecipeTest | PairedRecipeTest] = {}
    for f in factors:
        base = f.baseline
        for g, c in zip(f.groups, f.comparisons):
            if base is not None and c is not None and c.kind == RECIPE:
                seen.setdefault((tuple(t.number for t in g.trials), tuple(t.number for t in base.trials)), c.test)
    return list(seen.values())


# ----------------------------------------------------------------------------------------------- the rest
def _summary(data: StudyData) -> StudySummary:
    epochs = sum(int(t.user_attrs.get("epochs_trained") or 0) for t in data.trials)
    wall = sum(float(t.user_attrs.get("wall_time_s") or 0.0) for t in data.trials)
    return StudySummary(state_counts=tuple(data.state_counts().items()), n_trials=len(data.trials),
                        n_included=len(data.included), left_out=data.left_out_summary(),
                        n_queries=len(data.query_keys), trial_epochs=epochs, wall_hours=wall / 3600.0,
                        cpu_hours=wall * data.cpus_per_trial / 3600.0, best=data.best_trial())


def _top_configs(data: StudyData, top_k: int) -> tuple[RankedConfig, ...]:
    """The top-k configurations (params without the seed) of COMPLETE trials by mean objective over their seeds
    (ties: the lowest trial number)."""
    done = [t for t in data.trials if t.state == "COMPLETE" and t.value is not None]
    groups: dict[tuple, list[TrialRecord]] = {}
    for t in done:
        groups.setdefault(t.config_key, []).append(t)
    sign = -1.0 if data.direction == "maximize" else 1.0
    ranked = sorted(groups.values(), key=lambda ts: (sign * float(np.mean([t.value for t in ts])),
                                                     min(t.number for t in ts)))[:top_k]
    out = []
    for rank, ts in enumerate(ranked, start=1):
        ts = sorted(ts, key=lambda t: t.number)
        vals = np.array([t.value for t in ts], dtype=float)
        with_pq = [t for t in ts if t.included]
        m = {k: (float(np.mean([t.metrics[k] for t in with_pq])) if with_pq else None)
             for k in ("map10", "r1", "r5", "r10")}
        out.append(RankedConfig(rank=rank, trials=tuple(ts), objective_mean=float(vals.mean()),
                                objective_std=float(np.std(vals, ddof=1)) if len(ts) > 1 else None, **m))
    return tuple(out)


def _importance(data: StudyData, settings: Settings) -> tuple[Importance | None, str | None]:
    """The importance of ``data``'s parameters, or ``None`` and why (a degenerate study must not stop the report)."""
    try:
        from .importance import importance_table
    except ImportError as exc:
        return None, f"importance table: reports.importance is not available ({exc})"
    try:
        df = importance_table(list(data.frozen), direction=data.direction, seed=settings.seed)
    except Exception as exc:  # noqa: BLE001 - a degenerate study must not stop the report
        return None, f"importance table: {type(exc).__name__}: {exc}"
    cols = Importance.COLUMNS
    rows = tuple(tuple(r[c].item() if hasattr(r[c], "item") else r[c] for c in cols) for _, r in df.iterrows())
    return Importance(rows=rows, skipped=tuple(tuple(s) for s in df.attrs.get("skipped") or ())), None


def analyse_study(data: StudyData, settings: Settings = Settings(), *, importance: bool = True,
                  progress: Callable[[str], None] | None = None) -> StudyAnalysis:
    """The analysis of ``data`` (see the module docstring), deterministic given ``settings``; ``importance=False``
    leaves the importance out (``None``, no problem recorded); ``progress`` is called with a line per step."""
    say = progress or (lambda msg: None)
    factors = []
    for spec in factor_specs(data):
        f = analyse_factor(data, spec, settings)
        if f is not None:
            say(f"comparisons {spec.name}: {len(f.groups)} group(s)")
            factors.append(f)
    problems: list[str] = []
    imp = None
    if importance:
        say("importance (fANOVA, PED-ANOVA per branch)")
        imp, problem = _importance(data, settings)
        problems += [problem] if problem else []
    return StudyAnalysis(data=data, settings=settings, sampled=_sampled(data), summary=_summary(data),
                         top_configs=_top_configs(data, settings.top_k), factors=tuple(factors),
                         noise=seed_noise(data, _recipe_tests(factors)), importance=imp, problems=tuple(problems))
