"""Ray Tune schedulers for studies, with stops that let a trial finish its run directory.

Ray stops a trial by ending its actor, and the trainable's thread dies mid-call; ``fit`` would then never evaluate
the best checkpoint on the test split nor write ``per_query.csv``. So the schedulers here turn a STOP decision
into a request (a ``stop_requested`` file in the run directory, see :func:`studies.trainable.request_stop`) and
let the trial continue: the trainable sees the request as soon as its ``report`` returns, raises ``StopTrial``,
and ``fit`` finishes the run cleanly. The same path stops every trial once ``budget.time_budget_s`` is spent.

All of them measure time in epochs (``time_attr="epoch"``, the key the trainable reports), so a trial that was
restarted and continues from ``last.pt`` stays on the same clock.

Kinds: ``fifo`` (no early stopping by the scheduler; ``patience`` is fit's own early stopping), ``asha``
(:class:`~ray.tune.schedulers.AsyncHyperBandScheduler` with one bracket), ``hyperband`` (the same with several
brackets: asynchronous HyperBand, which needs no pausing), ``median`` (:class:`~ray.tune.schedulers.MedianStoppingRule`).
"""

from __future__ import annotations

import time
from typing import Any

from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, MedianStoppingRule, TrialScheduler

from .trainable import request_stop

TIME_ATTR = "epoch"


class _GracefulStop:
    """Mixin: a STOP decision (or the end of the time budget) becomes a stop request; the trial continues until it
    has finished its run directory."""

    _deadline: float | None = None
    _max_epochs: int = 0

    def on_trial_result(self, tune_controller, trial, result: dict[str, Any]) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)  # type: ignore[misc]
        out_of_time = self._deadline is not None and time.time() >= self._deadline
        if decision == TrialScheduler.STOP or out_of_time:
            # ASHA also says STOP when a trial reaches max_t: that trial ends by itself after this epoch
            if result.get(TIME_ATTR, 0) < self._max_epochs:
                request_stop(trial.config)
            return TrialScheduler.CONTINUE
        return decision


class FIFO(_GracefulStop, FIFOScheduler):
    pass


class ASHA(_GracefulStop, AsyncHyperBandScheduler):
    pass


class Median(_GracefulStop, MedianStoppingRule):
    pass


def build_scheduler(options: dict[str, Any], *, metric: str, mode: str, max_epochs: int,
                    deadline: float | None) -> TrialScheduler:
    """The scheduler of ``options`` (a spec's resolved ``scheduler`` section)."""
    kind = options["kind"]
    if kind in ("fifo", "promotion_sh", "budgeted_sh"):  # jobs end by themselves (studies/budgeted.py)
        sched: _GracefulStop = FIFO()
    elif kind in ("asha", "hyperband"):
        sched = ASHA(time_attr=TIME_ATTR, metric=metric, mode=mode, max_t=max_epochs,
                     grace_period=min(options["grace_period"], max_epochs),
                     reduction_factor=options["reduction_factor"], brackets=options["brackets"])
    elif kind == "median":
        sched = Median(time_attr=TIME_ATTR, metric=metric, mode=mode, grace_period=options["grace_period"],
                       min_samples_required=options["min_samples_required"], hard_stop=True)
    else:  # pragma: no cover - the spec validates kinds
        raise ValueError(f"scheduler.kind: unknown {kind!r}")
    sched._deadline = deadline
    sched._max_epochs = max_epochs
    return sched  # type: ignore[return-value]


__all__ = ["ASHA", "FIFO", "Median", "TIME_ATTR", "build_scheduler"]
