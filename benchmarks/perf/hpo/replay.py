"""The replay: one protocol run sequentially (one worker) on a table (:func:`replay`), and its :class:`ReplayResult`.

Every job "trains" by reading a run of the table epoch by epoch and paying its measured seconds:

- **seeds.** A configuration's ``k``-th new trial in a repetition reads the run of seed ``seeds[(o + k) % n]``,
  with ``o`` drawn per (repetition, configuration): a repeated proposal is a new training run with another seed,
  as in a real study, and is charged again. A promoted trial keeps its seed.
- **schedules.** A trial on the longest schedule reads that schedule's curve. A *budgeted* job (``restart``) of
  ``b`` epochs reads the curve of the recorded schedule length ``b`` (exact when ``b`` is recorded, else the
  nearest recorded length, named in the result).
- **values and incumbent** follow the protocol's ``bookkeeping`` (see :class:`~.protocols.Protocol`).
- **truth.** After every job the incumbent (the configuration the protocol would return if stopped now) is judged
  by the table's truth: the seed mean of its final validation mAP@10 (and test mAP@10), never by its one value.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrieval.registry import Registry

from .asha import AsyncSuccessiveHalving
from .methods import PromotionSH, RankGatedASHA
from .protocols import Protocol
from .table import Curve, Table, _key


@dataclass
class ReplayResult:
    """One protocol run on a table. After every job (in order): cumulative trial-epochs and seconds, the
    incumbent's true quality (val, test) and the best value the protocol has recorded; per trial/job: parameters,
    seed, schedule, epochs, value, state."""

    protocol: str
    seed: int
    cum_epochs: np.ndarray
    cum_seconds: np.ndarray
    truth: np.ndarray  # the incumbent's true quality (seed-mean final val mAP@10); NaN before the first incumbent
    truth_test: np.ndarray
    best_seen: np.ndarray
    trials: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def final_truth(self) -> float:
        return float(self.truth[-1]) if self.truth.size else float("nan")

    @property
    def final_test(self) -> float:
        return float(self.truth_test[-1]) if self.truth_test.size else float("nan")

    @property
    def best(self) -> float:
        return float(self.best_seen[-1]) if self.best_seen.size else float("nan")

    def cost_to_reach(self, target: float, *, stay: bool = True) -> tuple[float, float] | None:
        """(trial-epochs, seconds) at the first job after which the incumbent's true quality is >= ``target``
        (``stay``: and stays so until the end of the run); None if it never is."""
        ok = np.nan_to_num(self.truth, nan=-np.inf) >= target - 1e-12
        if not ok.any():
            return None
        if stay:
            if not ok[-1]:
                return None
            bad = np.nonzero(~ok)[0]
            i = int(bad[-1]) + 1 if bad.size else 0
        else:
            i = int(np.nonzero(ok)[0][0])
        return float(self.cum_epochs[i]), float(self.cum_seconds[i])

    def truth_at(self, epochs: np.ndarray) -> np.ndarray:
        """The incumbent's true quality once ``epochs`` trial-epochs are spent (NaN before the first job ends;
        after the run's end its final incumbent)."""
        idx = np.searchsorted(self.cum_epochs, epochs, side="right") - 1
        return np.where(idx >= 0, self.truth[np.clip(idx, 0, None)], np.nan)


def _space(table: Table):
    from studies.spec import Param, SearchSpace

    return SearchSpace([Param(key=k, kind="categorical", choices=tuple(v)) for k, v in table.space.items()])


