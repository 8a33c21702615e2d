"""Successive halving by promotion: the ``promotion_sh`` and ``budgeted_sh`` schedulers of a study spec.

``promotion_sh`` (the shipped default of ``studies/quick.yaml``): asynchronous successive halving by *promotion*
on the full schedule: a new configuration trains the first ``rungs[0]`` epochs of its ``train.epochs`` schedule
and stops (PRUNED, as every scheduler stop); a promoted configuration is a new trial that starts from the
stopped trial's checkpoint (its ``last.pt`` is copied into the new run directory; training resumes exactly where
it stopped) and trains on to the next rung. Measured on the HPO table (``python -m benchmarks perf``,
docs/perf.md) it reaches the 2022 protocol's final true quality with the least compute of the methods tried.

``budgeted_sh``: asynchronous successive halving by *promotion* (Li et al. 2020, "A System for Massively Parallel Hyperparameter
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
A configuration the sampler proposes again is a new run with the next seed (:func:`fresh_seed`; training is
deterministic per seed, so the same seed would copy a run), as in the replay of ``benchmarks/perf``.
``budget.num_samples`` counts jobs. The study's incumbent is its best trial, as for every study: the top rung's
complete runs rank above the short ones on their own.

**Noise-aware incumbent** (``confirm: N``): one run's value is a noisy estimate of a configuration's quality
(seed sd about 2-3 pp on SynthCaps small, more than the gaps between the best configurations), so the single
best value is often a lucky seed. With ``confirm`` > 0 a configuration's *score* is the mean of its top-rung runs;
whenever the best-scoring configuration has fewer than ``1 + confirm`` top-rung runs, the next job trains it
again on the top rung with the next seed (user attribute ``confirms``: the trial it repeats), and the incumbent
(:func:`incumbent`) is the best-scoring configuration among those with the most top-rung runs (up to
``1 + confirm``).

The Ray side is FIFO (a job ends at the end of its schedule or, for ``promotion_sh``, after its rung's epochs:
the trial config's ``stop_after``); the decisions live in the searcher (:class:`studies.search.StudySearcher`
calls :func:`next_job` and :func:`job_config`), and the trainable copies a promoted job's checkpoint
(``start_from``). Rung decisions compare the values at the rung's epoch (the job's intermediate value there).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # optuna is imported where it is used: loading a spec does not need it
    from optuna.trial import FrozenTrial

OPTIONS: dict[str, Any] = {"rungs": None, "reduction_factor": 3, "confirm": 0, "patience": None}
RUNG, BUDGET, PROMOTED_FROM, CONFIRMS, START_FROM = "rung", "budget", "promoted_from", "confirms", "start_from"


def rungs_of(options: Mapping[str, Any], max_epochs: int) -> tuple[int, ...]:
    """The rung budgets (epochs): the spec's ``scheduler.rungs``, or ``[ceil(max_epochs / 3), max_epochs]``."""
    rungs = options.get("rungs")
    if rungs is None:
        return (max(1, math.ceil(max_epochs / 3)), max_epochs) if max_epochs > 1 else (max_epochs,)
    return tuple(int(r) for r in rungs)


def fit_rungs(rungs: Any, max_epochs: int) -> Any:
    """The rungs of a spec whose ``budget.max_epochs`` is below its last rung (a reduced budget, e.g.
    ``--set budget.max_epochs=3`` on ``rungs: [1, 3, 10]``): the rungs below ``max_epochs``, then ``max_epochs``
    (``[1, 3]``). Other rungs come back unchanged (:func:`check_options` judges them)."""
    ok = isinstance(rungs, list) and rungs and all(isinstance(r, int) and not isinstance(r, bool) for r in rungs)
    if not ok or rungs[-1] <= max_epochs or any(b <= a for a, b in zip(rungs, rungs[1:])):
        return rungs
    return [r for r in rungs if r < max_epochs] + [max_epochs]


def min_jobs(options: Mapping[str, Any], max_epochs: int) -> int:
    """The fewest jobs that take one configuration through every rung: ``rf ** k`` jobs at rung ``n - 1 - k``
    (a rung promotes its best ``1 / rf``), ``1 + rf + ... + rf ** (n - 1)`` in all."""
    return jobs_needed(options, max_epochs, [0] * len(rungs_of(options, max_epochs)))


