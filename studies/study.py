"""The Optuna study of a spec, without Ray: opening it, samplers with every option pinned, the budget, and who runs
which trial (so a runner can tell a trial of a live runner from one left behind by a dead one).

Every trial a runner starts carries the user attribute ``runner`` (``id``, ``host``, ``pid``, ``create_time``,
the process start time from ``/proc``)
and a ``heartbeat`` (epoch seconds) the runner refreshes every minute. A RUNNING trial is *stale* when its runner
process is gone (on this host: the pid is dead or belongs to another process) or, for a runner on another host,
when its heartbeat is older than 15 minutes.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import socket
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from retrieval.errors import HarnessError

from .spec import SAMPLERS, TPE_DEFAULTS, StudySpec, grid_points

HEARTBEAT_EVERY_S = 60.0
STALE_AFTER_S = 900.0  # a runner on another host whose trials have not beaten for this long is gone


class RunnerError(HarnessError, RuntimeError):
    """The study cannot be run as asked (e.g. it has stale trials and --resume was not given)."""


# --------------------------------------------------------------------------------------------- runners
@dataclass(frozen=True)
class RunnerInfo:
    """Who runs a trial: stored as the trial's ``runner`` user attribute."""

    id: str
    host: str
    pid: int
    create_time: float

    @classmethod
    def current(cls) -> "RunnerInfo":
        return cls(uuid.uuid4().hex[:12], socket.gethostname(), os.getpid(), process_start(os.getpid()) or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "host": self.host, "pid": self.pid, "create_time": self.create_time}


def runner_alive(runner: Mapping[str, Any] | None, me: RunnerInfo) -> bool | None:
    """Whether the runner process of a trial still runs: True/False on this host, None (unknown) elsewhere."""
    if not runner:
        return False
    if runner.get("id") == me.id:
        return True
    if runner.get("host") != me.host:
        return None
    try:
        start = process_start(int(runner["pid"]))
        return start is not None and (not runner.get("create_time") or start == float(runner["create_time"]))
    except (KeyError, TypeError, ValueError):
        return False


