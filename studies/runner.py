"""Run a study: spec -> Ray Tune (``Tuner`` + :class:`~studies.search.StudySearcher` + scheduler) -> Optuna study.

:func:`run_study` is what ``python -m studies run`` calls. In order:

1. load and validate the spec (nothing has started yet: a bad spec fails here, naming the key);
2. open the storage and the study; refuse what cannot be right (SQLite/journal with ``--address``; stale trials
   without ``--resume``); stop early when the budget is already spent;
3. start Ray (local: a short temp dir, no dashboard, no usage stats, worker output kept off the terminal; or join
   ``--address``) and run one Tune experiment in ``STUDY_FOLDER/tune/<experiment>`` (Tune keeps its result files
   there, ``result.json`` and ``progress.csv`` per ``trial-<number>`` folder); trials train in
   ``STUDY_FOLDER/trials/<optuna number>``;
4. stop the Ray processes it started, also on Ctrl-C or SIGTERM (and, through :mod:`studies.reaper`, when it is
   killed outright), and print the outcome.

The study folder is ``RUNS_DIR/<name>/<run key>``: the run key (``study-`` and 8 hex digits) is drawn when the
study is created and kept as its ``run_key`` user attribute, so two studies of one name (another storage, or the
same storage after the study was deleted) never share trial folders, and ``--resume`` finds the same folder again.
Studies begun before run keys existed keep their folder ``RUNS_DIR/<name>`` (``run_key`` ""). The folder holds
``spec.resolved.yaml``, ``study.json`` (study name, storage, run key), ``trials/`` and ``tune/``.

Resume is Optuna-first: the study and the run directories are the durable state, a Tune experiment is one
runner's session. ``--resume`` continues the RUNNING trials of runners that are gone (same Optuna trial and run
directory; training resumes from ``last.pt``) and then asks new trials until the study holds
``budget.num_samples``. Ray's ``Tuner.restore`` is not used: Ray 2.60 does not restore scheduler state, its
searcher snapshot lags the Optuna study (trials asked after the last snapshot stay RUNNING for ever), and
re-running errored trials would re-run trials the study already records as finished.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TextIO

from .spec import StudySpec, describe, load_spec
from .storage import StorageURL, check_cluster, check_folder, open_storage, resolve, study_lock


@dataclass
class RunSummary:
    """What a run left in the study (study-wide counts) and whether it was interrupted."""

    study: str
    storage: str
    run_root: str
    counts: dict[str, int]
    best: dict[str, Any] | None
    interrupted: bool
    message: str


def ray_environment() -> dict[str, str]:
    """Environment for Ray processes started by the runner (set before ``import ray``)."""
    return {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
        "RAY_AIR_NEW_OUTPUT": "0",  # the legacy engine uses our progress reporter
        # Tune's own result files stay on (result.json, progress.csv, params.json per Tune trial folder, and
        # TensorBoard events where tensorboardX is installed): ExperimentAnalysis and TensorBoard read them
        "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "0",
        "RAY_CHDIR_TO_TRIAL_DIR": "0",  # relative paths in configs stay relative to where the runner started
        "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
        # a trial that fails before its first epoch, or is replayed from its status file, reports nothing: its
        # outcome reaches Optuna through the run directory (the objective is checked when the spec is loaded)
        "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
        "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "ignore::DeprecationWarning,ignore::FutureWarning"),
    }


def short_temp_dir() -> str:
    """A fresh Ray temp dir with a short path: Ray's Unix socket paths must stay under 107 bytes."""
    base = tempfile.gettempdir()
    if len(base) > 20:
        base = "/tmp"
    return tempfile.mkdtemp(prefix="ray-", dir=base)


def trial_name(trial) -> str:
    """Tune trial names and folders after the Optuna trial number."""
    return f"trial-{trial.config['trial']['number']}"


