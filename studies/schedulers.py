"""Ray Tune schedulers for studies, with stops that let a trial finish its run directory.

Ray stops a trial by ending its actor, and the trainable's thread dies mid-call; ``fit`` would then never evaluate
the best checkpoint on the test split nor write ``per_query.csv``. So the schedulers here turn a STOP decision
into a request (a ``stop_requested`` file in the run directory, see :func:`studies.trainable.request_stop`) and
let the trial continue: the trainable sees the request as soon as its ``report`` returns, raises ``StopTrial``,
and ``fit`` finishes the run cleanly. The same path stops every trial once ``budget.time_budget_s`` is spent.

All of them measure time in epochs (``time_attr="epoch"``, the key the trainable reports), so a trial that was
restarted and continues from ``last.pt`` stays on the same clock.

Kinds (the entries of the registry ``SCHEDULERS``, declared in :mod:`studies.spec` with their options): ``fifo``
(no early stopping by the scheduler; ``patience`` is fit's own early stopping), ``asha``
(:class:`~ray.tune.schedulers.AsyncHyperBandScheduler` with one bracket), ``hyperband`` (the same with several
brackets: asynchronous HyperBand, which needs no pausing), ``median`` (:class:`~ray.tune.schedulers.MedianStoppingRule`),
``promotion_sh`` and ``budgeted_sh`` (:func:`build_budgeted`, FIFO here: their jobs end by themselves at their
rung, and the searcher enqueues promotions; see :mod:`studies.budgeted`).
Ray's AsyncHyperBand draws each new trial's bracket from NumPy's global generator, so with several brackets the
decisions depend on that generator's state.
"""

from __future__ import annotations

import time
from typing import Any

from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, MedianStoppingRule, TrialScheduler

from .spec import SCHEDULERS
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


def build_fifo(options: dict[str, Any], *, metric: str, mode: str, max_epochs: int) -> FIFO:
    """``fifo``: every trial runs to the end (or to its own early stopping, ``patience``)."""
    return FIFO()


def build_budgeted(options: dict[str, Any], *, metric: str, mode: str, max_epochs: int) -> FIFO:
    """``promotion_sh`` and ``budgeted_sh``: FIFO on the Ray side. A job ends by itself at its rung (its
    ``stop_after``, or the end of its budget's schedule); the searcher decides and enqueues the promotions
    (:mod:`studies.budgeted`)."""
    return FIFO()


def build_asha(options: dict[str, Any], *, metric: str, mode: str, max_epochs: int) -> ASHA:
    """``asha`` and ``hyperband``: AsyncHyperBand with ``options["brackets"]`` brackets."""
    return ASHA(time_attr=TIME_ATTR, metric=metric, mode=mode, max_t=max_epochs,
                grace_period=min(options["grace_period"], max_epochs),
                reduction_factor=options["reduction_factor"], brackets=options["brackets"])


def build_median(options: dict[str, Any], *, metric: str, mode: str, max_epochs: int) -> Median:
    """``median``: the median stopping rule (a hard stop, turned into a stop request)."""
    return Median(time_attr=TIME_ATTR, metric=metric, mode=mode, grace_period=options["grace_period"],
                  min_samples_required=options["min_samples_required"], hard_stop=True)


def build_scheduler(options: dict[str, Any], *, metric: str, mode: str, max_epochs: int,
                    deadline: float | None) -> TrialScheduler:
    """The scheduler of ``options`` (a spec's resolved ``scheduler`` section: the ``SCHEDULERS`` entry of its
    ``kind``), stopping every trial once ``deadline`` (epoch seconds) has passed."""
    sched: _GracefulStop = SCHEDULERS.get(options["kind"])(options, metric=metric, mode=mode, max_epochs=max_epochs)
    sched._deadline = deadline
    sched._max_epochs = max_epochs
    return sched  # type: ignore[return-value]


__all__ = ["ASHA", "FIFO", "Median", "TIME_ATTR", "build_asha", "build_budgeted", "build_fifo", "build_median",
           "build_scheduler"]