def process_start(pid: int) -> float | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), 0.0 where /proc is missing, or None if
    there is no such process. Together with the pid it identifies a process: pids are reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        pass
    else:
        return float(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after the command name
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return 0.0


def is_stale(trial: FrozenTrial, me: RunnerInfo, now: float | None = None) -> bool:
    """A RUNNING trial whose runner is gone: dead on this host, or silent for STALE_AFTER_S on another one.
    A RUNNING trial without a ``runner`` attribute (its runner died between asking and tagging it) is stale."""
    if trial.state != TrialState.RUNNING:
        return False
    alive = runner_alive(trial.user_attrs.get("runner"), me)
    if alive is None:
        beat = trial.user_attrs.get("heartbeat")
        if beat is None:
            beat = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
        return (now or time.time()) - float(beat) > STALE_AFTER_S
    return not alive


# --------------------------------------------------------------------------------------------- samplers
class _Gamma:
    """Optuna's default TPE gamma, written out so it is pinned: ``min(ceil(fraction * n), cap)``."""

    def __init__(self, fraction: float, cap: int):
        self.fraction, self.cap = fraction, cap

    def __call__(self, n: int) -> int:
        return min(math.ceil(self.fraction * n), self.cap)


def _tpe_weights(x: int) -> np.ndarray:
    """Optuna's default TPE weights, written out so they are pinned."""
    if x == 0:
        return np.asarray([])
    if x < 25:
        return np.ones(x)
    return np.concatenate([np.linspace(1.0 / x, 1.0, num=x - 25), np.ones(25)], axis=0)


def build_sampler(options: Mapping[str, Any], seed: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler of a spec's resolved ``sampler`` section (the ``SAMPLERS`` entry of its ``kind``), every option
    set explicitly. The grid is enqueued trial by trial, so its sampler only has to pass the enqueued values through
    (a RandomSampler)."""
    seed = options.get("seed", 0) if seed is None else seed
    return SAMPLERS.get(options["kind"])(options, seed)


def build_random(options: Mapping[str, Any], seed: int) -> optuna.samplers.BaseSampler:
    """``random``: Optuna's RandomSampler."""
    return optuna.samplers.RandomSampler(seed=seed)


def build_grid(options: Mapping[str, Any], seed: int) -> optuna.samplers.BaseSampler:
    """``grid``: every grid point is enqueued trial by trial (:class:`studies.search.StudySearcher`), so the sampler
    only passes the enqueued values through: a RandomSampler (which never draws while the grid lasts)."""
    return optuna.samplers.RandomSampler(seed=seed)


def build_tpe(options: Mapping[str, Any], seed: int) -> optuna.samplers.BaseSampler:
    """``tpe``: Optuna's TPESampler with every option of ``options`` (a resolved spec section) set explicitly."""
    o = options
    kwargs = dict(consider_prior=o["consider_prior"], prior_weight=float(o["prior_weight"]),
                  consider_magic_clip=o["consider_magic_clip"], consider_endpoints=o["consider_endpoints"],
                  n_startup_trials=o["n_startup_trials"], n_ei_candidates=o["n_ei_candidates"],
                  gamma=_Gamma(float(o["gamma"]), int(o["gamma_max"])), weights=_tpe_weights, seed=seed,
                  multivariate=o["multivariate"], group=o["group"],
                  warn_independent_sampling=o["warn_independent_sampling"], constant_liar=o["constant_liar"])
    accepted = inspect.signature(optuna.samplers.TPESampler.__init__).parameters
    for name in [n for n in kwargs if n not in accepted]:  # an Optuna that dropped a deprecated option
        if name in TPE_DEFAULTS and o[name] != TPE_DEFAULTS[name] and name != "warn_independent_sampling":
            raise RunnerError(f"sampler.{name}: this Optuna ({optuna.__version__}) has no TPE option {name}")
        kwargs.pop(name)
    with warnings.catch_warnings():  # the pinned options include ones Optuna marks deprecated or experimental
        warnings.simplefilter("ignore")
        return optuna.samplers.TPESampler(**kwargs)


def derive_seed(seed: int, n_trials: int) -> int:
    """The sampler seed of a runner that starts when the study already holds ``n_trials`` trials: ``seed`` for a
    new study (reproducible), a different stream otherwise (no replay of earlier proposals)."""
    if n_trials == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(n_trials)]).generate_state(1)[0])


# --------------------------------------------------------------------------------------------- studies
def open_study(spec: StudySpec, storage_obj, *, create: bool = True) -> optuna.Study:
    """Create or load the study of ``spec`` and check its direction."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "maximize" if spec.objective["mode"] == "max" else "minimize"
    if create:
        study = optuna.create_study(study_name=spec.name, storage=storage_obj, direction=direction,
                                    load_if_exists=True, sampler=optuna.samplers.RandomSampler(),
                                    pruner=optuna.pruners.NopPruner())
    else:
        study = optuna.load_study(study_name=spec.name, storage=storage_obj)
    if study.direction.name.lower() != direction:
        raise RunnerError(f"objective.mode: the study {spec.name!r} in the storage is set to "
                          f"{study.direction.name.lower()}, the spec asks to {direction} (mode "
                          f"{spec.objective['mode']}); give the study another name or fix objective.mode")
    return study


RUN_KEY_ATTR = "run_key"


def study_folder(study: optuna.Study, run_root: Path) -> Path:
    """The folder of this study's trials under ``run_root`` (``RUNS_DIR/<name>``): ``run_root/<run key>``.

    The key is drawn once, when a runner first meets the study, and stored as the study's ``run_key`` attribute
    (call this under :func:`studies.storage.study_lock`, so concurrent runners agree). A study that already has
    trials but no key was begun before keys existed: its trials live in ``run_root/trials``, and it keeps that
    layout (key "")."""
    key = study.user_attrs.get(RUN_KEY_ATTR)
    if key is None:
        key = "" if study.get_trials(deepcopy=False) else f"study-{uuid.uuid4().hex[:8]}"
        study.set_user_attr(RUN_KEY_ATTR, key)
    return run_root / key if key else run_root


def budget_left(spec: StudySpec, trials: Sequence[FrozenTrial]) -> int:
    """Trials still to start: enqueued ones plus what the budget allows beyond the study's trials."""
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    if spec.sequential is not None and not waiting:  # at most the whole grid; nothing once the ablation is done
        from .sequential import plan

        if plan(spec, trials).finished:
            return 0
    if spec.is_grid:
        return waiting + len(missing_grid_points(spec, trials))
    return waiting + max(0, spec.num_samples - len(trials))