def run_study(source: str | Path | Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any] = (), *,
              storage: str | None = None, resume: bool = False, address: str | None = None,
              runs_dir: str | Path = "runs", trainable: Callable[[dict], None] | None = None,
              out: TextIO | None = None, force_new: bool = False) -> RunSummary:
    """Run (or resume, or join) the study of ``source``; see the module docstring. Raises ``SpecError`` (bad
    spec or storage URL) and :class:`~studies.study.RunnerError` before Ray starts."""
    out = out or sys.stdout
    spec = load_spec(source, overrides)
    run_root = (Path(runs_dir) / spec.name).resolve()
    check_folder(run_root, f"--runs-dir {runs_dir}")
    surl = resolve(storage or spec.storage, run_root)
    check_cluster(surl, address)

    from retrieval.utils import git_commit

    from .study import RunnerError, RunnerInfo, budget_left, is_stale, open_study, study_folder

    storage_obj = open_storage(surl)
    study = open_study(spec, storage_obj)
    with study_lock(surl, storage_obj, spec.name):  # runners starting together agree on one folder
        if force_new and study.get_trials(deepcopy=False):
            study = _start_anew(study, spec, storage_obj, run_root, out)
        else:
            _check_space(study, spec, surl)
        study_root = study_folder(study, run_root)
        _check_base_from(study, spec)
    trials = study.get_trials(deepcopy=False)
    me = RunnerInfo.current()
    stale = [t.number for t in trials if is_stale(t, me)]
    if stale and not resume:
        raise RunnerError(f"the study {spec.name!r} has {len(stale)} RUNNING trial(s) whose runner is gone "
                          f"({', '.join(f'#{n}' for n in stale[:10])}); continue them with --resume")
    left = budget_left(spec, trials) + (len(stale) if resume else 0)
    out.write(describe(spec) + f"\n  storage: {surl}\n  run folder: {study_root}\n")
    if left == 0:
        done = f"nothing to do: the study already holds its {spec.num_samples} trials"
        if spec.sequential is not None:
            from .sequential import describe_plan, plan

            step = plan(spec, trials)
            done = f"nothing to do: the sequential ablation is finished ({step.finished})\n{describe_plan(step)}"
        summary = _summary(spec, surl, study_root, study, interrupted=False, message=done)
        out.write(summary.message + "\n")
        return summary
    if stale:
        out.write(f"  resuming {len(stale)} trial(s) left RUNNING: {', '.join(f'#{n}' for n in stale)}\n")
    _record_spec(study, spec, study_root, surl)
    out.flush()

    context = {"base": spec.base.to_dict(), "run_root": str(study_root), "cpu": int(spec.resources["cpu"]),
               "max_epochs": spec.max_epochs, "metric": spec.objective["metric"], "mode": spec.objective["mode"]}
    deadline = time.time() + spec.budget["time_budget_s"] if spec.budget["time_budget_s"] else None
    summary = _run_with_ray(spec, surl, study_root, study, context=context, runner=me, resume=resume,
                            deadline=deadline, git_commit=git_commit(), num_samples=left, address=address,
                            trainable=trainable, out=out)
    out.write(summary.message + "\n")
    out.flush()
    return summary


