"""Asynchronous successive halving, the stopping rule of the replay's ASHA protocols (``asha_impl="ray"``).

The rule of ASHA (Li et al. 2020, "A System for Massively Parallel Hyperparameter Tuning", MLSys, Algorithm 2
with one bracket): rungs at the milestones ``grace_period * reduction_factor**k``; when a trial reaches a rung,
its value is compared with the values recorded at that rung so far and it continues past the rung iff it is in
their top ``1 / reduction_factor``; then its value is recorded there.

:class:`AsyncSuccessiveHalving` reproduces, decision for decision, Ray Tune's ``AsyncHyperBandScheduler`` with one
bracket (the scheduler ``studies.schedulers.ASHA`` runs; its bookkeeping class ``_Bracket`` with ``s=0`` and
``stop_last_trials=True``), quirks included:

- **number of rungs**: ``int(log(max_t / grace_period) / log(reduction_factor) + 1)`` in floating point, as Ray
  computes it, so an exact power can round down and lose its top rung (``max_t=1000, grace_period=1, rf=10``:
  rungs 1, 10, 100);
- **cutoff**: ``numpy.nanpercentile(values, (1 - 1 / reduction_factor) * 100)`` over every value recorded at the
  rung before this one (numpy's default *linear* interpolation between order statistics, not a rank cut: with
  rf 3 and recorded values 0.2 and 0.5 the cutoff is 0.4); NaN values are recorded but ignored; the first trial
  at a rung always continues;
- **ties**: a trial stops iff its value is strictly below the cutoff, so a value equal to it continues;
- **skipped milestones**: a result at an iteration past several milestones the trial has not been recorded at
  is judged and recorded at the highest of them only; a result at a rung where the trial is recorded already
  makes no decision (continue).

Values are "higher is better" (Ray multiplies a ``mode="min"`` metric by -1 before its bracket sees it). A test
(``tests/benchmarks/test_perf.py``) checks the decisions against Ray's ``_Bracket`` on random sequences; the
replay itself does not import Ray.
"""

from __future__ import annotations

from typing import Hashable

import numpy as np


class AsyncSuccessiveHalving:
    """One ASHA bracket: ``on_result(trial, iteration, value)`` says whether ``trial`` continues (see the module
    docstring for the rule and the Ray Tune behaviour it reproduces)."""

    def __init__(self, grace_period: float, reduction_factor: float, max_t: float):
        if not grace_period > 0 or not reduction_factor > 1 or not max_t > 0:
            raise ValueError(f"ASHA needs grace_period > 0, reduction_factor > 1 and max_t > 0; got grace_period "
                             f"{grace_period!r}, reduction_factor {reduction_factor!r}, max_t {max_t!r}")
        n_rungs = int(np.log(max_t / grace_period) / np.log(reduction_factor) + 1)
        self.reduction_factor = reduction_factor
        self.milestones = tuple(grace_period * reduction_factor**k for k in range(n_rungs))
        self._recorded: list[dict[Hashable, float]] = [{} for _ in self.milestones]

    def cutoff(self, rung: int) -> float | None:
        """The value a trial must reach at rung ``rung`` (index into :attr:`milestones`); None while it is empty."""
        values = list(self._recorded[rung].values())
        if not values:
            return None
        return float(np.nanpercentile(values, (1 - 1 / self.reduction_factor) * 100))

    def on_result(self, trial: Hashable, iteration: float, value: float) -> bool:
        """Record a result of ``trial`` after ``iteration`` iterations; False: stop the trial, True: continue."""
        for rung in reversed(range(len(self.milestones))):
            if iteration < self.milestones[rung] or trial in self._recorded[rung]:
                continue
            cutoff = self.cutoff(rung)
            self._recorded[rung][trial] = value
            return cutoff is None or not value < cutoff
        return True
