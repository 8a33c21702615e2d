"""Scheduling rules of the replay's remedies for a task whose early epochs rank configurations poorly.

:class:`RankGatedASHA` (stopping rule, after Hyper-Tune's use of measured rank correlation between rungs): ASHA's
rule (:class:`~benchmarks.perf.hpo.asha.AsyncSuccessiveHalving`), except that a rung stops trials only while its
*gate* is open: the Kendall tau between the values trials had at the rung and their values at the last epoch,
over the trials that got there (at least ``min_pairs``), is at least ``threshold``. While it is closed the rung
records values but lets every trial continue, so the pairs it needs accumulate. Measured online, from the
protocol's own trials: no look at the table's truth.

:class:`PromotionSH` (asynchronous successive halving by *promotion*, Li et al. 2020, Algorithm 2): a free worker
promotes the best not-yet-promoted configuration in the top ``1/reduction_factor`` of the highest rung that has
one, otherwise starts a new configuration at the first rung. Options:

- ``restart`` ("budgeted training", Li et al. 2020, ICLR, "Budgeted training: rethinking deep neural network
  training under resource constraints"): a job at rung ``k`` trains a complete schedule of ``rungs[k]`` epochs
  from scratch (its learning rate decays to the end at its budget), so a promoted configuration pays
  ``rungs[k]`` epochs again; without it a promoted trial continues its longest-schedule run from its checkpoint
  (``rungs[k] - rungs[k-1]`` epochs);
- ``progressive`` (PASHA, Bohdal et al. 2022): the top rung starts at ``rungs[1]`` and moves one rung up each time
  the two top rungs rank their common configurations differently (values closer than ``epsilon`` count as ties);
- ``gate``: as :class:`RankGatedASHA`, per rung, against the top rung (a closed rung promotes every job).
"""

from __future__ import annotations

from typing import Hashable

import numpy as np

from .asha import AsyncSuccessiveHalving


def kendall(x, y) -> float:
    from scipy.stats import kendalltau

    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(kendalltau(x, y).statistic)


class RankGatedASHA(AsyncSuccessiveHalving):
    """ASHA whose rungs stop trials only once their measured rank correlation with the last epoch is high."""

    def __init__(self, grace_period: float, reduction_factor: float, max_t: float, *, threshold: float = 0.5,
                 min_pairs: int = 6):
        super().__init__(grace_period, reduction_factor, max_t)
        self.max_t = max_t
        self.threshold, self.min_pairs = threshold, min_pairs
        self._final: dict[Hashable, float] = {}
        self.opened_at: dict[int, int] = {}  # rung -> number of finished trials when its gate opened

    def gate_open(self, rung: int) -> bool:
        pairs = [(v, self._final[t]) for t, v in self._recorded[rung].items() if t in self._final]
        if len(pairs) < self.min_pairs:
            return False
        tau = kendall(*zip(*pairs))
        is_open = bool(np.isfinite(tau) and tau >= self.threshold)
        if is_open:
            self.opened_at.setdefault(rung, len(self._final))
        return is_open

    def on_result(self, trial: Hashable, iteration: float, value: float) -> bool:
        for rung in reversed(range(len(self.milestones))):
            if iteration < self.milestones[rung] or trial in self._recorded[rung]:
                continue
            cutoff = self.cutoff(rung)
            gate = self.gate_open(rung)
            self._recorded[rung][trial] = value
            return cutoff is None or not gate or not value < cutoff
        if iteration >= self.max_t:
            self._final[trial] = value
        return True


class PromotionSH:
    """Asynchronous successive halving by promotion (see the module docstring). ``next_job()`` says what a free
    worker does: ``(trial, rung)`` to promote ``trial`` to ``rung``, or ``(None, 0)`` for a new configuration;
    ``record(trial, rung, value)`` files a finished job's value."""

    def __init__(self, rungs, reduction_factor: float, *, progressive: bool = False, epsilon: float = 0.0,
                 gate: float | None = None, min_pairs: int = 6):
        rungs = tuple(rungs)
        if len(rungs) < 2 or any(b <= a for a, b in zip(rungs, rungs[1:])) or rungs[0] <= 0:
            raise ValueError(f"PromotionSH needs >= 2 increasing positive rungs, got {rungs}")
        if not reduction_factor > 1:
            raise ValueError(f"reduction_factor must be > 1, got {reduction_factor}")
        self.rungs, self.rf = rungs, reduction_factor
        self.progressive, self.epsilon = progressive, epsilon
        self.gate, self.min_pairs = gate, min_pairs
        self.top = 1 if progressive else len(rungs) - 1
        self.values: list[dict[Hashable, float]] = [{} for _ in rungs]
        self.promoted: list[set[Hashable]] = [set() for _ in rungs]
        self.top_history: list[int] = [self.top]

    def _gate_open(self, k: int) -> bool:
        if self.gate is None:
            return True
        top = self.values[len(self.rungs) - 1]
        pairs = [(v, top[t]) for t, v in self.values[k].items() if t in top]
        if len(pairs) < self.min_pairs:
            return False
        tau = kendall(*zip(*pairs))
        return bool(np.isfinite(tau) and tau >= self.gate)

    def promotable(self, k: int) -> list[Hashable]:
        """Configurations of rung ``k`` that may go to rung ``k + 1`` now, best first."""
        rung = self.values[k]
        ranked = sorted(rung, key=lambda t: -rung[t])
        n = len(ranked) if not self._gate_open(k) else int(len(ranked) // self.rf)
        return [t for t in ranked[:n] if t not in self.promoted[k]]

    def next_job(self) -> tuple[Hashable | None, int]:
        for k in reversed(range(self.top)):
            cands = self.promotable(k)
            if cands:
                self.promoted[k].add(cands[0])
                return cands[0], k + 1
        return None, 0

    def record(self, trial: Hashable, rung: int, value: float) -> None:
        self.values[rung][trial] = value
        if self.progressive and rung == self.top and self.top < len(self.rungs) - 1 and self._unstable():
            self.top += 1
            self.top_history.append(self.top)

    def _unstable(self) -> bool:
        """PASHA's test: do the two top rungs rank the configurations they share differently?"""
        hi, lo = self.values[self.top], self.values[self.top - 1]
        common = [t for t in hi if t in lo]
        if len(common) < 2:
            return False
        for i, a in enumerate(common):
            for b in common[i + 1:]:
                dh, dl = hi[a] - hi[b], lo[a] - lo[b]
                if abs(dh) > self.epsilon and abs(dl) > self.epsilon and (dh > 0) != (dl > 0):
                    return True
        return False