def _run_with_ray(spec: StudySpec, surl: StorageURL, run_root: Path, study, *, context: dict[str, Any], runner,
                  resume: bool, deadline: float | None, git_commit: str | None, num_samples: int,
                  address: str | None, trainable: Callable[[dict], None] | None, out: TextIO) -> RunSummary:
    for key, value in ray_environment().items():
        if key in ("RAY_AIR_NEW_OUTPUT", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "RAY_CHDIR_TO_TRIAL_DIR",
                   "TUNE_DISABLE_STRICT_METRIC_CHECKING"):
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
    import ray
    from ray import tune

    # after an interruption Tune suggests Tuner.restore: studies resume with --resume instead
    tune_log = logging.getLogger("ray.tune.tune")
    if not any(isinstance(f, _NoTunerRestoreHint) for f in tune_log.filters):
        tune_log.addFilter(_NoTunerRestoreHint())

    from .progress import StudyProgress
    from .schedulers import build_scheduler
    from .search import StudySearcher
    from .trainable import train_trial

    searcher = StudySearcher(spec, surl, context=context, runner=runner, resume=resume, deadline=deadline,
                             git_commit=git_commit)
    scheduler = build_scheduler(spec.scheduler, metric=spec.objective["metric"], mode=spec.objective["mode"],
                                max_epochs=spec.max_epochs, deadline=deadline)
    reporter = StudyProgress(searcher, name=spec.name, max_epochs=spec.max_epochs, out=out)
    resources = {"cpu": spec.resources["cpu"], "gpu": spec.resources["gpu"]}
    experiment = time.strftime("%Y%m%d-%H%M%S") + f"-{runner.id[:6]}"

    started_ray = not ray.is_initialized()
    temp_dir = None
    reaper = None
    previous_term = signal.getsignal(signal.SIGTERM)
    in_main = _in_main_thread()
    interrupted = False
    try:
        if started_ray:
            kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING,
                                      "configure_logging": True}
            if address:  # the cluster's workers did not inherit this environment: hand them what they read
                worker_env = {k: v for k, v in ray_environment().items() if k in ("RAY_CHDIR_TO_TRIAL_DIR",
                                                                                    "PYTHONWARNINGS")}
                ray.init(address=address, runtime_env={"env_vars": worker_env}, **kwargs)
            else:
                temp_dir = short_temp_dir()
                ray.init(include_dashboard=False, _temp_dir=temp_dir, **kwargs)
                reaper = _start_reaper(temp_dir)
        if in_main:  # after ray.init, whose own SIGTERM handler would end the driver on the spot
            signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))
        searcher.start_heartbeat()
        tuner = tune.Tuner(
            tune.with_resources(trainable or train_trial, resources),
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=num_samples,
                                        max_concurrent_trials=spec.resources["max_concurrent"], reuse_actors=True,
                                        trial_name_creator=trial_name, trial_dirname_creator=trial_name),
            run_config=tune.RunConfig(name=experiment, storage_path=str(run_root / "tune"),
                                      failure_config=tune.FailureConfig(max_failures=1),
                                      checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                                      progress_reporter=reporter, verbose=1, log_to_file=False))
        tuner.fit()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        searcher.stop_heartbeat()
        if started_ray:
            ray.shutdown()
            if reaper is not None:  # closing its stdin says "done": it stops stragglers, removes the temp dir
                reaper.stdin.close()
                reaper.wait(timeout=60)
            elif temp_dir and not os.environ.get("STUDIES_KEEP_RAY_TMP"):
                shutil.rmtree(temp_dir, ignore_errors=True)
        if in_main:
            signal.signal(signal.SIGTERM, previous_term)
    left_running = searcher.owned_unfinished()
    interrupted = interrupted or bool(left_running)
    if interrupted:
        message = (f"interrupted: {len(left_running)} trial(s) left RUNNING "
                   f"({', '.join(f'#{n}' for n in left_running)}); continue with --resume")
    else:
        message = f"done ({searcher.finished_reason or 'all trials finished'})"
        summary = searcher.sequential_summary
        if summary is None and spec.sequential is not None:
            # Tune stopped asking at the design's last possible trial (every row at seeds.max), so the searcher
            # never looked at the finished study: the decisions from the study as it stands
            from .sequential import describe_plan, plan

            step = plan(spec, study.get_trials(deepcopy=False))
            summary = describe_plan(step) if step.decisions else None
        if summary:
            message += "\n" + summary
    return _summary(spec, surl, run_root, study, interrupted=interrupted, message=message)


def _summary(spec: StudySpec, surl: StorageURL, run_root: Path, study, *, interrupted: bool,
             message: str) -> RunSummary:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {s.name: sum(t.state == s for t in trials) for s in TrialState}
    from .study import best_trial

    b = best_trial(trials, spec.objective["mode"])
    best = None
    if b is not None:
        best = {"number": b.number, "value": b.value, "state": b.state.name, "params": b.params,
                "run_dir": b.user_attrs.get("run_dir")}
    line = ", ".join(f"{n.lower()} {counts[n]}" for n in ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
                     if counts[n])
    text = f"{message}\nstudy {spec.name}: {len(trials)} trials ({line or 'none'})"
    if best:
        from .study import format_params

        state = "" if best["state"] == "COMPLETE" else f" ({best['state']}: no trial has finished its schedule yet)"
        text += (f"\nbest {spec.objective['metric']} {best['value']:.4f}{state}: trial #{best['number']} "
                 f"({format_params(best['params'], limit=20)})\n  run directory: {best['run_dir']}")
    return RunSummary(spec.name, str(surl), str(run_root), counts, best, interrupted, text)