# --------------------------------------------------------------------------------------------- searchers
class _Searcher:
    """Proposals and bookkeeping of a protocol (one Optuna study, or Ray's OptunaSearch)."""

    def __init__(self, table: Table, protocol: Protocol, seed: int):
        import optuna

        from studies.study import build_sampler

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.kind = protocol.bookkeeping
        self.space = _space(table)
        self.ray = None
        if self.kind == "ray_stock":
            from ray.tune.search.optuna import OptunaSearch

            self.ray = OptunaSearch(space=self.space, metric="val_map10", mode="max", seed=seed)
            return
        if protocol.sampler.get("kind") == "tpe_stock":
            sampler = optuna.samplers.TPESampler(seed=seed)
        else:
            sampler = build_sampler(protocol.sampler, seed=seed)
        pruner = optuna.pruners.NopPruner()
        if protocol.scheduler == "hyperband":
            pruner = optuna.pruners.HyperbandPruner(min_resource=protocol.grace_period, max_resource=table.max_epochs,
                                                    reduction_factor=protocol.reduction_factor)
        elif protocol.scheduler == "asha" and protocol.asha_impl == "optuna" and protocol.gate is None:
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=protocol.grace_period,
                                                            reduction_factor=protocol.reduction_factor,
                                                            min_early_stopping_rate=0)
        # a fixed name: Optuna's HyperbandPruner assigns trials to brackets by a hash of the study name
        self.study = optuna.create_study(study_name=f"replay-{protocol.name}-{seed}", direction="maximize",
                                         sampler=sampler, pruner=pruner)
        self._n = 0

    def ask(self) -> tuple[Any, dict[str, Any]]:
        if self.ray is not None:
            tid = f"t{self._n_ray()}"
            return tid, dict(self.ray.suggest(tid))
        trial = self.study.ask()
        return trial, self.space(trial)

    def _n_ray(self) -> int:
        self._n = getattr(self, "_n", 0) + 1
        return self._n

    def report(self, handle: Any, epoch: int, value: float) -> None:
        if self.ray is not None:
            self.ray.on_trial_result(handle, {"val_map10": value, "training_iteration": epoch})
        else:
            handle.report(value, epoch)

    def should_prune(self, handle: Any) -> bool:
        return handle.should_prune()

    def finish(self, handle: Any, values: list[float], stopped: bool) -> float | None:
        """Record a finished trial; its value as a candidate incumbent (None: not a candidate)."""
        from optuna.trial import TrialState

        if self.kind == "ray_stock":  # OptunaSearch: COMPLETE with the last reported result, stopped or not
            self.ray.on_trial_complete(handle, {"val_map10": values[-1], "training_iteration": len(values)})
            return values[-1]
        if self.kind == "optuna":
            if stopped:
                self.study.tell(handle, state=TrialState.PRUNED)
                return None
            self.study.tell(handle, values[-1])
            return values[-1]
        value = max(values)  # harness (studies.search): best over epochs; a stopped trial is PRUNED with it
        if stopped:
            frozen = self.study._storage.get_trial(handle._trial_id)
            self.study.sampler.after_trial(self.study, frozen, TrialState.PRUNED, [value])
            self.study._storage.set_trial_state_values(handle._trial_id, TrialState.PRUNED, [value])
        else:
            self.study.tell(handle, value)
        return value


# --------------------------------------------------------------------------------------------- the loop
class _Run:
    """Seeds, costs, incumbent and the per-job record of one replay."""

    def __init__(self, table: Table, protocol: Protocol, seed: int):
        self.table, self.protocol, self.seed = table, protocol, seed
        self.count: dict[str, int] = {}
        self.spent_e = self.spent_s = 0.0
        self.inc_value, self.inc_key, self.inc_params = -math.inf, None, None
        self.best_seen = -math.inf
        self.cum_e: list[float] = []
        self.cum_s: list[float] = []
        self.truth: list[float] = []
        self.truth_test: list[float] = []
        self.best: list[float] = []
        self.trials: list[dict[str, Any]] = []
        self.notes: set[str] = set()

    def new_seed(self, params: dict[str, Any]) -> int:
        seeds = self.table.seeds
        key = _key(params)
        k = self.count.get(key, 0)
        self.count[key] = k + 1
        h = hashlib.sha256(f"{self.seed}|{key}".encode()).digest()
        return seeds[(int.from_bytes(h[:4], "little") + k) % len(seeds)]

    def budget_left(self) -> bool:
        p = self.protocol
        if p.max_trials is not None and len(self.trials) >= p.max_trials:
            return False
        return p.max_epochs_budget is None or self.spent_e < p.max_epochs_budget

    def pay(self, curve: Curve, first: int, last: int, overhead: bool) -> None:
        """Train epochs ``first..last`` (1-based, inclusive) of ``curve``."""
        self.spent_e += last - first + 1
        self.spent_s += sum(curve.epoch_s[first - 1:last]) + (curve.overhead_s if overhead else 0.0)

    def job_done(self, params: dict[str, Any], value: float | None, record: dict[str, Any],
                 incumbent: dict[str, Any] | None = None) -> None:
        """File a finished job; the incumbent becomes the job's configuration if its value is the best so far, or
        ``incumbent`` when the protocol chooses it itself."""
        if incumbent is not None:
            self.inc_params = incumbent
        elif value is not None and value > self.inc_value:
            self.inc_value, self.inc_params = value, params
        if value is not None:
            self.best_seen = max(self.best_seen, value)
        self.trials.append(record)
        self.cum_e.append(self.spent_e)
        self.cum_s.append(self.spent_s)
        if self.inc_params is None:
            self.truth.append(float("nan"))
            self.truth_test.append(float("nan"))
        else:
            self.truth.append(self.table.truth(self.inc_params))
            tt = self.table.truth_test(self.inc_params)
            self.truth_test.append(float("nan") if tt is None else tt)
        self.best.append(self.best_seen if math.isfinite(self.best_seen) else float("nan"))

    def result(self) -> ReplayResult:
        return ReplayResult(self.protocol.name, self.seed, np.array(self.cum_e), np.array(self.cum_s),
                            np.array(self.truth), np.array(self.truth_test), np.array(self.best), self.trials,
                            sorted(self.notes))


