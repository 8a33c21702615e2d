"""HPO efficiency: the 2022 paper's protocol against TPE + ASHA and random search + ASHA, replayed on a table of
real learning curves (the tabular-benchmark method of HPOBench, LCBench and NAS-Bench).

**The table** (``benchmarks/results/hpo_table.json``) is built once by a grid study run through the real harness
(``benchmarks/hpo_table.yaml``: every configuration of a discrete space trained for the full ``train.epochs`` on
SynthCaps small, FIFO, 2 trials at a time). :func:`extract_table` reads the Optuna study and each trial's run
directory and stores, per configuration: its parameters, the validation mAP@10 after every epoch, the measured
seconds of every epoch (training + validation, from ``metrics.json``) and the trial's seconds outside its epochs
(set-up, final evaluation; from ``trial_status.json``). The file carries a fingerprint of its content.

**The replay** (:func:`replay`) runs one protocol as a sequential (one-worker) Optuna ask/tell loop over the
table's space, with the harness's own samplers (:func:`studies.study.build_sampler`, same pinned options as the
study specs). A trial "trains" by reading its configuration's curve epoch by epoch and paying each epoch's cost:

- ``fifo`` + ``patience``: the trial stops after ``patience`` epochs without a better value, as ``fit`` does;
- ``asha``: asynchronous successive halving with the study specs' ``grace_period``/``reduction_factor``. By default
  (``asha_impl="ray"``) decisions come from Ray Tune's own ASHA bracket (``AsyncHyperBandScheduler``'s ``_Bracket``,
  the scheduler the harness runs); ``asha_impl="optuna"`` uses :class:`optuna.pruners.SuccessiveHalvingPruner`
  (same rungs; it differs only for the first ``reduction_factor - 1`` trials at a rung).

A trial's value is the best validation mAP@10 over the epochs it trained (what the harness records; a stopped
trial is PRUNED with that value, as :mod:`studies.search` tells it). Repeated proposals of the same configuration
are charged again (a real study would train them again, with another seed; the table holds one curve each).

**The comparison** (:func:`compare`): for each repetition ``r`` (sampler seed ``r``), the target is the best value
the 2022 protocol finds with its full budget minus 1 pp; each protocol's compute to reach it is the cumulative
trial-epochs (and seconds) at the epoch its best-so-far first reaches the target. The ratio is
``compute(2022) / compute(protocol)`` per repetition; reported as median, interquartile range and min-max.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

TABLE_VERSION = 1
DEFAULT_TABLE = Path("benchmarks/results/hpo_table.json")
TABLE_SPEC = Path("benchmarks/hpo_table.yaml")
TARGET_TOLERANCE = 0.01  # "within 1 pp" of the 2022 protocol's best


class TableError(ValueError):
    """A learning-curve table is missing, malformed or incomplete; the message names the file and the key."""


# --------------------------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Curve:
    """One configuration of the table: its parameters, val mAP@10 and seconds per epoch, seconds outside epochs."""

    params: dict[str, Any]
    values: tuple[float, ...]
    epoch_s: tuple[float, ...]
    overhead_s: float = 0.0

    @property
    def best(self) -> float:
        return max(self.values)


@dataclass(frozen=True)
class Table:
    """Learning curves of every configuration of a discrete space (see the module docstring)."""

    space: dict[str, list[Any]]  # parameter -> its values, in spec order
    curves: tuple[Curve, ...]
    max_epochs: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        index = {}
        for i, c in enumerate(self.curves):
            key = _key(c.params)
            if key in index:
                raise TableError(f"configs[{i}]: the same parameters as configs[{index[key]}]: {c.params}")
            index[key] = i
        object.__setattr__(self, "_index", index)

    def lookup(self, params: Mapping[str, Any]) -> Curve:
        try:
            return self.curves[self._index[_key(params)]]  # type: ignore[attr-defined]
        except KeyError:
            raise TableError(f"the table has no configuration {dict(params)}") from None

    @property
    def best(self) -> float:
        return max(c.best for c in self.curves)

    def fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of the space, epochs and every curve: changes iff the table's content does."""
        body = {"space": self.space, "max_epochs": self.max_epochs,
                "configs": [{"params": c.params, "values": list(c.values), "epoch_s": list(c.epoch_s),
                             "overhead_s": c.overhead_s} for c in self.curves]}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"version": TABLE_VERSION, "fingerprint": self.fingerprint(), "meta": self.meta, "space": self.space,
                "max_epochs": self.max_epochs,
                "configs": [{"params": c.params, "val_map10": list(c.values), "epoch_s": list(c.epoch_s),
                             "overhead_s": c.overhead_s} for c in self.curves]}

    @classmethod
    def from_dict(cls, raw: Any, where: str = "table") -> "Table":
        """Validate and build; every error names ``where`` and the offending key."""
        if not isinstance(raw, dict):
            raise TableError(f"{where}: expected a JSON object")
        for key in ("space", "max_epochs", "configs"):
            if key not in raw:
                raise TableError(f"{where}: missing key {key!r}")
        space = raw["space"]
        if not isinstance(space, dict) or not space or not all(isinstance(v, list) and v for v in space.values()):
            raise TableError(f"{where}: 'space' must map each parameter to a non-empty list of values")
        n = raw["max_epochs"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise TableError(f"{where}: 'max_epochs' must be an integer >= 1, got {n!r}")
        if not isinstance(raw["configs"], list) or not raw["configs"]:
            raise TableError(f"{where}: 'configs' must be a non-empty list")
        curves = []
        for i, c in enumerate(raw["configs"]):
            at = f"{where}: configs[{i}]"
            if not isinstance(c, dict):
                raise TableError(f"{at}: expected an object")
            params, values, secs = c.get("params"), c.get("val_map10"), c.get("epoch_s")
            if not isinstance(params, dict) or set(params) != set(space):
                raise TableError(f"{at}.params: expected the parameters {sorted(space)}, got {params!r}")
            for k, v in params.items():
                if v not in space[k]:
                    raise TableError(f"{at}.params.{k}: {v!r} is not one of the space's values {space[k]}")
            for name, arr in (("val_map10", values), ("epoch_s", secs)):
                if not isinstance(arr, list) or len(arr) != n:
                    raise TableError(f"{at}.{name}: expected {n} numbers (one per epoch), got "
                                     f"{len(arr) if isinstance(arr, list) else type(arr).__name__}")
                for e, v in enumerate(arr):
                    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                        raise TableError(f"{at}.{name}[{e}]: expected a finite number, got {v!r}")
            if any(s < 0 for s in secs):
                raise TableError(f"{at}.epoch_s: negative seconds")
            overhead = c.get("overhead_s", 0.0)
            if not isinstance(overhead, (int, float)) or isinstance(overhead, bool) or overhead < 0:
                raise TableError(f"{at}.overhead_s: expected seconds >= 0, got {overhead!r}")
            curves.append(Curve(dict(params), tuple(float(v) for v in values), tuple(float(s) for s in secs),
                                float(overhead)))
        table = cls({k: list(v) for k, v in space.items()}, tuple(curves), int(n), dict(raw.get("meta") or {}))
        stored = raw.get("fingerprint")
        if stored is not None and stored != table.fingerprint():
            raise TableError(f"{where}: fingerprint {stored} does not match the content ({table.fingerprint()}): "
                             "the table was edited by hand or truncated")
        return table


def load_table(path: str | Path = DEFAULT_TABLE) -> Table:
    """Read and validate a table file (errors name the file and key)."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such table; build it with `python -m benchmarks perf --build-table` "
                         "(see docs/perf.md)")
    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise TableError(f"{path}: not valid JSON: {exc}") from None
    return Table.from_dict(raw, str(path))


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)


def extract_table(spec_path: str | Path = TABLE_SPEC, runs_dir: str | Path = "runs", *,
                  allow_partial: bool = False) -> Table:
    """Build the table from a finished grid study of ``spec_path`` whose runs are under ``runs_dir``.

    Reads the Optuna study (parameters, per-epoch intermediate values) and each trial's run directory
    (``metrics.json``: per-epoch ``val_map10`` and ``epoch_time_s``; ``trial_status.json``: ``wall_time_s``).
    Raises :class:`TableError` naming the trial when a curve is incomplete or disagrees with the study, and
    listing missing grid points unless ``allow_partial``. A partial table keeps the values of the first (slowest
    varying) grid parameter whose configurations are all complete, so its space is still a full product.
    """
    from optuna.trial import TrialState

    from studies.spec import SEED, grid_points, load_spec
    from studies.storage import open_storage, resolve

    spec = load_spec(spec_path, check_registries=False)
    if not spec.is_grid:
        raise TableError(f"{spec_path}: sampler.kind must be grid to build a table")
    run_root = (Path(runs_dir) / spec.name).resolve()
    surl = resolve(spec.storage, run_root)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(surl))
    except KeyError:
        raise TableError(f"{surl}: no study {spec.name!r}; run `python -m studies run {spec_path} "
                         f"--runs-dir {runs_dir}` first") from None
    n = spec.max_epochs
    space = {p.key: p.values() for p in spec.params}
    by_key: dict[str, Curve] = {}
    problems: list[str] = []
    for t in study.get_trials(deepcopy=False):
        if t.state != TrialState.COMPLETE:
            problems.append(f"trial #{t.number}: state {t.state.name}")
            continue
        params = {k: v for k, v in t.params.items() if k != SEED}
        run_dir = Path(t.user_attrs.get("run_dir") or run_root / "trials" / str(t.number))
        try:
            metrics = json.loads((run_dir / "metrics.json").read_text())
            status = json.loads((run_dir / "trial_status.json").read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"trial #{t.number}: cannot read {run_dir}: {exc}")
            continue
        hist = metrics.get("history") or []
        if len(hist) != n:
            problems.append(f"trial #{t.number}: {run_dir}/metrics.json has {len(hist)} epochs, expected {n}")
            continue
        values = [float(h["val_map10"]) for h in hist]
        for e, v in enumerate(values, start=1):
            iv = t.intermediate_values.get(e)
            if iv is not None and abs(iv - v) > 1e-9:
                problems.append(f"trial #{t.number}: epoch {e} val_map10 {v} in metrics.json, {iv} in the study")
        secs = [float(h["epoch_time_s"]) for h in hist]
        wall = float(status.get("wall_time_s") or sum(secs))
        by_key[_key(params)] = Curve(params, tuple(values), tuple(secs), max(0.0, wall - sum(secs)))
    points = [{k: v for k, v in p.items() if k != SEED} for p in grid_points(spec)]
    missing = [p for p in points if _key(p) not in by_key]
    if missing and not allow_partial:
        detail = "; ".join(problems[:5])
        raise TableError(f"{surl}: {len(missing)} of {len(points)} grid points have no complete trial "
                         f"(first: {missing[0]}){'; ' + detail if detail else ''}; finish the study "
                         f"(python -m studies run {spec_path} --runs-dir {runs_dir} --resume) or pass --allow-partial")
    if missing:  # keep the complete levels of the slowest-varying (first) parameter: a product subspace
        first = next(iter(space))
        done = [v for v in space[first] if all(_key(p) in by_key for p in points if p[first] == v)]
        space = {**space, first: done}
        points = [p for p in points if p[first] in done]
    curves = tuple(by_key[_key(p)] for p in points)
    if not curves:
        raise TableError(f"{surl}: no value of {next(iter(space))!r} has all its grid points complete yet")
    from retrieval.utils import git_commit

    meta = {"spec": str(spec_path), "study": spec.name, "storage": surl.display(), "base_fingerprint":
            spec.base.fingerprint(), "base_data": spec.base.to_dict()["data"], "git_commit": git_commit(),
            "trials": len(curves), "grid_points": len(grid_points(spec)), "partial": bool(missing),
            "concurrent_trials": spec.resources["max_concurrent"], "threads_per_trial": spec.resources["cpu"]}
    return Table(space, curves, n, meta)


# --------------------------------------------------------------------------------------------- protocols
@dataclass(frozen=True)
class Protocol:
    """An HPO protocol: a sampler (``tpe``/``random`` with the spec's options), a scheduler and a budget.

    ``max_trials`` bounds the number of trials and ``max_epochs_budget`` the trial-epochs spent (``None``: only the
    other bound). ASHA uses ``grace_period`` and ``reduction_factor``; FIFO uses ``patience`` (``None``: none).
    """

    name: str
    sampler: dict[str, Any]
    scheduler: str  # "fifo" | "asha"
    patience: int | None = None
    grace_period: int = 1
    reduction_factor: int = 3
    max_trials: int | None = 110
    max_epochs_budget: float | None = None
    asha_impl: str = "ray"


def spec_options(path: str | Path, section: str) -> dict[str, Any]:
    """A study spec's resolved ``sampler`` or ``scheduler`` section (every default filled in)."""
    from studies.spec import load_spec

    spec = load_spec(path, check_registries=False)
    return dict(getattr(spec, section))


def default_protocols(*, n_trials_2022: int = 110, asha_from: str | Path = "studies/quick.yaml",
                      tpe_from: str | Path = "studies/dcase2022_augmentations.yaml",
                      asha_impl: str = "ray") -> list[Protocol]:
    """The three protocols: the 2022 paper's (TPE with the ``dcase2022_augmentations`` spec's pinned options: 10
    random trials then TPE; FIFO; patience 10; 10 + 100 trials), TPE + ASHA (the same TPE options, ASHA as in
    ``studies/quick.yaml``), random + ASHA. The ASHA protocols run until they have spent the trial-epochs of the
    2022 protocol's full budget (set per repetition by :func:`compare`)."""
    tpe = spec_options(tpe_from, "sampler")
    fifo = spec_options(tpe_from, "scheduler")
    asha = spec_options(asha_from, "scheduler")
    if asha.get("kind") != "asha":
        raise TableError(f"{asha_from}: scheduler.kind is {asha.get('kind')!r}, expected asha")
    g, rf = int(asha["grace_period"]), int(asha["reduction_factor"])
    return [
        Protocol("2022 (TPE, FIFO, patience 10)", tpe, "fifo", patience=fifo.get("patience") or 10,
                 max_trials=n_trials_2022),
        Protocol(f"TPE + ASHA (grace {g}, rf {rf})", tpe, "asha", grace_period=g, reduction_factor=rf,
                 max_trials=None, asha_impl=asha_impl),
        Protocol(f"random + ASHA (grace {g}, rf {rf})", {"kind": "random", "seed": 0}, "asha", grace_period=g,
                 reduction_factor=rf, max_trials=None, asha_impl=asha_impl),
    ]


# --------------------------------------------------------------------------------------------- the replay
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


class _RayAsha:
    """Ray Tune's ASHA bracket (the one ``studies.schedulers.ASHA`` runs), called directly."""

    def __init__(self, grace: int, rf: int, max_t: int):
        from ray.tune.schedulers.async_hyperband import _Bracket
        from ray.tune.schedulers.trial_scheduler import TrialScheduler

        self._bracket = _Bracket(min_t=grace, max_t=max_t, reduction_factor=rf, s=0)
        self._stop = TrialScheduler.STOP

    def stop(self, trial_number: int, epoch: int, value: float) -> bool:
        return self._bracket.on_result(_TrialId(f"t{trial_number}"), epoch, value) == self._stop


@dataclass(frozen=True)
class _TrialId:
    trial_id: str


def _space(table: Table):
    from studies.spec import Param, SearchSpace

    return SearchSpace([Param(key=k, kind="categorical", choices=tuple(v)) for k, v in table.space.items()])


def replay(table: Table, protocol: Protocol, seed: int) -> ReplayResult:
    """Run ``protocol`` on ``table`` sequentially with sampler seed ``seed`` (see the module docstring)."""
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
    ray_asha = (_RayAsha(protocol.grace_period, protocol.reduction_factor, table.max_epochs)
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
                if ray_asha is not None and ray_asha.stop(trial.number, epoch, v):
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


# --------------------------------------------------------------------------------------------- the comparison
def _spread(x: Sequence[float]) -> dict[str, float]:
    a = np.asarray([v for v in x if v is not None and math.isfinite(v)], dtype=float)
    if a.size == 0:
        return {"median": float("nan"), "q25": float("nan"), "q75": float("nan"), "min": float("nan"),
                "max": float("nan"), "n": 0}
    return {"median": float(np.median(a)), "q25": float(np.percentile(a, 25)), "q75": float(np.percentile(a, 75)),
            "min": float(a.min()), "max": float(a.max()), "n": int(a.size)}


def compare(table: Table, protocols: Sequence[Protocol], repetitions: int, *, first_seed: int = 0,
            tolerance: float = TARGET_TOLERANCE,
            log: Callable[[str], None] = print) -> tuple[dict[str, Any], dict[str, list[ReplayResult]]]:
    """Replay every protocol ``repetitions`` times; the first protocol is the reference (the 2022 protocol).

    Per repetition ``r`` (sampler seed ``first_seed + r`` for every protocol): the reference runs its full budget;
    target = its best - ``tolerance``; protocols without a trial budget get the reference's trial-epochs as their
    budget. Returns the summary (per protocol: reached, compute to target, ratios against the reference, final best)
    and the raw replays.
    """
    ref, others = protocols[0], list(protocols[1:])
    runs: dict[str, list[ReplayResult]] = {p.name: [] for p in protocols}
    per_rep: list[dict[str, Any]] = []
    for r in range(repetitions):
        seed = first_seed + r
        ref_run = replay(table, ref, seed)
        runs[ref.name].append(ref_run)
        target = ref_run.best - tolerance
        budget_e = float(ref_run.cum_epochs[-1])
        rec = {"seed": seed, "target": target, "reference_best": ref_run.best, "reference_budget_epochs": budget_e,
               "reference_budget_s": float(ref_run.cum_seconds[-1]), "protocols": {}}
        ref_cost = ref_run.cost_to_reach(target)
        assert ref_cost is not None  # the reference reaches its own best
        rec["protocols"][ref.name] = _cost_record(ref_run, target, ref_cost)
        for p in others:
            if p.max_trials is None and p.max_epochs_budget is None:
                p = dataclasses.replace(p, max_epochs_budget=budget_e)
            run = replay(table, p, seed)
            runs[p.name].append(run)
            rec["protocols"][p.name] = _cost_record(run, target, ref_cost)
        per_rep.append(rec)
        log(f"    repetition {r + 1}/{repetitions} (seed {seed}): target {target:.4f}; " + "; ".join(
            f"{name.split(' (')[0]}: {_fmt_cost(v)}" for name, v in rec["protocols"].items()))
    summary = {"reference": ref.name, "tolerance": tolerance, "repetitions": repetitions, "per_repetition": per_rep,
               "table_best": table.best, "protocols": {}}
    for p in protocols:
        recs = [rep["protocols"][p.name] for rep in per_rep]
        summary["protocols"][p.name] = {
            "sampler": p.sampler.get("kind"), "scheduler": p.scheduler, "patience": p.patience,
            "grace_period": p.grace_period if p.scheduler == "asha" else None,
            "reduction_factor": p.reduction_factor if p.scheduler == "asha" else None,
            "asha_impl": p.asha_impl if p.scheduler == "asha" else None,
            "reached": sum(x["reached"] for x in recs),
            "epochs_to_target": _spread([x["epochs_to_target"] for x in recs]),
            "seconds_to_target": _spread([x["seconds_to_target"] for x in recs]),
            "ratio_epochs": _spread([x["ratio_epochs"] for x in recs]),
            "ratio_seconds": _spread([x["ratio_seconds"] for x in recs]),
            "ratio_epochs_vs_reference_full_budget": _spread([
                rep["reference_budget_epochs"] / x["epochs_to_target"] if x["reached"] else None
                for rep, x in zip(per_rep, recs)]),
            "final_best": _spread([x["final_best"] for x in recs]),
            "trials": _spread([x["trials"] for x in recs]),
            "pruned": _spread([x["pruned"] for x in recs]),
        }
    return summary, runs


def _cost_record(run: ReplayResult, target: float, ref_cost: tuple[float, float]) -> dict[str, Any]:
    cost = run.cost_to_reach(target)
    return {"reached": cost is not None, "epochs_to_target": cost[0] if cost else None,
            "seconds_to_target": cost[1] if cost else None,
            "ratio_epochs": ref_cost[0] / cost[0] if cost else None,
            "ratio_seconds": ref_cost[1] / cost[1] if cost else None,
            "final_best": run.best, "trials": len(run.trials),
            "pruned": sum(t["state"] == "PRUNED" for t in run.trials),
            "spent_epochs": float(run.cum_epochs[-1]), "spent_seconds": float(run.cum_seconds[-1])}


def _fmt_cost(rec: Mapping[str, Any]) -> str:
    if not rec["reached"]:
        return f"not reached in {rec['spent_epochs']:.0f} epochs"
    return f"{rec['epochs_to_target']:.0f} epochs"


# --------------------------------------------------------------------------------------------- the plot
def plot_curves(runs: Mapping[str, Sequence[ReplayResult]], target_by_seed: Mapping[int, float],
                out_stem: str | Path, title: str) -> list[Path]:
    """Best-so-far val mAP@10 against trial-epochs: one thin line per repetition, the median across repetitions
    bold (at every trial-epoch count any run reached; a run that has stopped keeps its final best), PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    grid = np.unique(np.concatenate([r.cum_epochs for rs in runs.values() for r in rs]))
    styles = [("-", 2.6), ("--", 2.0), (":", 2.2)]  # paired runs share their first trials: keep overlaps visible
    for i, (name, rs) in enumerate(runs.items()):
        c = colours[i % len(colours)]
        ys = []
        for r in rs:
            ax.step(r.cum_epochs, r.best_so_far, where="post", color=c, alpha=0.25, linewidth=0.8)
            idx = np.searchsorted(r.cum_epochs, grid, side="right") - 1
            y = np.where(idx >= 0, r.best_so_far[np.clip(idx, 0, None)], np.nan)
            ys.append(y)
        style, width = styles[i % len(styles)]
        ax.step(grid, np.nanmedian(np.vstack(ys), axis=0), where="post", color=c, linestyle=style, linewidth=width,
                label=f"{name} (median)")
    if target_by_seed:
        t = float(np.median(list(target_by_seed.values())))
        ax.axhline(t, color="grey", linestyle="--", linewidth=1.0, label="target (2022 best - 1 pp, median)")
    ax.set_xscale("log")
    ax.set_xlabel("trial-epochs spent (log scale)")
    ax.set_ylabel("best validation mAP@10 so far")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = stem.with_name(stem.name + f".{ext}")
        tmp = p.with_name(p.name + ".tmp")
        fig.savefig(tmp, format=ext, dpi=150)
        tmp.replace(p)
        paths.append(p)
    plt.close(fig)
    return paths


SENSITIVITY_GRACE = (1, 2, 3, 5)
SENSITIVITY_RF = (2, 3, 4)


def sensitivity(table: Table, repetitions: int, *, grace: Sequence[int] = SENSITIVITY_GRACE,
                reduction_factors: Sequence[int] = SENSITIVITY_RF, asha_impl: str = "ray",
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """How the ASHA protocols' compute ratio depends on ASHA's ``grace_period`` and ``reduction_factor``: every
    (grace, rf) pair for TPE + ASHA and random + ASHA, against the same 2022 reference and targets as :func:`compare`
    (same seeds). Grace periods at or past the table's last epoch are skipped (ASHA would stop nothing).

    Per cell: repetitions that reached the target, the median ratio over those (``ratio_epochs``), and the median
    over all repetitions with an unreached one counted as ratio 0 (``ratio_epochs_all``, the conservative figure)."""
    base = default_protocols(asha_impl=asha_impl)
    ref, tpe = base[0], base[1].sampler
    grid = [(g, rf) for g in grace for rf in reduction_factors if g < table.max_epochs]
    samplers = (("TPE", tpe), ("random", {"kind": "random", "seed": 0}))
    cells = [{"sampler": name, "grace_period": g, "reduction_factor": rf,
              "protocol": Protocol(f"{name} + ASHA (grace {g}, rf {rf})", smp, "asha", grace_period=g,
                                   reduction_factor=rf, max_trials=None, asha_impl=asha_impl)}
             for g, rf in grid for name, smp in samplers]
    log(f"  ASHA sensitivity: {len(grid)} (grace, rf) pairs x 2 samplers, {repetitions} repetitions")
    summary, _ = compare(table, [ref] + [c["protocol"] for c in cells], repetitions, log=lambda m: None)
    for c in cells:
        key = c.pop("protocol").name
        s = summary["protocols"][key]
        ratios = [rep["protocols"][key]["ratio_epochs"] or 0.0 for rep in summary["per_repetition"]]
        c.update(reached=s["reached"], ratio_epochs=s["ratio_epochs"], ratio_epochs_all=_spread(ratios),
                 final_best=s["final_best"])
    best = max(cells, key=lambda c: c["ratio_epochs_all"]["median"])
    return {"repetitions": repetitions, "grace_periods": sorted({g for g, _ in grid}),
            "reduction_factors": list(reduction_factors), "cells": cells,
            "best": {k: best[k] for k in ("sampler", "grace_period", "reduction_factor")} | {
                "ratio_epochs_all_median": best["ratio_epochs_all"]["median"]}}


def sensitivity_markdown(sens: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the sensitivity table: one row per grace period, one column per reduction factor; a cell
    holds TPE's and random's median ratio over all repetitions (unreached = 0) and how many reached the target."""
    n = sens["repetitions"]
    by = {(c["sampler"], c["grace_period"], c["reduction_factor"]): c for c in sens["cells"]}
    header = ["grace period"] + [f"rf {rf}: TPE / random" for rf in sens["reduction_factors"]]
    rows = []
    for g in sens["grace_periods"]:
        row: list[Any] = [g]
        for rf in sens["reduction_factors"]:
            parts = []
            for name in ("TPE", "random"):
                c = by.get((name, g, rf))
                parts.append("n/a" if c is None else f"{c['ratio_epochs_all']['median']:.2f}x ({c['reached']}/{n})")
            row.append(" / ".join(parts))
        rows.append(row)
    return header, rows


def run(table_path: str | Path = DEFAULT_TABLE, *, repetitions: int = 5, asha_impl: str = "ray",
        plot_stem: str | Path | None = None, sensitivity_repetitions: int | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    """The HPO-efficiency benchmark on a stored table: replay, compare, plot; then the ASHA sensitivity grid with
    ``sensitivity_repetitions`` repetitions (default ``repetitions``; 0 skips it)."""
    table = load_table(table_path)
    protocols = default_protocols(asha_impl=asha_impl)
    log(f"  HPO replay on {table_path} ({len(table.curves)} configurations x {table.max_epochs} epochs, "
        f"fingerprint {table.fingerprint()}), {repetitions} repetitions")
    summary, runs = compare(table, protocols, repetitions, log=log)
    summary["table"] = {"path": str(table_path), "fingerprint": table.fingerprint(), "configs": len(table.curves),
                        "max_epochs": table.max_epochs, "best_val_map10": table.best, "meta": table.meta}
    summary["method"] = ("tabular replay: sequential (one worker), every trial reads its configuration's measured "
                         "curve epoch by epoch and pays its measured epoch seconds (1 thread per trial, so CPU "
                         "seconds; + the trial's measured set-up and final evaluation); repeated proposals of a "
                         "configuration are charged again")
    if plot_stem:
        targets = {rep["seed"]: rep["target"] for rep in summary["per_repetition"]}
        paths = plot_curves(runs, targets, plot_stem, f"HPO replay on the SynthCaps-small table "
                                                      f"({len(table.curves)} configs x {table.max_epochs} epochs, "
                                                      f"{repetitions} repetitions)")
        summary["plots"] = [str(p) for p in paths]
    n_sens = repetitions if sensitivity_repetitions is None else sensitivity_repetitions
    if n_sens > 0:
        summary["sensitivity"] = sensitivity(table, n_sens, asha_impl=asha_impl, log=log)
    return summary


def markdown_rows(summary: Mapping[str, Any]) -> list[list[Any]]:
    """``[protocol, reached, trial-epochs to target (median [IQR]), ratio epochs, ratio seconds, trials, pruned,
    final best]`` rows."""
    rows = []
    for name, s in summary["protocols"].items():
        e, re_, rs = s["epochs_to_target"], s["ratio_epochs"], s["ratio_seconds"]
        rows.append([name, f"{s['reached']}/{summary['repetitions']}",
                     f"{e['median']:.0f} [{e['q25']:.0f}-{e['q75']:.0f}]" if e["n"] else "n/a",
                     f"{re_['median']:.2f}x [{re_['q25']:.2f}-{re_['q75']:.2f}; {re_['min']:.2f}-{re_['max']:.2f}]"
                     if re_["n"] else "n/a",
                     f"{rs['median']:.2f}x [{rs['q25']:.2f}-{rs['q75']:.2f}]" if rs["n"] else "n/a",
                     f"{s['trials']['median']:.0f}", f"{s['pruned']['median']:.0f}",
                     f"{s['final_best']['median']:.4f}"])
    return rows