def _check_base_from(study, spec: StudySpec) -> None:
    """A study whose base is another study's trial keeps that trial: ``trial: best`` may point elsewhere once the
    source study has gone on, and mixing bases would make its trials incomparable."""
    from .study import RunnerError

    if spec.base_from is None:
        return
    recorded = study.user_attrs.get("base_from")
    if recorded is None:
        study.set_user_attr("base_from", spec.base_from)
        return
    if (recorded.get("study"), recorded.get("trial")) != (spec.base_from["study"], spec.base_from["trial"]):
        raise RunnerError(f"base: the study {spec.name!r} was started from trial #{recorded.get('trial')} of "
                          f"{recorded.get('study')!r}, but base now selects trial #{spec.base_from['trial']} of "
                          f"{spec.base_from['study']!r} ({spec.base_from['selected']}); pin it with "
                          f"--set base.trial={recorded.get('trial')} or give the new study another name")


SPACE_ATTR = "space_sha"


def space_sha(spec: StudySpec) -> str:
    """A hash of what a study searches: the resolved space and the variants."""
    import hashlib
    import json

    d = spec.to_dict()
    return hashlib.sha256(json.dumps({"space": d["space"], "variants": d["variants"]}, sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]


def _check_space(study, spec: StudySpec, surl: StorageURL) -> None:
    """A study that holds trials keeps its search space: trials of two spaces in one study would be compared as
    if they were one search (and the sampler's model would mix them)."""
    from .study import RunnerError

    trials = study.get_trials(deepcopy=False)
    if not trials:
        return
    recorded, keys = study.user_attrs.get(SPACE_ATTR), study.user_attrs.get("space")
    now = [p.key for p in spec.params]
    if recorded is not None:
        changed = recorded != space_sha(spec)
    elif keys is not None:  # a study begun before the space hash was recorded: its parameter names
        changed = sorted(keys) != sorted(now)
    else:
        return
    if changed:
        detail = ""
        if keys is not None:
            added, removed = sorted(set(now) - set(keys)), sorted(set(keys) - set(now))
            detail = "; ".join(x for x in (f"added {', '.join(added)}" if added else "",
                                           f"removed {', '.join(removed)}" if removed else "") if x) \
                or "the same parameters with other ranges or choices"
        raise RunnerError(f"space: the study {spec.name!r} in {surl} holds {len(trials)} trial(s) of another search "
                          f"space ({detail}); give the new search another name (--set name={spec.name}-2), or "
                          "pass --force-new to start the study anew (its trials are exported to trials.csv in "
                          "the old run folder first)")


def _start_anew(study, spec: StudySpec, storage_obj, run_root: Path, out: TextIO):
    """``--force-new``: export the study's trials to ``trials.csv`` in its run folder (which stays), delete the
    study from the storage and create it again, empty (a new run key, so a new run folder)."""
    import optuna

    from retrieval.utils import atomic_write_text

    from .study import RUN_KEY_ATTR, open_study

    old_root = run_root / study.user_attrs.get(RUN_KEY_ATTR, "")
    old_root.mkdir(parents=True, exist_ok=True)
    frame = study.trials_dataframe(attrs=("number", "value", "state", "params", "user_attrs", "datetime_start",
                                          "datetime_complete"))
    atomic_write_text(old_root / "trials.csv", frame.to_csv(index=False))
    n = len(study.get_trials(deepcopy=False))
    optuna.delete_study(study_name=spec.name, storage=storage_obj)
    out.write(f"--force-new: the study {spec.name!r} had {n} trial(s); exported to {old_root / 'trials.csv'} "
              f"(its run folder {old_root} is kept) and deleted from the storage\n")
    return open_study(spec, storage_obj)


def _record_spec(study, spec: StudySpec, study_root: Path, surl: StorageURL) -> None:
    """Write the resolved spec and ``study.json`` (which study of which storage the folder belongs to) into the
    study's run folder; give the study a few attributes that say what it is."""
    import hashlib
    import json

    import yaml

    from retrieval.utils import atomic_write_json, atomic_write_text

    from .study import BUDGET_ATTR

    resolved = spec.to_dict()
    study_root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(study_root / "spec.resolved.yaml", yaml.safe_dump(resolved, sort_keys=False))
    atomic_write_json(study_root / "study.json", {"study": spec.name, "storage": surl.display(),
                                                  "run_key": study.user_attrs.get("run_key", "")})
    study.set_user_attr(BUDGET_ATTR, spec.num_samples)
    if "objective" not in study.user_attrs:  # the first runner describes the study
        sha = hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()[:16]
        for key, value in {"objective": f"{spec.objective['metric']} ({spec.objective['mode']})",
                           "sampler": spec.sampler["kind"], "scheduler": spec.scheduler["kind"],
                           "space": [p.key for p in spec.params], "spec_sha": sha,
                           "run_folder": str(study_root)}.items():
            study.set_user_attr(key, value)
    if SPACE_ATTR not in study.user_attrs:
        study.set_user_attr(SPACE_ATTR, space_sha(spec))
    if spec.sequential is not None:  # the report replays the design's decisions (reports.analysis)
        study.set_user_attr("sequential", {**spec.sequential, "seeds": list(spec.seeds)})


def dry_run(source: str | Path | Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any] = (), *,
            proposals: int = 5, out: TextIO | None = None) -> StudySpec:
    """``studies run SPEC --dry-run``: print the plan, the resolved spec and the first ``proposals``
    configurations a new study of it would train (its sampler, seeded as in a real run), and touch nothing: no
    storage, no run folder, no Ray."""
    import optuna
    import yaml

    from .study import build_sampler, format_params
    from .spec import grid_points

    out = out or sys.stdout
    spec = load_spec(source, overrides)
    out.write(describe(spec) + "\n\nresolved spec (what spec.resolved.yaml will hold):\n")
    out.write("".join(f"  {line}\n" for line in yaml.safe_dump(spec.to_dict(), sort_keys=False).splitlines()))
    if spec.sequential is not None:
        from .sequential import plan

        first = plan(spec, []).enqueue
        points = [(dict(p), [p.get("seed")]) for p in first[:proposals]]
        title = (f"first {len(points)} of the {len(first)} trials of the first round (then seeds only for undecided "
                 f"variants, at most {spec.num_samples} trials)")
    elif spec.is_grid:
        points = [(dict(p), [p.get("seed")]) for p in grid_points(spec)[:proposals]]
        title = f"first {len(points)} of {spec.num_samples} grid points"
    else:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize" if spec.objective["mode"] == "max" else "minimize",
                                    sampler=build_sampler(spec.sampler))
        points = []
        for _ in range(proposals):  # asked while none has finished, as a runner's first concurrent trials are
            points.append((spec.space(study.ask()), list(spec.seeds)))
        title = f"first {len(points)} proposals of a new study (sampler {spec.sampler['kind']})"
    out.write(f"\n{title}:\n")
    for i, (params, seeds) in enumerate(points):
        shown = {k: v for k, v in params.items() if k != "seed"}
        out.write(f"  {i}: {format_params(shown, limit=50) or '(the base)'}  seeds {seeds}\n")
    out.write("dry run: nothing was started or written\n")
    out.flush()
    return spec


class _NoTunerRestoreHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tuner.restore(" not in record.getMessage()


def _start_reaper(temp_dir: str):
    """The watcher that stops this Ray cluster's processes if the runner dies without ray.shutdown()
    (see :mod:`studies.reaper`); None where /proc is missing."""
    import subprocess

    if not Path("/proc/self/stat").exists():
        return None
    return subprocess.Popen([sys.executable, "-m", "studies.reaper", str(os.getpid()), temp_dir],
                            stdin=subprocess.PIPE, start_new_session=True)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


__all__ = ["RunSummary", "dry_run", "ray_environment", "run_study", "short_temp_dir", "trial_name"]