def replay(table: Table, protocol: Protocol, seed: int) -> ReplayResult:
    """Run ``protocol`` on ``table`` sequentially with sampler seed ``seed`` (see the module docstring): the loop
    that the ``REPLAYS`` entry of its ``scheduler`` names."""
    if protocol.max_trials is None and protocol.max_epochs_budget is None:
        raise ValueError(f"protocol {protocol.name!r}: needs max_trials or max_epochs_budget")
    return REPLAYS.get(protocol.scheduler)(table, protocol, seed)


def _replay_stopping(table: Table, protocol: Protocol, seed: int) -> ReplayResult:
    """FIFO, ASHA (Ray's rule, Optuna's pruner, rank-gated) and Optuna's HyperbandPruner: every trial runs the
    longest schedule until the scheduler stops it."""
    searcher = _Searcher(table, protocol, seed)
    run = _Run(table, protocol, seed)
    n = table.max_epochs
    asha = None
    if protocol.scheduler == "asha" and protocol.gate is not None:
        asha = RankGatedASHA(protocol.grace_period, protocol.reduction_factor, n, threshold=protocol.gate,
                             min_pairs=protocol.gate_min_pairs)
    elif protocol.scheduler == "asha" and protocol.asha_impl != "optuna":
        asha = AsyncSuccessiveHalving(protocol.grace_period, protocol.reduction_factor, n)
    use_pruner = protocol.scheduler == "hyperband" or (protocol.scheduler == "asha" and asha is None)
    while run.budget_left():
        handle, params = searcher.ask()
        s = run.new_seed(params)
        curve = table.lookup(params).curve(n, s)
        values: list[float] = []
        best, bad, stopped = -math.inf, 0, False
        for epoch in range(1, n + 1):
            if protocol.scheduler == "fifo" and protocol.patience is not None and bad >= protocol.patience:
                break  # fit's early stopping: checked before an epoch starts
            v = curve.values[epoch - 1]
            values.append(v)
            bad = 0 if v > best else bad + 1
            best = max(best, v)
            searcher.report(handle, epoch, v)
            if epoch < n:
                if asha is not None and not asha.on_result(handle if isinstance(handle, str) else handle.number,
                                                           epoch, v):
                    stopped = True
                elif use_pruner and searcher.should_prune(handle):
                    stopped = True
            elif isinstance(asha, RankGatedASHA):
                asha.on_result(handle if isinstance(handle, str) else handle.number, epoch, v)
            if stopped:
                break
        run.pay(curve, 1, len(values), overhead=True)
        value = searcher.finish(handle, values, stopped)
        run.job_done(params, value, {"params": params, "seed": s, "schedule": n, "epochs": len(values),
                                     "value": value if value is not None else values[-1],
                                     "state": "PRUNED" if stopped else "COMPLETE"})
    return run.result()


