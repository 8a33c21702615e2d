"""The Ray Tune trainables: thin adapters around :func:`retrieval.train.fit`.

A trial's Tune config holds two mappings, both made by the runner's searcher:

- ``study``: what every trial of the run shares: the resolved base config (``base``), ``run_root``, ``cpu``,
  ``max_epochs``, the objective ``metric``/``mode``;
- ``trial``: this trial: its Optuna ``number``, ``seed``, ``params`` and the dotted ``overrides`` they imply.

The adapter builds the TrialConfig, trains in ``<run_root>/trials/<number>`` (``fit(..., resume=True)``, so a
trial that is restarted continues from ``last.pt``), calls ``ray.tune.report`` after every validation and, once
``fit`` returns, writes ``trial_status.json`` into the run directory; the driver reads it to record the trial in
Optuna. Errors raised by ``fit`` (a bad config, a diverged loss) end the trial normally with a FAIL status: they
would fail again on a retry, so Tune's failure handling is kept for what a retry can cure (a lost worker).

A scheduler's decision to stop a trial arrives as a ``stop_requested`` file in the run directory (see
:mod:`studies.schedulers`); the adapter then raises :class:`retrieval.train.StopTrial`, so ``fit`` still
evaluates the best checkpoint on the test split and writes ``per_query.csv``.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
import traceback
import zlib
from pathlib import Path
from typing import Any, Callable, Mapping

from retrieval.utils import atomic_write_json

STATUS_FILE = "trial_status.json"
STOP_FILE = "stop_requested"
ELAPSED_FILE = "trial_elapsed.json"  # training time of earlier attempts of a restarted trial


def run_dir_of(config: Mapping[str, Any]) -> Path:
    """``<run_root>/trials/<optuna trial number>``."""
    return Path(config["study"]["run_root"]) / "trials" / str(config["trial"]["number"])


def request_stop(config: Mapping[str, Any]) -> None:
    """Ask a running trial to stop after its current epoch (called on the driver by the schedulers)."""
    path = run_dir_of(config) / STOP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{time.time()}\n")


def read_status(run_dir: str | Path) -> dict[str, Any] | None:
    path = Path(run_dir) / STATUS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def best_of(history: list[Mapping[str, Any]], metric: str, mode: str) -> tuple[float, int]:
    """The best value of ``metric`` over the epochs and its (1-based) epoch; NaN values are skipped."""
    best, best_epoch = math.nan, 0
    for h in history:
        v = h.get(metric)
        if v is None or not math.isfinite(float(v)):
            continue
        if math.isnan(best) or (v > best if mode == "max" else v < best):
            best, best_epoch = float(v), int(h.get("epoch", 0))
    return best, best_epoch


# --------------------------------------------------------------------------------------------- trainables
def train_trial(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable of a study: train one configuration with :func:`retrieval.train.fit`."""
    run_trial(config, fit_retriever)


def noop_trainable(config: dict[str, Any]) -> None:
    """A trainable that trains nothing: it reports ``study.max_epochs`` made-up epochs through the same adapter. Used to measure what the harness itself costs per trial (``benchmarks/harness_overhead.py``)."""
    run_trial(config, _fit_noop)


class TuneReport:
    """The ``report(epoch, metrics)`` callback handed to ``fit``: forwards the metrics to ``ray.tune.report``
    (with a one-off Tune checkpoint that records the run directory) and turns a stop request into
    :class:`~retrieval.train.StopTrial`."""

    def __init__(self, run_dir: Path, stop_exc: type[BaseException], elapsed_before: float, max_epochs: int,
                 stop_after: int | None = None):
        self.run_dir = run_dir
        self.max_epochs = max_epochs
        self.stop_after = stop_after  # promotion_sh: the job's rung (studies/budgeted.py)
        self.stop_exc = stop_exc
        self.checkpointed = False
        self.t0 = time.time()
        self.elapsed_before = elapsed_before

    def __call__(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        from ray import tune

        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        clean["epoch"] = int(epoch)
        atomic_write_json(self.run_dir / ELAPSED_FILE, {"elapsed_s": self.elapsed()})
        if self.checkpointed:
            tune.report(clean)
        else:  # the state is last.pt in the run directory; the Tune checkpoint only says where that is
            tmp = Path(tempfile.mkdtemp(prefix="studies-ckpt-"))
            try:
                (tmp / "run_dir.json").write_text(json.dumps({"run_dir": str(self.run_dir)}))
                tune.report(clean, checkpoint=tune.Checkpoint.from_directory(str(tmp)))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            self.checkpointed = True
        if epoch < self.max_epochs and (self.run_dir / STOP_FILE).exists():
            raise self.stop_exc(f"stopped by the scheduler after epoch {epoch}")
        if self.stop_after is not None and epoch >= self.stop_after and epoch < self.max_epochs:
            raise self.stop_exc(f"stopped at its rung after epoch {epoch}")

    def elapsed(self) -> float:
        return self.elapsed_before + time.time() - self.t0


FitFn = Callable[[Mapping[str, Any], Path, TuneReport], dict[str, Any]]


def run_trial(config: Mapping[str, Any], fit_fn: FitFn) -> None:
    """Run one trial of a study in its run directory with ``fit_fn`` (:func:`fit_retriever`, or a wrapper of it)
    and record the outcome in ``trial_status.json``: state, best value, the per-epoch curve, or the failure."""
    study = config["study"]
    run_dir = run_dir_of(config)
    if (run_dir / STATUS_FILE).exists():
        # finished in an earlier attempt whose driver died before recording it: the driver reads the status
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / STOP_FILE).unlink(missing_ok=True)  # a restarted trial is judged afresh by the current scheduler
    _start_from(config["trial"].get("start_from"), run_dir)
    elapsed = (_read_json(run_dir / ELAPSED_FILE) or {}).get("elapsed_s", 0.0)
    stop_exc = _stop_exception(fit_fn)
    report = TuneReport(run_dir, stop_exc, float(elapsed), int(study["max_epochs"]),
                        stop_after=config["trial"].get("stop_after"))
    try:
        status = fit_fn(config, run_dir, report)
        status.setdefault("state", "COMPLETE")
        history = status.pop("history", [])
        status["best_value"], status["best_value_epoch"] = best_of(history, study["metric"], study["mode"])
        # every epoch's objective, also those a restarted trial trained before its driver died (never reported)
        status["curve"] = {str(int(h["epoch"])): float(h[study["metric"]]) for h in history
                           if h.get(study["metric"]) is not None}
    except Exception as exc:  # noqa: BLE001 - any error of the training is the trial's failure reason
        status = {"state": "FAIL", "reason": f"{type(exc).__name__}: {exc}",
                  "traceback": "".join(traceback.format_exc(limit=8))[-4000:]}
    status["wall_time_s"] = report.elapsed()
    status["seed"] = config["trial"]["seed"]
    run_dir.mkdir(parents=True, exist_ok=True)  # a folder deleted while the trial ran still gets its outcome
    atomic_write_json(run_dir / STATUS_FILE, status)