def jobs_needed(options: Mapping[str, Any], max_epochs: int, started: Sequence[int]) -> int:
    """How many more jobs it takes to bring one configuration to the top rung when ``started[k]`` jobs of rung
    ``k`` have started (and all of them finish): a rung of ``c`` jobs promotes ``floor(c / rf)``."""
    rungs = rungs_of(options, max_epochs)
    rf = float(options.get("reduction_factor") or 3)
    if len(started) >= len(rungs) and started[len(rungs) - 1] >= 1:
        return 0
    need = 0
    wanted = 1  # jobs the rung above must reach
    for k in reversed(range(len(rungs))):
        have = int(started[k]) if k < len(started) else 0
        need += max(0, wanted - have)
        wanted = math.ceil(rf * max(wanted, have) - 1e-9)
    return need


def check_options(options: Mapping[str, Any], max_epochs: int, seeds: Sequence[int], error: type[Exception],
                  num_samples: int | None = None) -> None:
    """Validate a ``budgeted_sh`` scheduler section against the spec's epochs, seeds and (``num_samples``) its
    budget of jobs (raises ``error``)."""
    rungs = options.get("rungs")
    if rungs is not None:
        ok = isinstance(rungs, list) and len(rungs) >= 1 and all(
            isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in rungs)
        if not ok or any(b <= a for a, b in zip(rungs, rungs[1:])):
            raise error(f"scheduler.rungs: expected >= 2 increasing epoch budgets >= 1, got {rungs!r}")
        if rungs[-1] != max_epochs:
            raise error(f"scheduler.rungs: the last rung must be budget.max_epochs ({max_epochs}), got {rungs[-1]}")
        if len(rungs) < 2:
            raise error(f"scheduler.rungs: budget.max_epochs {max_epochs} leaves one rung ({rungs}); successive "
                        "halving needs >= 2 (raise budget.max_epochs, or use scheduler.kind: fifo)")
    confirm = options.get("confirm", 0)
    if not (isinstance(confirm, int) and not isinstance(confirm, bool) and confirm >= 0):
        raise error(f"scheduler.confirm: expected an integer >= 0, got {confirm!r}")
    if len(seeds) != 1:
        raise error(f"scheduler.kind: {options.get('kind', 'budgeted_sh')} runs each configuration with one seed (a "
                    f"promotion keeps it); seeds has {len(seeds)}")
    if num_samples is not None and num_samples < min_jobs(options, max_epochs):
        rungs = rungs_of(options, max_epochs)
        fewer = (f", or lower budget.max_epochs, which cuts the rungs (--set budget.max_epochs={rungs[-2]}: "
                 f"at least {min_jobs({**options, 'rungs': list(rungs[:-1])}, rungs[-2])} jobs)" if len(rungs) > 2
                 else "")
        raise error(f"budget.num_samples: {num_samples} jobs cannot train one configuration to the last rung "
                    f"(rungs {'/'.join(map(str, rungs))}, reduction factor {options.get('reduction_factor') or 3}: "
                    f"at least {min_jobs(options, max_epochs)} jobs); raise budget.num_samples{fewer}")


def job_value(t: "FrozenTrial") -> float | None:
    """A finished job's value (COMPLETE, or PRUNED: a promotion_sh job stopped at its rung)."""
    from optuna.trial import TrialState

    v = t.value if t.state in (TrialState.COMPLETE, TrialState.PRUNED) else None
    return v if v is not None and math.isfinite(v) else None


def _rung_value(t: "FrozenTrial") -> float | None:
    """The value a job's rung compares: its intermediate value at its last epoch (the rung's epoch)."""
    if job_value(t) is None:
        return None
    if t.intermediate_values:
        v = t.intermediate_values[max(t.intermediate_values)]
        if math.isfinite(v):
            return float(v)
    return job_value(t)