def _replay_promotions(table: Table, protocol: Protocol, seed: int) -> ReplayResult:
    """Successive halving by promotion (:class:`~.methods.PromotionSH`): budgeted (``restart``), continued,
    progressive (PASHA), gated. New configurations come from the protocol's sampler, which is told the first
    rung's results; promotions bypass it.

    ``confirm`` > 0 (noise-aware incumbent): a configuration's score is the mean of its top-rung runs; whenever the
    best-scoring configuration has fewer than ``1 + confirm`` top-rung runs, the next job trains it again on the
    top rung with another seed; the incumbent is the best-scoring configuration among those with the most
    top-rung runs."""
    searcher = _Searcher(table, protocol, seed)
    run = _Run(table, protocol, seed)
    n = table.max_epochs
    sh = PromotionSH(protocol.rungs, protocol.reduction_factor, progressive=protocol.progressive,
                     gate=protocol.gate, min_pairs=protocol.gate_min_pairs)
    top = len(protocol.rungs) - 1
    trials: dict[int, dict[str, Any]] = {}  # trial id -> params, seed, epochs trained on the longest schedule
    scores: dict[str, list[float]] = {}  # configuration -> its top-rung values (confirm)
    params_of: dict[str, dict[str, Any]] = {}
    while run.budget_left():
        confirm_key = None
        if protocol.confirm and scores:
            best_key = max(scores, key=lambda k: (float(np.mean(scores[k])), len(scores[k])))
            if len(scores[best_key]) < 1 + protocol.confirm:
                confirm_key = best_key
        if confirm_key is not None:
            params = params_of[confirm_key]
            tid = len(trials)
            trials[tid] = {"params": params, "seed": run.new_seed(params), "done": 0, "handle": None}
            rung = top
        else:
            tid, rung = sh.next_job()
            if tid is None:
                handle, params = searcher.ask()
                tid = len(trials)
                trials[tid] = {"params": params, "seed": run.new_seed(params), "done": 0, "handle": handle}
        budget = protocol.rungs[rung]
        t = trials[tid]
        params, s = t["params"], t["seed"]
        if protocol.restart:
            sched = table.schedule_for(budget)
            if sched != budget:
                run.notes.add(f"rung {budget} read the recorded schedule {sched} (nearest)")
            curve = table.lookup(params).curve(sched, s)
            values = list(curve.values)
            run.pay(curve, 1, sched, overhead=True)
        else:
            curve = table.lookup(params).curve(n, s)
            upto = min(budget, n)
            run.pay(curve, t["done"] + 1, upto, overhead=True)  # a promoted job sets up and evaluates again
            t["done"] = upto
            values = list(curve.values[:upto])
        rung_value = values[-1]
        if confirm_key is None:
            sh.record(tid, rung, rung_value)
        if rung == 0 and confirm_key is None and searcher.ray is None:
            searcher.study.tell(t["handle"], rung_value)
        value = max(values)  # the harness's record of the job: best over its epochs
        incumbent = None
        if protocol.confirm and rung == top:
            key = _key(params)
            scores.setdefault(key, []).append(value)
            params_of[key] = params
        if protocol.confirm and scores:  # once a configuration has a top-rung run, the protocol picks the incumbent
            most = min(max(len(v) for v in scores.values()), 1 + protocol.confirm)
            inc = max((k for k in scores if len(scores[k]) >= most), key=lambda k: float(np.mean(scores[k])))
            incumbent = params_of[inc]
        run.job_done(params, value, {"params": params, "seed": s, "trial": tid, "rung": rung, "budget": budget,
                                     "schedule": table.schedule_for(budget) if protocol.restart else n,
                                     "epochs": len(values), "value": value, "state": "COMPLETE",
                                     "confirm": confirm_key is not None},
                     incumbent=incumbent)
    res = run.result()
    if protocol.progressive:
        res.notes.append(f"PASHA top rung over time: {[protocol.rungs[k] for k in sh.top_history]}")
    return res


def hyperband_brackets(max_t: int, eta: int = 3) -> list[tuple[int, tuple[int, ...]]]:
    """The brackets of synchronous HyperBand (Li et al. 2018) for a ``max_t``-epoch schedule and ``eta``, most
    aggressive first: ``(n configurations, rung epochs)``; rung epochs are ``max_t * eta**-k`` rounded (>= 1)."""
    s_max = int(math.floor(math.log(max_t) / math.log(eta) + 1e-9))
    out = []
    for s in range(s_max, -1, -1):
        n = int(math.ceil((s_max + 1) / (s + 1) * eta ** s))
        rungs = tuple(sorted({max(1, int(round(max_t * eta ** (i - s)))) for i in range(s + 1)}))
        out.append((n, rungs))
    return out


