"""Budgeted successive halving: the ``budgeted_sh`` scheduler of a study spec.

Asynchronous successive halving by *promotion* (Li et al. 2020, "A System for Massively Parallel Hyperparameter
Tuning", Algorithm 2) in which every rung trains a **complete learning-rate schedule of its budget** (Li, Yumer
and Ramanan 2020, "Budgeted Training: Rethinking Deep Neural Network Training Under Resource Constraints"): a job
at rung ``k`` is a trial trained from scratch with ``train.epochs = rungs[k]``, so its warm-up + cosine schedule
ends at its budget, and its value ranks configurations the way a finished run does. On SynthCaps small the first
epochs of a long schedule rank configurations poorly (the learning rate is still high); the end of a short
complete schedule ranks them much better (``python -m benchmarks perf``: rank correlations, docs/perf.md).

The rule, applied whenever a worker asks for a job (:func:`next_job`), over the study's finished jobs: going down
from the rung below the top, promote the best configuration of rung ``k`` that is in the top
``1 / reduction_factor`` of that rung's values and has not been promoted yet (a new trial: same parameters, same
seed, ``train.epochs = rungs[k + 1]``, trained from scratch); when there is none, the sampler proposes a new
configuration for rung 0. Every job is an Optuna trial (COMPLETE with the best value over its epochs) with the
user attributes ``rung``, ``budget`` and, for a promotion, ``promoted_from`` (the trial number at the rung below).
``budget.num_samples`` counts jobs. The study's incumbent is its best trial, as for every study: the top rung's
complete runs rank above the short ones on their own.

The Ray side is FIFO (a job ends at the end of its schedule; ``patience`` still works); the decisions live in
the searcher (:class:`studies.search.StudySearcher` calls :func:`next_job` and :func:`job_overrides`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # optuna is imported where it is used: loading a spec does not need it
    from optuna.trial import FrozenTrial

KIND = "budgeted_sh"
OPTIONS: dict[str, Any] = {"rungs": None, "reduction_factor": 3, "patience": None}
RUNG, BUDGET, PROMOTED_FROM = "rung", "budget", "promoted_from"


def rungs_of(options: Mapping[str, Any], max_epochs: int) -> tuple[int, ...]:
    """The rung budgets (epochs): the spec's ``scheduler.rungs``, or ``[ceil(max_epochs / 3), max_epochs]``."""
    rungs = options.get("rungs")
    if rungs is None:
        return (max(1, math.ceil(max_epochs / 3)), max_epochs) if max_epochs > 1 else (max_epochs,)
    return tuple(int(r) for r in rungs)


def check_options(options: Mapping[str, Any], max_epochs: int, seeds: Sequence[int], error: type[Exception]) -> None:
    """Validate a ``budgeted_sh`` scheduler section against the spec's epochs and seeds (raises ``error``)."""
    rungs = options.get("rungs")
    if rungs is not None:
        ok = isinstance(rungs, list) and len(rungs) >= 2 and all(
            isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in rungs)
        if not ok or any(b <= a for a, b in zip(rungs, rungs[1:])):
            raise error(f"scheduler.rungs: expected >= 2 increasing epoch budgets >= 1, got {rungs!r}")
        if rungs[-1] != max_epochs:
            raise error(f"scheduler.rungs: the last rung must be budget.max_epochs ({max_epochs}), got {rungs[-1]}")
    if len(seeds) != 1:
        raise error(f"scheduler.kind: {KIND} runs each configuration with one seed (a promotion keeps it); "
                    f"seeds has {len(seeds)}")


def _value(t: "FrozenTrial") -> float | None:
    from optuna.trial import TrialState

    v = t.value if t.state == TrialState.COMPLETE else None
    return v if v is not None and math.isfinite(v) else None


def next_job(options: Mapping[str, Any], max_epochs: int, trials: Sequence["FrozenTrial"],
             mode: str = "max") -> dict[str, Any] | None:
    """The promotion a free worker should run now, or None (start a new configuration at rung 0).

    A promotion is ``{"params", "seed", "rung", "budget", "promoted_from"}``. Jobs already promoted (a trial whose
    ``promoted_from`` names them, in any state) are not promoted again."""
    rungs = rungs_of(options, max_epochs)
    rf = float(options.get("reduction_factor") or 3)
    sign = 1.0 if mode == "max" else -1.0
    promoted = {t.user_attrs.get(PROMOTED_FROM) for t in trials if t.user_attrs.get(PROMOTED_FROM) is not None}
    for k in reversed(range(len(rungs) - 1)):
        rung = [t for t in trials if int(t.user_attrs.get(RUNG, 0)) == k and _value(t) is not None]
        ranked = sorted(rung, key=lambda t: (-sign * _value(t), t.number))
        for t in ranked[: int(len(ranked) // rf)]:
            if t.number not in promoted:
                return {"params": dict(t.params), "seed": t.user_attrs.get("seed"), "rung": k + 1,
                        "budget": rungs[k + 1], "promoted_from": t.number}
    return None


def job_overrides(budget: int | None) -> dict[str, Any]:
    """The config overrides of a job with budget ``budget``: its complete schedule (``train.epochs``)."""
    return {} if budget is None else {"train.epochs": int(budget)}


__all__ = ["BUDGET", "KIND", "OPTIONS", "PROMOTED_FROM", "RUNG", "check_options", "job_overrides", "next_job",
           "rungs_of"]