def missing_grid_points(spec: StudySpec, trials: Sequence[FrozenTrial]) -> list[dict[str, Any]]:
    """Grid points (within the budget) that no trial of the study has yet."""
    seen = {_key(t.params) for t in trials if t.state != TrialState.WAITING}
    seen |= {_key(t.system_attrs.get("fixed_params", {})) for t in trials if t.state == TrialState.WAITING}
    return [p for p in grid_points(spec)[: spec.num_samples] if _key(p) not in seen]


def fidelity(trial: FrozenTrial) -> tuple[int, int, int]:
    """How far a finished trial got, to compare trials of a multi-fidelity study: its rung (successive halving by
    promotion; 0 for other schedulers), then COMPLETE above stopped early, then (for a trial stopped early) the
    epochs it trained."""
    rung = int(trial.user_attrs.get("rung", 0) or 0)
    if trial.state == TrialState.COMPLETE:
        return rung, 1, 0
    epochs = trial.user_attrs.get("epochs_trained")
    if not isinstance(epochs, int):
        epochs = max(trial.intermediate_values) if trial.intermediate_values else 0
    return rung, 0, int(epochs)


def best_trial(trials: Sequence[FrozenTrial], mode: str) -> FrozenTrial | None:
    """The best trial of a study: the best value among the finished trials (COMPLETE or PRUNED, with a finite
    value) at the highest :func:`fidelity` reached. A scheduler's short runs do not compete with the runs that
    went further: in a ``promotion_sh`` study that is the best top-rung (COMPLETE) job once there is one, which is
    what Optuna's own ``best_trial`` (``optuna best-trial``, optuna-dashboard) picks; before that, the best job of
    the highest rung reached. Ties go to the earlier trial. None while no trial has a value."""
    scored = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.value is not None
              and math.isfinite(t.value)]
    if not scored:
        return None
    top = max(fidelity(t) for t in scored)
    sign = 1.0 if mode == "max" else -1.0
    return max((t for t in scored if fidelity(t) == top), key=lambda t: (sign * t.value, -t.number))


BEST_ATTR = "best_trial"
BUDGET_ATTR = "num_samples"  # the budget the study's last runner was given (``studies status`` shows it)


def best_record(trial: FrozenTrial) -> dict[str, Any]:
    """What the study's ``best_trial`` user attribute holds (set by the runner after every finished trial)."""
    return {"number": trial.number, "value": trial.value, "state": trial.state.name,
            "rung": int(trial.user_attrs.get("rung", 0) or 0), "run_dir": trial.user_attrs.get("run_dir")}


def format_params(params: Mapping[str, Any], limit: int = 6) -> str:
    """``k=v, k=v, ...`` with floats to 4 significant digits and at most ``limit`` items."""
    items = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()]
    return ", ".join(items[:limit] + (["..."] if len(items) > limit else []))


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


__all__ = ["BEST_ATTR", "BUDGET_ATTR", "HEARTBEAT_EVERY_S", "RUN_KEY_ATTR", "RunnerError", "RunnerInfo", "STALE_AFTER_S",
           "best_record", "best_trial", "budget_left", "build_grid", "build_random", "build_sampler", "build_tpe",
           "derive_seed", "fidelity", "format_params", "is_stale", "missing_grid_points", "open_study", "runner_alive",
           "study_folder"]
