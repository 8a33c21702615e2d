"""Report tables: what they hold (summary, top configurations, ablation, factor comparisons, importance) and how
they are written (Markdown, LaTeX booktabs, CSV) with fixed formatting, so equal inputs give byte-identical files.

A :class:`Table` keeps two views of every row: raw values for the CSV file (``rows``; floats written with 10
significant digits) and display cells for Markdown / LaTeX (``cells``; metrics in percent with 2 decimals, as in
the papers' tables). ``python -m reports verify`` compares the CSV cells.

Comparison tables (:func:`comparison_table`) group the included trials (COMPLETE with a per-query file) by the
values of one or more parameters; the baseline group comes first, then the others in the spec's order. Per group
(row), in the layout of Table 5 of the DCASE 2022 paper (Primus & Widmer):

* R@1/5/10 and mAP@10 per run come from the run's ``per_query.csv`` (test split): mAP@10 = mean AP@10,
  R@k = fraction of queries whose first relevant item has rank <= k; the row shows R@k as means over its runs and
  ``mAP@10`` as mean ± sample standard deviation (``ddof=1``) over its runs -- seeds of one configuration, or, in a
  row that pools configurations ("N (K configs)"), runs of different configurations (the note says which);
* ``Δ mAP@10 = mean_r mAP_r(row) - mean_r mAP_r(baseline)`` against the baseline group, and the row's
  ``comparison`` (DESIGN.md, "Comparisons"), decided in this order:

  - **exploratory** when another searched parameter takes several values among the row's and the baseline's runs
    (runs without a conditional parameter are not counted for it), or when a sampler (tpe, random) chose the
    configurations: Δ only -- no CI, no p, no mark (the importance table is the tool; the note names the pooled
    parameters and the controlled follow-up, :func:`followup_command`);
  - **recipe** when both have >= 2 runs: :func:`reports.stats.compare_arms` -> :func:`reports.stats.recipe_test`
    with the row's runs and the baseline's runs as the arms (``SE^2 = S^2_row/m + S^2_base/k + Q/n``,
    Welch-Satterthwaite df): 95% CI and two-sided p that cover seed noise and query sampling;
  - **query-only** otherwise (a single run on one side): the paired percentile bootstrap 95% CI over queries of
    :func:`reports.stats.compare_arms`, labelled as such, with no p-value and no mark (an effect estimate);

* Holm-adjusted p-values over the table's recipe comparisons only (:func:`reports.stats.holm`) and significance
  marks on the adjusted p (:func:`reports.stats.significance_mark`).

A table without a baseline group has no Δ columns. The summary table reports the study's seed noise
(:mod:`reports.noise`): pooled within-configuration sd and the minimum detectable Δ of its design.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from .collect import VARIANT_PARAM, StudyData, TrialRecord
from .noise import MDE_ALPHA, MDE_POWER, SeedNoise, seed_noise
from .render import Cell, Column, csv_text, latex_escape, latex_label, latex_table, markdown_table
from .stats import compare_arms, holm, mean_over_seeds, significance_mark

__all__ = [
    "Column",
    "Settings",
    "Table",
    "comparison_table",
    "deltas_caption",
    "followup_command",
    "factor_specs",
    "FactorSpec",
    "importance_to_table",
    "latex_escape",
    "study_tables",
    "summary_table",
    "top_configs_table",
]

DASH = "–"


@dataclass(frozen=True)
class Settings:
    """Resampling settings of a report: ``resamples`` bootstrap / sign-flip draws, ``seed`` of both, top-k rows."""

    resamples: int = 10_000
    seed: int = 0
    top_k: int = 10

    def to_dict(self) -> dict[str, int]:
        return {"resamples": self.resamples, "seed": self.seed, "top_k": self.top_k}


@dataclass
class Table:
    """One report table (see the module docstring). ``label_columns`` name the CSV columns that identify a row."""

    name: str
    title: str
    csv_columns: list[str]
    rows: list[dict[str, Any]]
    columns: list[Column]
    cells: list[list[Cell]]
    notes: list[str] = field(default_factory=list)
    label_columns: list[str] = field(default_factory=list)
    #: not written: what figures and index.md need (comparison tables: ``group_ap`` {row name: per-query AP@10},
    #: ``deltas`` (with each row's ``comparison``), ``recipe_tests``; summary: ``seed_noise``)
    extra: dict[str, Any] = field(default_factory=dict)

    # ---- renderers (reports.render lays the cells out)
    def to_csv(self) -> str:
        return csv_text(self.csv_columns, [[csv_value(row.get(c)) for c in self.csv_columns] for row in self.rows])

    def to_markdown(self) -> str:
        out = [f"## {self.title}", "", markdown_table(self.columns, self.cells, empty="(no rows)").rstrip("\n")]
        if self.notes:
            out.append("")
            out += _join_notes(self.notes)
        return "\n".join(out) + "\n"

    def to_latex(self) -> str:
        return latex_table(self.columns, self.cells, caption=latex_escape(self.title),
                           label=f"tab:{latex_label(self.name)}", small=True, notes=self.notes,
                           comment=f"{self.name}: generated by python -m reports build; "
                                   "needs \\usepackage{booktabs}")

    def row_label(self, i: int) -> str:
        """How verify names row ``i``: its label columns (``key=value, ...``), else its 1-based number."""
        row = self.rows[i]
        if self.label_columns:
            return ", ".join(f"{c}={csv_value(row.get(c))}" for c in self.label_columns)
        return f"row {i + 1}"


def _join_notes(notes: Sequence[str]) -> list[str]:
    out: list[str] = []
    for n in notes:
        if out:
            out.append("")
        out.append(n)
    return out


def csv_value(v: Any) -> str:
    """Fixed CSV formatting: floats with 10 significant digits, NaN/None empty, bools lower-case."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return ""
        return format(f, ".10g")
    if isinstance(v, (list, tuple)):
        return " ".join(csv_value(x) for x in v)
    return str(v)


