"""The replay: one protocol as a sequential Optuna ask/tell loop over a table (:func:`replay`) and its
:class:`ReplayResult`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .asha import AsyncSuccessiveHalving
from .protocols import Protocol
from .table import Table


@dataclass
class ReplayResult:
    """One protocol run on a table. Per trained epoch (in order): cumulative trial-epochs, cumulative seconds and the
    best value so far; per trial: parameters, epochs trained, value, state."""

    protocol: str
    seed: int
    cum_epochs: np.ndarray
    cum_seconds: np.ndarray
    best_so_far: np.ndarray
    trials: list[dict[str, Any]]

    @property
    def best(self) -> float:
        return float(self.best_so_far[-1]) if self.best_so_far.size else float("nan")

    def cost_to_reach(self, target: float) -> tuple[float, float] | None:
        """(trial-epochs, seconds) spent when the best-so-far first reached ``target``; None if it never did."""
        hit = np.nonzero(self.best_so_far >= target - 1e-12)[0]
        if hit.size == 0:
            return None
        i = int(hit[0])
        return float(self.cum_epochs[i]), float(self.cum_seconds[i])


def _space(table: Table):
    from studies.spec import Param, SearchSpace

    return SearchSpace([Param(key=k, kind="categorical", choices=tuple(v)) for k, v in table.space.items()])


def replay(table: Table, protocol: Protocol, seed: int) -> ReplayResult:
    """Run ``protocol`` on ``table`` sequentially with sampler seed ``seed`` (see :mod:`benchmarks.perf.hpo`)."""
    import optuna
    from optuna.trial import TrialState

    from studies.study import build_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if protocol.max_trials is None and protocol.max_epochs_budget is None:
        raise ValueError(f"protocol {protocol.name!r}: needs max_trials or max_epochs_budget")
    use_optuna_sha = protocol.scheduler == "asha" and protocol.asha_impl == "optuna"
    pruner = (optuna.pruners.SuccessiveHalvingPruner(min_resource=protocol.grace_period,
                                                     reduction_factor=protocol.reduction_factor,
                                                     min_early_stopping_rate=0)
              if use_optuna_sha else optuna.pruners.NopPruner())
    study = optuna.create_study(direction="maximize", sampler=build_sampler(protocol.sampler, seed=seed),
                                pruner=pruner)
    asha = (AsyncSuccessiveHalving(protocol.grace_period, protocol.reduction_factor, table.max_epochs)
            if protocol.scheduler == "asha" and not use_optuna_sha else None)
    space = _space(table)
    cum_e: list[float] = []
    cum_s: list[float] = []
    best_so_far: list[float] = []
    trials: list[dict[str, Any]] = []
    spent_e, spent_s, best = 0.0, 0.0, -math.inf
    while True:
        if protocol.max_trials is not None and len(trials) >= protocol.max_trials:
            break
        if protocol.max_epochs_budget is not None and spent_e >= protocol.max_epochs_budget:
            break
        trial = study.ask()
        params = space(trial)
        curve = table.lookup(params)
        spent_s += curve.overhead_s
        value, bad, stopped = -math.inf, 0, False
        trained = 0
        for epoch in range(1, table.max_epochs + 1):
            if protocol.scheduler == "fifo" and protocol.patience is not None and bad >= protocol.patience:
                break  # fit's early stopping: checked before an epoch starts
            v = curve.values[epoch - 1]
            trained = epoch
            spent_e += 1
            spent_s += curve.epoch_s[epoch - 1]
            bad = 0 if v > value else bad + 1
            value = max(value, v)
            best = max(best, v)
            cum_e.append(spent_e)
            cum_s.append(spent_s)
            best_so_far.append(best)
            trial.report(v, epoch)
            if epoch < table.max_epochs:
                if asha is not None and not asha.on_result(trial.number, epoch, v):
                    stopped = True
                elif use_optuna_sha and trial.should_prune():
                    stopped = True
            if stopped:
                break
        if stopped:  # as studies.search records a stopped trial: PRUNED, with its best value
            frozen = study._storage.get_trial(trial._trial_id)
            study.sampler.after_trial(study, frozen, TrialState.PRUNED, [value])
            study._storage.set_trial_state_values(trial._trial_id, TrialState.PRUNED, [value])
        else:
            study.tell(trial, value)
        trials.append({"params": params, "epochs": trained, "value": value,
                       "state": "PRUNED" if stopped else "COMPLETE"})
    return ReplayResult(protocol.name, seed, np.array(cum_e), np.array(cum_s), np.array(best_so_far), trials)