def next_job(options: Mapping[str, Any], max_epochs: int, trials: Sequence["FrozenTrial"],
             mode: str = "max", *, continue_runs: bool = False) -> dict[str, Any] | None:
    """The promotion a free worker should run now, or None (start a new configuration at rung 0).

    A promotion is ``{"params", "seed", "rung", "budget", "promoted_from"}``; with ``continue_runs`` (a scheduler
    whose jobs continue their run: ``promotion_sh``) also ``start_from``, the run folder it continues. Jobs already
    promoted (a trial whose ``promoted_from`` names them, in any state) are not promoted again."""
    rungs = rungs_of(options, max_epochs)
    rf = float(options.get("reduction_factor") or 3)
    sign = 1.0 if mode == "max" else -1.0
    confirm = int(options.get("confirm") or 0)
    if confirm:
        scores = _scores(trials, len(rungs) - 1)
        pending = {t.user_attrs.get(CONFIRMS) for t in trials if not t.state.is_finished()}
        if scores:
            best = max(scores, key=lambda k: (sign * _mean(scores[k][1]), len(scores[k][1])))
            first, values = scores[best]
            if len(values) < 1 + confirm and first.number not in pending:
                return {"params": dict(first.params), "seed": fresh_seed(first.params, trials, 0),
                        "rung": len(rungs) - 1, "budget": rungs[-1], "confirms": first.number}
    promoted = {t.user_attrs.get(PROMOTED_FROM) for t in trials if t.user_attrs.get(PROMOTED_FROM) is not None}
    for k in reversed(range(len(rungs) - 1)):
        rung = [t for t in trials if int(t.user_attrs.get(RUNG, 0)) == k and _rung_value(t) is not None]
        ranked = sorted(rung, key=lambda t: (-sign * _rung_value(t), t.number))
        for t in ranked[: int(len(ranked) // rf)]:
            if t.number not in promoted:
                job = {"params": dict(t.params), "seed": t.user_attrs.get("seed"), "rung": k + 1,
                       "budget": rungs[k + 1], "promoted_from": t.number}
                if continue_runs and t.user_attrs.get("run_dir"):
                    job[START_FROM] = t.user_attrs["run_dir"]
                return job
    return None


def fresh_seed(params: Mapping[str, Any], trials: Sequence["FrozenTrial"], base: int) -> int:
    """The seed of a new run of ``params``: ``base`` for its first, else one more than any seed it ran with (a
    configuration proposed again, or confirmed, is a new training run, not a copy of a deterministic one)."""
    import json

    key = json.dumps(dict(params), sort_keys=True, default=str)
    seeds = [int(t.user_attrs["seed"]) for t in trials if "seed" in t.user_attrs
             and json.dumps(t.params, sort_keys=True, default=str) == key]
    return base if not seeds else max(seeds) + 1


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _scores(trials: Sequence["FrozenTrial"], top: int) -> dict[str, tuple["FrozenTrial", list[float]]]:
    """Configuration -> (its first top-rung trial, the values of its top-rung trials)."""
    import json

    out: dict[str, tuple[Any, list[float]]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        if int(t.user_attrs.get(RUNG, 0)) == top and job_value(t) is not None:
            key = json.dumps(t.params, sort_keys=True, default=str)
            out.setdefault(key, (t, []))[1].append(job_value(t))
    return out


def incumbent(options: Mapping[str, Any], max_epochs: int, trials: Sequence["FrozenTrial"],
              mode: str = "max") -> tuple[dict[str, Any], float, int] | None:
    """The study's incumbent under this scheduler: ``(params, score, runs)``. Without ``confirm``: the best single
    finished trial; with it: the best mean over top-rung runs among the configurations with the most of them (up
    to ``1 + confirm``). None while nothing has finished."""
    sign = 1.0 if mode == "max" else -1.0
    confirm = int(options.get("confirm") or 0)
    scores = _scores(trials, len(rungs_of(options, max_epochs)) - 1)
    if confirm and scores:
        most = min(max(len(v) for _, v in scores.values()), 1 + confirm)
        key = max((k for k in scores if len(scores[k][1]) >= most), key=lambda k: sign * _mean(scores[k][1]))
        first, values = scores[key]
        return dict(first.params), _mean(values), len(values)
    done = [t for t in trials if job_value(t) is not None]
    if not done:
        return None
    best = max(done, key=lambda t: (sign * job_value(t), -t.number))
    return dict(best.params), float(job_value(best)), 1


def job_overrides(budget: int | None) -> dict[str, Any]:
    """The config overrides of a budgeted_sh job with budget ``budget``: its complete schedule (``train.epochs``)."""
    return {} if budget is None else {"train.epochs": int(budget)}


def job_config(budget: int | None, max_epochs: int, start_from: str | None, *,
               restart: bool) -> tuple[dict, dict]:
    """``(config overrides, trial-config extras)`` of a job: with ``restart`` (budgeted_sh) it trains a complete
    ``budget``-epoch schedule; else (promotion_sh) it stops after ``budget`` epochs of the full schedule
    (``stop_after``) and a promoted job starts from the checkpoint of the job it continues (``start_from``)."""
    if restart:
        return job_overrides(budget), {}
    extras: dict[str, Any] = {}
    if budget is not None and budget < max_epochs:
        extras["stop_after"] = int(budget)
    if start_from:
        extras[START_FROM] = str(start_from)
    return {}, extras


__all__ = ["BUDGET", "CONFIRMS", "OPTIONS", "PROMOTED_FROM", "RUNG", "START_FROM",
           "check_options", "fit_rungs", "fresh_seed", "incumbent", "job_config", "job_overrides", "job_value",
           "jobs_needed", "min_jobs", "next_job", "rungs_of"]
