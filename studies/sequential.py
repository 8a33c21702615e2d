"""Sequential ablations in the runner: seeds only where they decide something.

A spec whose ``seeds`` is a mapping runs a sequential leave-one-out ablation (issue 21)::

    seeds: {min: 3, max: 10, delta: 0.02}      # alpha 0.05, control full, seeds 0..max-1 (first: / values:)

The rows are the variants of ``space.variant`` (a grid over it alone), the control is ``seeds.control``. The runner
works in rounds:

1. every variant (the control included) runs the first ``min`` seeds;
2. when every trial of the study has finished, the design of :class:`reports.stats.SequentialDesign` looks at each
   row on the seeds it shares with the control (:func:`reports.stats.decide_ablation`, the paired test on the
   rows' ``per_query.csv``, test split); a row stops when it is an *effect* (its Holm-adjusted repeated p-value
   crosses the Lan-DeMets O'Brien-Fleming boundary), when its repeated CI at ``1 - 2 alpha`` lies inside
   ``+-delta`` (*no effect larger than delta*), or when it has run ``max`` seeds (*undecided*);
3. each row still open gets its next seed (``seeds[n]``, ``n`` the seeds it has tried), and the control gets every
   seed a row gets -- the pairs need it; then back to 2.

The plan is a pure function of the study's trials and their run folders (:func:`plan`), computed under the study
lock, so two runners of one study agree on it, a runner that joins later or resumes (``--resume``) picks it up where
it stands, and a report recomputes the same decisions from the same runs (``reports.analysis``). A failed run
counts as a seed tried: its row is paired on the seeds that did finish, and gets another seed while it has fewer
than ``min`` pairs and has not tried ``max``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from optuna.trial import FrozenTrial, TrialState

from reports.collect import CollectError, align_runs, read_per_query
from reports.stats import UNDECIDED, Decision, SequentialDesign, decide_ablation

from .spec import SEED, VARIANT, StudySpec

#: why a study stopped adding seeds
ALL_DECIDED = "every variant decided"
MAX_REACHED = "every undecided variant reached seeds.max"


@dataclass(frozen=True)
class Plan:
    """What the study needs next: ``enqueue`` (grid points with their seed, to add now), or ``wait`` (trials still
    running or waiting), or ``finished`` (why no seed is needed any more). ``decisions``: per variant (the control
    left out), its :class:`~reports.stats.Decision` at its current look (``None`` before ``min`` pairs)."""

    enqueue: tuple[dict[str, Any], ...] = ()
    wait: bool = False
    finished: str | None = None
    decisions: dict[str, Decision | None] = field(default_factory=dict)
    tried: dict[str, int] = field(default_factory=dict)


def design_of(spec: StudySpec) -> SequentialDesign:
    """The :class:`~reports.stats.SequentialDesign` of a sequential spec."""
    q = spec.sequential
    if q is None:
        raise ValueError(f"study {spec.name!r}: seeds is a list, not a sequential design")
    return SequentialDesign(min_seeds=q["min"], max_seeds=q["max"], delta=q["delta"], alpha=q["alpha"])


def plan(spec: StudySpec, trials: Sequence[FrozenTrial]) -> Plan:
    """The next step of the sequential ablation ``spec`` given the study's ``trials`` (see the module docstring)."""
    q = spec.sequential
    rows = list(spec.param(VARIANT).values())
    control = q["control"]
    seeds = list(spec.seeds)
    if any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials):
        return Plan(wait=True)
    have: dict[tuple[str, int], FrozenTrial] = {}
    for t in trials:
        variant, seed = t.params.get(VARIANT), t.params.get(SEED, t.user_attrs.get("seed"))
        if variant in rows and seed is not None:
            have.setdefault((variant, int(seed)), t)
    tried = {row: sum((row, s) in have for s in seeds) for row in rows}
    first = [{VARIANT: row, SEED: s} for row in rows for s in seeds[:q["min"]] if (row, s) not in have]
    if first:
        return Plan(enqueue=tuple(first), tried=tried)
    decisions = decisions_from_trials(spec, trials)
    open_rows = [row for row in rows if row != control
                 and (decisions.get(row) is None or not decisions[row].final) and tried[row] < q["max"]]
    if not open_rows:
        undecided = any(d is None or d.status == UNDECIDED for d in decisions.values())
        return Plan(finished=MAX_REACHED if undecided else ALL_DECIDED, decisions=decisions, tried=tried)
    need: list[dict[str, Any]] = []
    for row in open_rows:
        nxt = next(s for s in seeds if (row, s) not in have)
        need.append({VARIANT: row, SEED: nxt})
        if (control, nxt) not in have and {VARIANT: control, SEED: nxt} not in need:
            need.append({VARIANT: control, SEED: nxt})
    return Plan(enqueue=tuple(need), decisions=decisions, tried=tried)


def decisions_from_trials(spec: StudySpec, trials: Sequence[FrozenTrial]) -> dict[str, Decision | None]:
    """Every variant's decision from the COMPLETE trials' ``per_query.csv`` (a run without a readable one, or whose
    file holds other queries than most runs', counts as failed)."""
    control = spec.sequential["control"]
    runs, names, where = [], [], []
    for t in trials:
        if t.state != TrialState.COMPLETE or not t.user_attrs.get("run_dir"):
            continue
        try:
            pq = read_per_query(Path(t.user_attrs["run_dir"]))
        except CollectError:
            continue
        seed = t.params.get(SEED, t.user_attrs.get("seed"))
        runs.append(pq)
        names.append(f"trial #{t.number}")
        where.append((t.params.get(VARIANT), int(seed)))
    if runs:  # a run whose per_query.csv holds other queries than most (truncated, another split) counts as failed
        sets = [frozenset(r.keys) for r in runs]
        common = max(set(sets), key=sets.count)
        keep = [i for i, k in enumerate(sets) if k == common]
        runs, names, where = [runs[i] for i in keep], [names[i] for i in keep], [where[i] for i in keep]
    _, aps, _ = align_runs(runs, names)
    by_row: dict[str, dict[int, Any]] = {row: {} for row in spec.param(VARIANT).values()}
    for (variant, seed), ap in zip(where, aps):
        by_row.setdefault(variant, {}).setdefault(seed, ap)
    base = by_row.pop(control, {})
    return decide_ablation(design_of(spec), by_row, base, list(spec.seeds))


def describe_plan(p: Plan) -> str:
    """One line per variant for the terminal: seeds tried and the decision so far."""
    lines = []
    for row, d in p.decisions.items():
        if d is None:
            lines.append(f"  {row}: {p.tried.get(row, 0)} seed(s) tried, not enough finished runs to decide yet")
        else:
            lines.append(f"  {row}: {d.n} seed(s), Δ {100 * d.diff:+.2f} pp [{100 * d.ci_low:+.2f}, "
                         f"{100 * d.ci_high:+.2f}], repeated p (Holm) {d.p_holm:.3g}: {d.status}"
                         + ("" if d.final else " (more seeds)"))
    return "\n".join(lines)


__all__ = ["ALL_DECIDED", "MAX_REACHED", "Plan", "decisions_from_trials", "describe_plan", "design_of", "plan"]