def _replay_bohb(table: Table, protocol: Protocol, seed: int) -> ReplayResult:
    """BOHB: Ray Tune's ``TuneBOHB`` searcher (HpBandSter's BOHB kernel-density model, driven through Ray's own
    class) proposing the configurations of synchronous HyperBand brackets (``eta`` = the protocol's reduction
    factor, brackets cycled most aggressive first) on the longest schedule; a configuration kept at a rung continues
    from its checkpoint (paused and resumed, as ``HyperBandForBOHB`` does); every rung result goes to the model with
    its budget. Incumbent: the best last result of any trial (Ray's ``get_best_result``)."""
    import io
    import logging
    import warnings

    import ConfigSpace as CS
    from ray.tune.search.bohb import TuneBOHB

    cs = CS.ConfigurationSpace(seed=seed)
    for k, vals in table.space.items():
        cs.add(CS.CategoricalHyperparameter(k, list(vals)))
    bohb = TuneBOHB(cs, metric="val_map10", mode="max", seed=seed)
    bohb.bohber.logger.setLevel(logging.ERROR)  # its KDE's numerical warnings (l(x), g(x)) on every proposal
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="statsmodels")  # its KDE on a categorical
    run = _Run(table, protocol, seed)
    quiet = io.StringIO()  # HpBandSter prints its KDE's internals
    rng_state = np.random.get_state()
    np.random.seed(seed)  # HpBandSter's BOHB draws from numpy's global generator: seeded, then restored
    try:
        return _bohb_loop(table, protocol, run, bohb, quiet)
    finally:
        np.random.set_state(rng_state)


def _bohb_loop(table: Table, protocol: Protocol, run: "_Run", bohb, quiet) -> ReplayResult:
    import contextlib

    n = table.max_epochs
    brackets = hyperband_brackets(n, protocol.reduction_factor)
    b = 0
    tid = 0
    while run.budget_left():
        size, rungs = brackets[b % len(brackets)]
        b += 1
        live = []
        for _ in range(size):
            with contextlib.redirect_stdout(quiet):
                cfg = bohb.suggest(f"t{tid}")
            params = {k: _plain(cfg[k]) for k in table.space}
            live.append({"id": f"t{tid}", "params": params, "seed": run.new_seed(params), "done": 0, "values": []})
            tid += 1
        for k, r in enumerate(rungs):
            for t in live:
                curve = table.lookup(t["params"]).curve(n, t["seed"])
                run.pay(curve, t["done"] + 1, r, overhead=t["done"] == 0)
                t["values"] = list(curve.values[:r])
                t["done"] = r
                with contextlib.redirect_stdout(quiet):
                    bohb.on_trial_result(t["id"], {"val_map10": t["values"][-1],
                                                   "hyperband_info": {"budget": r}})
            keep = len(live) // protocol.reduction_factor if k < len(rungs) - 1 else 0
            ranked = sorted(live, key=lambda t: -t["values"][-1])
            for t in ranked[keep:]:  # stopped here (or finished, at the last rung)
                bohb.on_trial_complete(t["id"], {"val_map10": t["values"][-1]})
                run.job_done(t["params"], t["values"][-1], {
                    "params": t["params"], "seed": t["seed"], "schedule": n, "epochs": t["done"],
                    "value": t["values"][-1], "state": "COMPLETE" if t["done"] == n else "PRUNED"})
            live = ranked[:keep]
            if not live or not run.budget_left():
                break
    return run.result()


#: The schedulers a protocol replays (``Protocol.scheduler``), each the loop that replays it ``(table, protocol,
#: seed) -> ReplayResult``.
REPLAYS: Registry = Registry("replayed scheduler", key="protocol.scheduler", error=ValueError)
REPLAYS.register("fifo", _replay_stopping, description="every trial runs the longest schedule (fit's patience)")
REPLAYS.register("asha", _replay_stopping, description="ASHA's stopping rule (Ray's, Optuna's or rank-gated)")
REPLAYS.register("hyperband", _replay_stopping, description="Optuna's HyperbandPruner")
REPLAYS.register("sh", _replay_promotions, description="successive halving by promotion (restart, continue, PASHA)")
REPLAYS.register("bohb", _replay_bohb, description="BOHB (Ray Tune's TuneBOHB + HyperBandForBOHB)")


def _plain(v: Any) -> Any:
    """numpy scalars (ConfigSpace's values) as plain Python values, so they match the table's keys."""
    return v.item() if hasattr(v, "item") else v