def _start_from(source: str | None, run_dir: Path) -> None:
    """A promoted job (promotion_sh) continues the run it was promoted from: its checkpoints and artifacts are
    copied into the new run directory once (not its status, metrics or stop request), and ``fit`` resumes there.

    ``last.pt`` is what marks the copy as done, so it comes last, through a temporary file and a rename: a job
    killed while copying finds no ``last.pt`` when it restarts and copies again, never a half-written one."""
    if not source or (run_dir / "last.pt").exists() or not (Path(source) / "last.pt").exists():
        return
    skip = {STATUS_FILE, STOP_FILE, ELAPSED_FILE, "metrics.json", "per_query.csv", "last.pt"}
    for item in Path(source).iterdir():
        if item.name in skip:
            continue
        if item.is_dir():
            shutil.copytree(item, run_dir / item.name, dirs_exist_ok=True)
        else:
            shutil.copy2(item, run_dir / item.name)
    partial = run_dir / "last.pt.partial"
    shutil.copy2(Path(source) / "last.pt", partial)
    partial.replace(run_dir / "last.pt")


def _stop_exception(fit_fn: FitFn) -> type[BaseException]:
    if fit_fn is _fit_noop:
        return _NoopStop
    from retrieval.train import StopTrial

    return StopTrial


def fit_retriever(config: Mapping[str, Any], run_dir: Path, report: TuneReport) -> dict[str, Any]:
    """Train the trial's configuration (the study's base with the trial's overrides) with
    :func:`retrieval.train.fit` in ``run_dir`` (resuming), reporting every epoch; the status fields it returns."""
    import torch

    from retrieval.config import TrialConfig
    from retrieval.train import fit

    study, trial = config["study"], config["trial"]
    torch.set_num_threads(int(study["cpu"]))
    cfg = TrialConfig.from_dict(study["base"]).with_overrides(trial["overrides"])
    result = fit(cfg, run_dir, report=report, resume=True)
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:  # deleted or moved while it trained: Optuna must not point at a folder that cannot be evaluated
        raise RunFolderLost(f"the run folder {run_dir} lost {', '.join(missing)} while the trial trained (deleted "
                            "or moved?); its result cannot be evaluated")
    return {"stopped": result.stopped, "fingerprint": result.fingerprint, "best_epoch": result.best_epoch,
            "epochs_trained": result.epochs_trained, "val": result.val, "test": result.test,
            "history": result.history}


#: What a finished run folder holds (the trial contract); a trial whose folder lacks one of them is a FAIL.
RUN_FILES = ("config.yaml", "metrics.json", "per_query.csv", "best.pt")


class RunFolderLost(RuntimeError):
    """A trial's run folder lost its files while the trial trained."""


class _NoopStop(Exception):
    pass


def _fit_noop(config: Mapping[str, Any], run_dir: Path, report: TuneReport) -> dict[str, Any]:
    study, trial = config["study"], config["trial"]
    n = int(trial["overrides"].get("train.epochs", study["max_epochs"]))  # a budgeted job's own schedule
    # a made-up learning curve that depends on the parameters, so samplers and schedulers have something to rank
    level = zlib.crc32(json.dumps(trial["params"], sort_keys=True, default=str).encode()) % 1000 / 1000.0
    history, stopped = [], "completed"
    for epoch in range(1, n + 1):
        metrics = {"epoch": epoch, "loss": 1.0 / epoch, "val_map10": level * epoch / n}
        history.append(metrics)
        try:
            report(epoch, metrics)
        except _NoopStop:
            stopped = "stopped_by_report"
            break
    return {"stopped": stopped, "fingerprint": "noop", "best_epoch": len(history), "epochs_trained": len(history),
            "val": {"val_map10": history[-1]["val_map10"]}, "test": {}, "history": history}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


__all__ = ["RUN_FILES", "STATUS_FILE", "STOP_FILE", "RunFolderLost", "TuneReport", "best_of", "fit_retriever",
           "noop_trainable", "read_status", "request_stop", "run_dir_of", "run_trial", "train_trial"]