# ----------------------------------------------------------------------------------------------- formatting
def pct(v: float | None) -> str:
    return DASH if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100.0 * v:.2f}"


def pp(v: float | None) -> str:
    return DASH if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100.0 * v:+.2f}"


def p_text(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return DASH
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def p_cell(p: float | None, mark: str = "") -> Cell:
    text = p_text(p)
    md = f"{text} {mark}".strip()
    tex = latex_escape(text) + (f"$^{{{mark}}}$" if mark else "")
    return (md, tex)


def mean_std_cell(mean: float, std: float | None) -> Cell:
    if std is None or math.isnan(std):
        return pct(mean)
    return (f"{pct(mean)} ± {100.0 * std:.2f}", f"{pct(mean)} $\\pm$ {100.0 * std:.2f}")


def value_text(v: Any) -> str:
    """A parameter value for display: floats with 4 significant digits, missing as an en dash."""
    if v is None:
        return DASH
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return format(v, ".4g")
    return str(v)


# ----------------------------------------------------------------------------------------------- comparisons
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
        base = "full" if "full" in present else next((c for c in choices if c in present), None)
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


# ---- what a comparison row is (CSV column ``comparison``)
#: both arms have >= 2 runs of one configuration each, differing only in the table's keys: the recipe test
RECIPE = "recipe"
#: a controlled comparison where the row or the baseline has a single run: effect and a query-only CI, no test
QUERY_ONLY = "query-only"
#: the row or the baseline pools configurations (or a sampler chose them): Δ only, no CI, no p, no mark
EXPLORATORY = "exploratory"
BASELINE = "baseline"


@dataclass
class _Group:
    """One row of a comparison table: the included trials whose ``spec.keys`` take the values ``values``."""

    values: tuple
    trials: list[TrialRecord]

    @property
    def n_configs(self) -> int:
        return len({t.config_key for t in self.trials})

    @property
    def maps(self) -> np.ndarray:
        return np.array([t.metrics["map10"] for t in self.trials])

    def metric(self, key: str) -> float:
        return float(np.mean([t.metrics[key] for t in self.trials]))

    @property
    def map10_std(self) -> float | None:
        return float(np.std(self.maps, ddof=1)) if len(self.trials) > 1 else None

    def runs_text(self) -> str:
        """``1 run`` / ``3 runs, seeds of one configuration`` / ``4 runs of 3 different configurations``."""
        n, k = len(self.trials), self.n_configs
        if n == 1:
            return "1 run"
        return f"{n} runs, seeds of one configuration" if k == 1 else f"{n} runs of {k} different configurations"


@dataclass
class _Comparison:
    """A row against the baseline. ``kind``: :data:`RECIPE`, :data:`QUERY_ONLY` or :data:`EXPLORATORY`; ``pooled_over``:
    the searched parameters (besides the keys) that take several values among the row's and the baseline's runs."""

    kind: str
    diff: float
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    mark: str = ""
    test: Any = None
    pooled_over: list[str] = field(default_factory=list)


def _sampled(data: StudyData) -> bool:
    """A sampler (tpe, random) chose the configurations: not a controlled grid."""
    return data.sampler is not None and data.sampler != "grid"


def _pooled_over(data: StudyData, keys: Sequence[str], runs: Sequence[TrialRecord]) -> list[str]:
    """Searched parameters besides ``keys`` that take several values among ``runs``. Runs without a parameter are
    not counted for it: a conditional parameter that exists on one side only belongs to that side's level."""
    return [k for k in data.param_order
            if k not in keys and len({repr(t.params[k]) for t in runs if k in t.params}) > 1]


def _compare(data: StudyData, keys: Sequence[str], row: _Group, base: _Group, settings: Settings) -> _Comparison:
    """Judge ``row`` against ``base`` (see the module docstring): exploratory when other searched parameters vary
    among their runs or a sampler chose them; else :func:`reports.stats.compare_arms` on the two arms of runs."""
    pooled = _pooled_over(data, keys, row.trials + base.trials)
    if pooled or _sampled(data):
        return _Comparison(EXPLORATORY, float(np.mean(row.maps) - np.mean(base.maps)), pooled_over=pooled)
    t = compare_arms([r.ap for r in row.trials], [b.ap for b in base.trials], n_resamples=settings.resamples,
                     seed=settings.seed)
    if t.seed_aware:
        return _Comparison(RECIPE, t.diff, t.ci_low, t.ci_high, p_value=t.p_value, test=t)
    return _Comparison(QUERY_ONLY, t.diff, t.ci_low, t.ci_high, test=t)


def _holm_marks(comparisons: Sequence[_Comparison | None]) -> int:
    """Holm over the recipe comparisons' p (the others are not tests); sets ``p_holm`` and ``mark``; returns how
    many comparisons the family holds."""
    recipe = [c for c in comparisons if c is not None and c.kind == RECIPE]
    for c, p in zip(recipe, holm([c.p_value for c in recipe]) if recipe else []):
        c.p_holm = float(p)
        c.mark = significance_mark(c.p_holm)
    return len(recipe)


def comparison_table(data: StudyData, spec: FactorSpec, settings: Settings) -> Table | None:
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
    groups = [_Group(g, sorted(by_values[g], key=lambda t: t.number)) for g in order]
    comps: list[_Comparison | None] = [None] * len(groups)
    if base is not None:
        comps = [None if i == base else _compare(data, spec.keys, g, groups[base], settings)
                 for i, g in enumerate(groups)]
    n_family = _holm_marks(comps)

    csv_columns = list(spec.keys) + ["n_runs", "n_configs", "trials", "seeds", "r1", "r5", "r10", "map10_mean",
                                     "map10_std"]
    columns = [Column(k, latex=r"\texttt{" + latex_escape(k) + "}", align="l") for k in spec.keys]
    columns += [Column("Runs"), Column("R@1"), Column("R@5"), Column("R@10"), Column("mAP@10")]
    if base is not None:
        csv_columns += ["baseline", "comparison", "seed_aware", "delta_map10", "ci_low", "ci_high", "p_value",
                        "p_holm", "mark", "pooled_over"]
        columns += [Column("Δ mAP@10", r"$\Delta$ mAP@10"), Column("95% CI", r"95\% CI"), Column("p", "$p$"),
                    Column("p (Holm)", "$p$ (Holm)"), Column("Comparison", align="l")]
    rows, cells = [], []
    for g, c in zip(groups, comps):
        ts = g.trials
        row: dict[str, Any] = dict(zip(spec.keys, g.values))
        row.update({"n_runs": len(ts), "n_configs": g.n_configs, "trials": [t.number for t in ts],
                    "seeds": [t.seed if t.seed is not None else "" for t in ts], "r1": g.metric("r1"),
                    "r5": g.metric("r5"), "r10": g.metric("r10"), "map10_mean": g.metric("map10"),
                    "map10_std": g.map10_std})
        runs = str(len(ts)) if g.n_configs == 1 else f"{len(ts)} ({g.n_configs} configs)"
        cell: list[Cell] = [value_text(v) for v in g.values]
        cell += [runs, pct(row["r1"]), pct(row["r5"]), pct(row["r10"]), mean_std_cell(row["map10_mean"],
                                                                                      g.map10_std)]
        if base is not None:
            row.update(_delta_row(c))
            cell += _delta_cells(c)
        rows.append(row)
        cells.append(cell)

    notes = [_metrics_note(data, groups)]
    if base is not None:
        notes += _delta_notes(data, spec, groups, comps, n_family, settings)
    elif spec.want_delta:
        notes.append(f"No Δ columns: the baseline ({spec.baseline_text or spec.baseline}) has no included runs.")
    if spec.keys == (VARIANT_PARAM,) and data.variants:
        shown = [(name, over) for name, over in data.variants.items() if (name,) in by_values]
        notes.append("Variants: " + "; ".join(
            f"{name} = " + (", ".join(f"{k}={value_text(v)}" for k, v in over.items()) or "the base configuration")
            for name, over in shown) + ".")
    if spec.require_keys:
        notes.append(f"Only trials where {', '.join(spec.keys)} exists (a conditional parameter).")
    names = [_group_name(g) for g in groups]
    extra: dict[str, Any] = {"group_ap": {n: mean_over_seeds([t.ap for t in g.trials]) for n, g in zip(names, groups)}}
    if base is not None:
        extra["deltas"] = [{"name": n, "delta": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high,
                            "p_holm": c.p_holm, "comparison": c.kind}
                           for n, c in zip(names, comps) if c is not None]
        # keyed by the arms' trial numbers, so that the summary counts a pair shown in two tables once
        extra["recipe_tests"] = {(tuple(t.number for t in g.trials), tuple(t.number for t in groups[base].trials)):
                                 c.test for g, c in zip(groups, comps) if c is not None and c.kind == RECIPE}
    return Table(name=spec.name, title=spec.title, csv_columns=csv_columns, rows=rows, columns=columns, cells=cells,
                 notes=notes, label_columns=list(spec.keys), extra=extra)


_CAPTIONS = {RECIPE: "seed-aware 95% CIs (recipe test)",
             QUERY_ONLY: "query-only 95% CIs (query sampling only, no test)",
             EXPLORATORY: "exploratory points (pooled configurations: no CI, no test)"}


def deltas_caption(kinds: Iterable[str]) -> str:
    """What a Δ forest plot of comparisons of these kinds shows, e.g. ``Δ mAP@10 with seed-aware 95% CIs (recipe
    test)`` (DESIGN.md: every figure says which comparison it shows)."""
    present = set(kinds)
    shown = [_CAPTIONS[k] for k in (RECIPE, QUERY_ONLY, EXPLORATORY) if k in present]
    return "Δ mAP@10 with " + "; ".join(shown) if shown else "Δ mAP@10"


def _group_name(g: _Group) -> str:
    return ", ".join(value_text(v) for v in g.values)


def _delta_row(c: _Comparison | None) -> dict[str, Any]:
    """The CSV cells of the Δ columns (``c`` None: the baseline row)."""
    if c is None:
        return {"baseline": True, "comparison": BASELINE, "seed_aware": None, "delta_map10": None, "ci_low": None,
                "ci_high": None, "p_value": None, "p_holm": None, "mark": "", "pooled_over": []}
    return {"baseline": False, "comparison": c.kind, "seed_aware": c.kind == RECIPE, "delta_map10": c.diff,
            "ci_low": c.ci_low, "ci_high": c.ci_high, "p_value": c.p_value, "p_holm": c.p_holm, "mark": c.mark,
            "pooled_over": c.pooled_over}


def _delta_cells(c: _Comparison | None) -> list[Cell]:
    """The display cells of the Δ columns: Δ, CI (query-only CIs say so), p, p (Holm) with mark, comparison."""
    if c is None:
        return ["(baseline)", DASH, DASH, DASH, DASH]
    if c.kind == EXPLORATORY:
        return [pp(c.diff), DASH, DASH, DASH, EXPLORATORY]
    ci = f"[{pp(c.ci_low)}, {pp(c.ci_high)}]"
    if c.kind == QUERY_ONLY:
        return [pp(c.diff), f"{ci} (query-only)", DASH, DASH, QUERY_ONLY]
    return [pp(c.diff), ci, p_cell(c.p_value), p_cell(c.p_holm, c.mark), RECIPE]


def _names(groups: Sequence[_Group]) -> str:
    return ", ".join(_group_name(g) for g in groups)


def _metrics_note(data: StudyData, groups: Sequence[_Group]) -> str:
    """What the metric columns are; the sd's description is true for every row (seeds, or configurations)."""
    head = (f"Test split, {len(data.query_keys)} queries per run; metrics in percent from each run's per_query.csv. "
            "R@k: means over the row's runs; mAP@10: mean ± sample standard deviation (ddof 1) over the row's runs")
    pooled = [g for g in groups if g.n_configs > 1]
    seeds = [g for g in groups if g.n_configs == 1 and len(g.trials) > 1]
    single = "" if all(len(g.trials) > 1 for g in groups) else " A row of one run has no sd."
    if not pooled:
        return head + (" (seeds of one configuration)." if seeds else ".") + single
    each = "; ".join(f"{_group_name(g)}: sd over {len(g.trials)} runs of {g.n_configs} configurations"
                     for g in pooled)
    tail = "; the other rows: sd over the row's runs (seeds of one configuration)" if seeds else ""
    return (head + f". Rows that pool different configurations (Runs: \"N (K configs)\"), whose sd is not seed "
            f"noise: {each}{tail}." + single)


def followup_command(data: StudyData) -> str:
    """The controlled follow-up of a search: the ablation spec started from the study's incumbent (``base:
    {study, storage, trial: best}``, :func:`studies.spec.base_from_study`); the storage is left out when it is
    the runner's default ``runs/<name>/optuna.db``."""
    default = re.search(r"(^sqlite:///|/)runs/" + re.escape(data.name) + r"/optuna\.db$", data.storage or "")
    where = "" if default else f", storage: {data.storage}"
    return f"python -m studies run studies/ablation.yaml --set 'base={{study: {data.name}{where}, trial: best}}'"


def _delta_notes(data: StudyData, spec: FactorSpec, groups: Sequence[_Group], comps: Sequence[_Comparison | None],
                 n_family: int, settings: Settings) -> list[str]:
    """One note for Δ and one per kind of comparison present in the table (docs/reports.md, "The tables")."""
    base = next(g for g, c in zip(groups, comps) if c is None)
    base_label = spec.baseline_text or ", ".join(f"{k} {value_text(v)}" for k, v in zip(spec.keys, base.values))
    of_kind = {kind: [(g, c) for g, c in zip(groups, comps) if c is not None and c.kind == kind]
               for kind in (RECIPE, QUERY_ONLY, EXPLORATORY)}
    notes = [f"Δ mAP@10 (percentage points) against {base_label}, whose row has {base.runs_text()}: mean mAP@10 of "
             "the row's runs minus that of the baseline's runs. Comparison: how each row is judged — recipe "
             "(seed-aware test), query-only (an effect estimate, no test) or exploratory (pooled configurations, no "
             "test)."]
    if of_kind[RECIPE]:
        notes.append(
            f"recipe ({_names([g for g, _ in of_kind[RECIPE]])}): the row's runs and the baseline's runs are two arms "
            "of seeds of one configuration each; 95% CI and two-sided p of the recipe t-test over seeds and queries "
            "(reports.stats.recipe_test: SE² = S²_row/m + S²_baseline/k + Q/n, Welch–Satterthwaite df), which "
            f"covers training (seed) noise and query sampling; p (Holm): Holm-adjusted over the {n_family} recipe "
            "comparison(s) of this table; * p<0.05, ** p<0.01, *** p<0.001 (Holm).")
    if of_kind[QUERY_ONLY]:
        reasons: dict[str, list[_Group]] = {}
        for g, _ in of_kind[QUERY_ONLY]:
            reasons.setdefault(_single_sides(g, base), []).append(g)
        single = "; ".join(f"{_names(gs)}: {why}" for why, gs in reasons.items())
        notes.append(
            f"query-only ({single}): 95% CI = paired percentile bootstrap over queries of per-query AP@10 averaged "
            f"over each side's runs ({settings.resamples} resamples, seed {settings.seed}). It covers query sampling "
            "only, not training (seed) noise, so these rows get no p-value and no mark and are not in the Holm "
            "family: an effect estimate, not a test. For a test give the row and the baseline ≥ 3 seeds each.")
    if of_kind[EXPLORATORY]:
        notes.append(_exploratory_note(data, spec, base, of_kind[EXPLORATORY]))
    return notes


def _single_sides(row: _Group, base: _Group) -> str:
    """``the row has one run`` / ``the baseline has one run`` / ``the row and the baseline have one run each``."""
    sides = [s for s, g in (("the row", row), ("the baseline", base)) if len(g.trials) == 1]
    return " and ".join(sides) + (" have one run each" if len(sides) == 2 else " has one run")


def _exploratory_note(data: StudyData, spec: FactorSpec, base: _Group,
                      rows: Sequence[tuple[_Group, _Comparison]]) -> str:
    what = [f"row {_group_name(g)} " + ("pools " if g.n_configs > 1 else "is ") + g.runs_text() for g, _ in rows]
    if base.n_configs > 1:
        what.append(f"the baseline {_group_name(base)} pools {base.runs_text()}")
    pooled = [k for k in data.param_order if any(k in c.pooled_over for _, c in rows)]
    listed = "; ".join(what)
    text = (f"exploratory ({_names([g for g, _ in rows])}): Δ only, no CI, no p-value, no mark. "
            f"{listed[0].upper()}{listed[1:]}.")
    if pooled:
        text += (f" Other searched parameters vary within or between them ({', '.join(pooled)}), so Δ mixes the "
                 f"effect of {', '.join(spec.keys)} with theirs and with seed noise.")
    if _sampled(data):
        text += (f" The {data.sampler} sampler chose which configurations ran (not a controlled grid); the importance "
                 "table is the tool for a sampled study.")
    return (text + " To test an effect, run a controlled follow-up from this study's incumbent (best trial) with ≥ 3 "
            f"seeds per configuration, e.g. {followup_command(data)} (a leave-one-out ablation), or a grid over "
            f"{', '.join(spec.keys)} with that base and seeds: [0, 1, 2].")


# ----------------------------------------------------------------------------------------------- summary
def summary_table(data: StudyData, noise: SeedNoise | None = None) -> Table:
    """Trials per state, what was left out, compute spent, the seed noise and the best trial, as a two-column
    table. ``noise``: the study's seed noise (default :func:`reports.noise.seed_noise` without the report's recipe
    comparisons; :func:`study_tables` passes them)."""
    noise = seed_noise(data) if noise is None else noise
    counts = data.state_counts()
    epochs = sum(int(t.user_attrs.get("epochs_trained") or 0) for t in data.trials)
    wall = sum(float(t.user_attrs.get("wall_time_s") or 0.0) for t in data.trials)
    cpu_h = wall * data.cpus_per_trial / 3600.0
    best = data.best_trial()
    rows: list[tuple[str, Any, str]] = [
        ("study", data.name, data.name), ("storage", data.storage, data.storage),
        ("sampler", data.sampler or "", data.sampler or DASH), ("scheduler", data.scheduler or "", data.scheduler or DASH),
        ("objective", f"{data.metric} ({data.direction})", f"{data.metric} ({data.direction})"),
        ("trials", len(data.trials), str(len(data.trials)))]
    rows += [(f"trials {s}", n, str(n)) for s, n in counts.items()]
    rows += [("included in comparisons", len(data.included), str(len(data.included))),
             ("left out", data.left_out_summary().removeprefix("left out: "),
              data.left_out_summary().removeprefix("left out: ")),
             ("queries per run", len(data.query_keys), str(len(data.query_keys)))]
    rows += _noise_rows(data, noise)
    rows += [("trial-epochs", epochs, str(epochs)),
             ("wall time (h, sum over trials)", wall / 3600.0, f"{wall / 3600.0:.2f}"),
             ("CPU time (h)", cpu_h, f"{cpu_h:.2f} ({data.cpus_per_trial:g} CPU/trial; {data.cpus_source})")]
    if best is not None:
        rows += [("best trial", best.number, f"#{best.number}"),
                 (f"best {data.metric}", best.value, f"{best.value:.4f}"),
                 ("best test mAP@10", best.metrics.get("map10"), pct(best.metrics.get("map10")) if best.metrics else DASH),
                 ("best params", _params_text(best.params), _params_text(best.params) or DASH)]
    return Table(name="summary", title=f"Study {data.name}: summary", csv_columns=["quantity", "value"],
                 rows=[{"quantity": q, "value": v} for q, v, _ in rows],
                 columns=[Column("Quantity", align="l"), Column("Value", align="l")],
                 cells=[[q, text] for q, _, text in rows],
                 notes=["Trial-epochs: sum of epochs_trained over all trials; CPU time: sum of wall_time_s × "
                        "resources.cpu. Best trial: the COMPLETE trial with the best objective (validation); "
                        "its test mAP@10 is from per_query.csv, in percent.", _noise_note(data, noise)],
                 label_columns=["quantity"], extra={"seed_noise": noise})


def _noise_rows(data: StudyData, noise: SeedNoise) -> list[tuple[str, Any, str]]:
    """Summary rows of the seed noise: ``(quantity, CSV value, display text)``."""
    sd_obj, sd_map = f"seed sd of {data.metric} (within configuration)", "seed sd of test mAP@10 (within configuration)"
    mde = "minimum detectable Δ test mAP@10"
    if not noise.available:
        na = f"not available: {noise.reason}"
        return [(sd_obj, na, na), (sd_map, na, na), (mde, f"not available: {noise.mde_reason}",
                                                     f"not available: {noise.mde_reason}")]
    src = f"{noise.n_configs} configurations with ≥ 2 runs, {noise.n_runs} runs"
    rows = [(sd_obj, noise.sd_objective, DASH if noise.sd_objective is None else f"{noise.sd_objective:.4f} ({src})"),
            (sd_map, noise.sd_map10, f"{100.0 * noise.sd_map10:.2f} pp ({src})"),
            ("seed-noise configurations", noise.n_configs, str(noise.n_configs)),
            ("seed-noise runs", noise.n_runs, str(noise.n_runs))]
    if noise.mde is None:
        return rows + [(mde, f"not available: {noise.mde_reason}", f"not available: {noise.mde_reason}")]
    bound = "≥ " if noise.mde_lower_bound else ""
    q = DASH if noise.query_var is None else f"{noise.query_var:.3g}"
    rows += [(mde, noise.mde, f"{bound}{100.0 * noise.mde:.2f} pp ({noise.seeds_per_config} vs "
                               f"{noise.seeds_per_config} seeds, {noise.n_queries} queries; power {MDE_POWER:g}, "
                               f"two-sided α {MDE_ALPHA:g})"),
             ("MDE seeds per configuration", noise.seeds_per_config, str(noise.seeds_per_config)),
             ("MDE query variance", noise.query_var, f"{q} ({noise.query_var_source})")]
    return rows


def _noise_note(data: StudyData, noise: SeedNoise) -> str:
    text = ("Seed noise: pooled within-configuration sd over the configurations (parameters without the seed) with "
            "≥ 2 included runs, sqrt(Σ(n_i − 1)s_i² / Σ(n_i − 1)), s_i the sample sd of configuration i's runs; "
            f"{data.metric} is the objective (validation), mAP@10 is test, in percentage points. Minimum detectable Δ: "
            "the |Δ| test mAP@10 that the recipe test detects with power 0.8 at two-sided α 0.05 "
            "(reports.stats.minimum_detectable_effect) between two configurations with the study's most common "
            "number of seeds per configuration (of those with ≥ 2 runs) and its test queries; run variance = the "
            "pooled seed variance of test mAP@10, query variance = the median Q of the report's recipe comparisons "
            "(else of each repeated configuration against the one with the most runs; a single repeated "
            "configuration gives a lower bound without the query term).")
    if not noise.available:
        text += (" Not available here: with one run per configuration the study cannot measure its training noise, "
                 "and no comparison in its tables is seed-aware.")
    return text


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={value_text(v)}" for k, v in params.items())


def top_configs_table(data: StudyData, settings: Settings) -> Table:
    """The top-k configurations (params without the seed) of COMPLETE trials by mean objective over their seeds."""
    done = [t for t in data.trials if t.state == "COMPLETE" and t.value is not None]
    groups: dict[tuple, list[TrialRecord]] = {}
    for t in done:
        groups.setdefault(t.config_key, []).append(t)
    sign = -1.0 if data.direction == "maximize" else 1.0
    ranked = sorted(groups.values(), key=lambda ts: (sign * float(np.mean([t.value for t in ts])),
                                                     min(t.number for t in ts)))[: settings.top_k]
    params = [k for k in data.param_order if any(k in ts[0].params for ts in ranked)]
    csv_columns = ["rank", "trials", "n_runs", "objective_mean", "objective_std", "test_map10", "test_r1",
                   "test_r5", "test_r10"] + params
    columns = [Column("Rank"), Column("Trials", align="l"), Column("Runs"), Column(data.metric),
               Column("test mAP@10"), Column("R@1"), Column("R@5"), Column("R@10")]
    columns += [Column(k, r"\texttt{" + latex_escape(k) + "}", align="l") for k in params]
    rows, cells = [], []
    for rank, ts in enumerate(ranked, start=1):
        ts = sorted(ts, key=lambda t: t.number)
        vals = np.array([t.value for t in ts], dtype=float)
        with_pq = [t for t in ts if t.included]
        m = {k: (float(np.mean([t.metrics[k] for t in with_pq])) if with_pq else None)
             for k in ("map10", "r1", "r5", "r10")}
        std = float(np.std(vals, ddof=1)) if len(ts) > 1 else None
        row = {"rank": rank, "trials": [t.number for t in ts], "n_runs": len(ts), "objective_mean": float(vals.mean()),
               "objective_std": std, "test_map10": m["map10"], "test_r1": m["r1"], "test_r5": m["r5"],
               "test_r10": m["r10"]}
        row.update({k: ts[0].params.get(k) for k in params})
        rows.append(row)
        obj = f"{vals.mean():.4f}" if std is None else (f"{vals.mean():.4f} ± {std:.4f}",
                                                         f"{vals.mean():.4f} $\\pm$ {std:.4f}")
        cells.append([str(rank), " ".join(f"#{t.number}" for t in ts), str(len(ts)), obj, pct(m["map10"]),
                      pct(m["r1"]), pct(m["r5"]), pct(m["r10"])] + [value_text(ts[0].params.get(k)) for k in params])
    return Table(name="top_configs", title=f"Top {settings.top_k} configurations by {data.metric}",
                 csv_columns=csv_columns, rows=rows, columns=columns, cells=cells,
                 notes=[f"COMPLETE trials grouped by configuration (parameters without the seed), ranked by the mean "
                        f"objective {data.metric} (validation; ± sample std over seeds when several). Test metrics in "
                        f"percent, from per_query.csv ({DASH} when the trial has none). {DASH} in a parameter column: "
                        "the parameter does not exist for that configuration (conditional)."],
                 label_columns=["rank"])


def importance_to_table(df) -> Table:
    """The importance DataFrame (``branch, evaluator, param, importance, n_trials``) as a table."""
    cols = ["branch", "evaluator", "param", "importance", "n_trials"]
    rows = [{c: (r[c].item() if hasattr(r[c], "item") else r[c]) for c in cols} for _, r in df.iterrows()]
    cells = [[str(r["branch"]), str(r["evaluator"]), str(r["param"]),
              f"{float(r['importance']):.3f}" if r["importance"] is not None and not
              (isinstance(r["importance"], float) and math.isnan(r["importance"])) else DASH, str(r["n_trials"])]
             for r in rows]
    return Table(name="importance", title="Hyperparameter importance", csv_columns=cols, rows=rows,
                 columns=[Column("Branch", align="l"), Column("Evaluator", align="l"),
                          Column("Parameter", align="l"), Column("Importance"), Column("Trials")],
                 cells=cells,
                 notes=["Importance of each searched parameter for the objective, by Optuna's fANOVA and PED-ANOVA "
                        "evaluators, over all trials and within each branch of the conditional space (so parameters "
                        "that exist only in one branch are evaluated where they exist). Importances of an evaluator "
                        "within a branch sum to 1. Branches marked \"@ epoch E\" (studies whose scheduler stopped trials "
                        "early) rank parameters by the objective at epoch E, the last epoch every completed and "
                        "pruned trial reached, so pruned trials count there; the other rows use completed trials' "
                        "final objective."],
                 label_columns=["branch", "evaluator", "param"])


def study_tables(data: StudyData, settings: Settings) -> list[Table]:
    """Every table of a study's report except importance: summary, top configurations, comparison tables. The
    summary's minimum detectable Δ uses the query variance of the comparison tables' recipe tests."""
    comparisons = [t for t in (comparison_table(data, spec, settings) for spec in factor_specs(data)) if t is not None]
    seen: dict[tuple, Any] = {}
    for t in comparisons:
        for key, test in t.extra.get("recipe_tests", {}).items():
            seen.setdefault(key, test)
    return [summary_table(data, seed_noise(data, list(seen.values()))), top_configs_table(data, settings),
            *comparisons]
