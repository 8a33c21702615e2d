"""The Optuna side of a study run: Ray's OptunaSearch, made to keep a correct, persistent study.

What :class:`StudySearcher` changes against Ray's OptunaSearch (which records every trial COMPLETE with its last
reported value and keeps no user attributes):

- states: a trial a scheduler stopped is PRUNED, a trial whose training raised (bad config, NaN loss) or whose
  worker died is FAIL with the reason in ``fail_reason``, the others COMPLETE;
- value: the best value of the objective over the trial's epochs (also for PRUNED trials), intermediate values
  per epoch (``step`` = epoch);
- user attributes: ``run_dir``, ``fingerprint``, ``seed``, ``epochs_trained``, ``best_epoch``, ``wall_time_s``,
  ``test_metrics``, ``val_metrics``, ``git_commit``, ``stopped``, ``fail_reason``; bookkeeping: ``runner``,
  ``heartbeat``, ``tune_trial_id``, ``repeat_of`` (seed repeats), ``adopted_from`` (resumed trials);
- budget: ``budget.num_samples`` counts the trials of the whole study, shared by every runner of it; each ask
  happens under a study lock (:func:`studies.storage.study_lock`), so concurrent runners never overshoot;
- seeds: tpe/random proposals are enqueued again for each further seed; the grid is enqueued point by point;
- resume: RUNNING trials whose runner is gone are continued (same Optuna trial, same run directory, ``fit``
  resumes from ``last.pt``) before anything new is asked. The sampler of a runner that joins or resumes a study
  is seeded from (seed, number of trials so far), so it does not replay the configurations proposed before.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import optuna
from optuna.trial import FrozenTrial, TrialState
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from . import budgeted, sequential
from .spec import SEED, StudySpec
from .storage import StorageURL, open_storage, study_lock
from .study import (BEST_ATTR, HEARTBEAT_EVERY_S, RunnerInfo, best_record, best_trial, build_sampler, derive_seed,
                    is_stale, missing_grid_points, open_study)
from .trainable import read_status

UNKNOWN_RUNNER = "unknown (its runner stopped before tagging the trial)"
_ASK = object()  # a sequential round was enqueued: ask for its trials
SEQUENTIAL_POLL_S = 2.0  # while a sequential round waits for running trials, look at the study this often


@dataclass
class _Record:
    storage_id: int
    number: int
    run_dir: str
    seed: int
    params: dict[str, Any]
    reported: set[int] = field(default_factory=set)
    done: bool = False
    budget: int | None = None  # promotion_sh / budgeted_sh: the job's rung epochs
    start_from: str | None = None  # promotion_sh: the run directory whose checkpoint a promoted job continues


# --------------------------------------------------------------------------------------------- the searcher
class StudySearcher(OptunaSearch):
    """OptunaSearch over a persistent study, with correct states, user attributes, seeds, budget and resume.

    ``context`` is the part of every trial's Tune config the runner fixes (base config, run root, cpu, ...);
    ``resume`` lets this runner continue stale trials. ``deadline`` (epoch seconds) ends the search.
    """

    def __init__(self, spec: StudySpec, storage: StorageURL, *, context: Mapping[str, Any], runner: RunnerInfo,
                 resume: bool = False, deadline: float | None = None, git_commit: str | None = None):
        super().__init__(space=None, metric=spec.objective["metric"], mode=spec.objective["mode"],
                         study_name=spec.name)
        self._space = spec.space  # the define-by-run function (conditions honoured)
        self._spec = spec
        self._storage_url = storage
        self._context = dict(context)
        self._runner = runner
        self._resume = resume
        self._deadline = deadline
        self._git_commit = git_commit
        self._records: dict[str, _Record] = {}
        self._adoptable: list[int] = []  # Optuna numbers of stale trials to continue
        self._setup_done = False
        self.finished_reason: str | None = None
        self.sequential_summary: str | None = None  # the decisions when a sequential ablation finishes
        self._quiet_until = 0.0
        self._live_objects()

    # ---- plumbing
    def _live_objects(self) -> None:
        self._storage = None
        self._ot_study = None
        self._study_id: int | None = None
        self._mutex = threading.Lock()
        self._beat_stop = threading.Event()
        self._beat_thread: threading.Thread | None = None
        self._progress_cache: tuple[float, dict[str, Any]] | None = None

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles the searcher (tuner.pkl, snapshots)
        drop = {"_storage", "_ot_study", "_study_id", "_mutex", "_beat_stop", "_beat_thread", "_progress_cache",
                "_ot_trials", "_sampler"}
        return {k: v for k, v in self.__dict__.items() if k not in drop}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._live_objects()

    def study(self) -> optuna.Study:
        if self._ot_study is None:
            self._storage = open_storage(self._storage_url)
            self._ot_study = open_study(self._spec, self._storage, create=True)
            self._study_id = self._storage.get_study_id_from_name(self._spec.name)
        return self._ot_study

    def set_search_properties(self, metric, mode, config, **spec) -> bool:  # noqa: D102 - fixed by the spec
        return True

    def save(self, checkpoint_path: str) -> None:
        """Tune's snapshot: which Tune trial is which Optuna trial (the study itself is the durable state)."""
        with self._mutex:
            data = {tid: {"number": r.number, "done": r.done} for tid, r in self._records.items()}
        Path(checkpoint_path).write_text(json.dumps({"study": self._spec.name, "trials": data}))

    def restore(self, checkpoint_path: str) -> None:
        raise NotImplementedError("a study resumes from its Optuna storage: python -m studies run SPEC --resume")

    # ---- Tune's Searcher API
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if trial_id in self._records:  # Tune may ask again for the same trial
            return self._config(self._records[trial_id])
        if self.finished_reason:
            return Searcher.FINISHED
        if time.time() < self._quiet_until:  # a sequential round waits for running trials: do not poll the storage
            return None
        if self._deadline is not None and time.time() >= self._deadline:
            self.finished_reason = "time budget spent"
            return Searcher.FINISHED
        study = self.study()
        with study_lock(self._storage_url, self._storage, self._spec.name):
            if not self._setup_done:
                self._setup(study)
            while self._adoptable:
                out = self._adopt(self._adoptable.pop(0), trial_id)
                if out is not None:
                    return out
            trials = self._storage.get_all_trials(self._study_id, deepcopy=False)
            waiting = any(t.state == TrialState.WAITING for t in trials)
            if self._spec.sequential is not None and not waiting:
                step = self._sequential_step(study, trials)
                if step is not _ASK:
                    return step  # None: Tune asks again when a trial ends; or FINISHED
                waiting = True
            n_seeds = 1 if self._spec.is_grid else len(self._spec.seeds)
            if not waiting and (self._spec.is_grid or len(trials) + n_seeds > self._spec.num_samples):
                self.finished_reason = "budget reached"
                return Searcher.FINISHED
            if self._spec.is_budgeted and not waiting \
                    and not self._enqueue_promotion(study, trials) and self._hold_for_promotion(trials):
                return None  # Tune asks again when a job ends: its promotion then takes the budget left
            ot_trial = study.ask()
            params = self._suggest_from_define_by_run_func(self._space, ot_trial)
            attrs = ot_trial.user_attrs
            if self._spec.is_grid:
                seed = int(params[SEED])
            elif "seed" in attrs:  # a seed repeat enqueued by an earlier ask
                seed = int(attrs["seed"])
            elif self._spec.is_budgeted:  # a configuration proposed again: the next seed
                seed = budgeted.fresh_seed(params, trials, self._spec.seeds[0])
            else:
                seed = self._spec.seeds[0]
                for s in self._spec.seeds[1:]:
                    study.enqueue_trial(params, user_attrs={"seed": s, "repeat_of": ot_trial.number})
            storage_id = self._storage.get_trial_id_from_study_id_trial_number(self._study_id, ot_trial.number)
            rec = _Record(storage_id, ot_trial.number, str(self._run_dir(ot_trial.number)), seed, dict(params),
                          budget=self._job_budget(attrs), start_from=attrs.get(budgeted.START_FROM))
            extra = ({} if rec.budget is None or budgeted.RUNG in attrs
                     else {budgeted.RUNG: 0, budgeted.BUDGET: rec.budget})
            self._tag(rec, trial_id, {"seed": seed, **extra})
        with self._mutex:
            self._records[trial_id] = rec
        return self._config(rec)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        rec = self._records.get(trial_id)
        step, value = result.get("epoch"), result.get(self._metric)
        if rec is None or rec.done or step is None or value is None:
            return
        step, value = int(step), float(value)
        if step in rec.reported or not math.isfinite(value):
            return
        try:
            self._storage.set_trial_intermediate_value(rec.storage_id, step, value)
            rec.reported.add(step)
        except optuna.exceptions.UpdateFinishedTrialError:  # finished meanwhile: nothing to record
            pass

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        rec = self._records.get(trial_id)
        if rec is None or rec.done:
            return
        rec.done = True
        self._completed_trials.add(trial_id)
        frozen = self._storage.get_trial(rec.storage_id)
        if frozen.state.is_finished():
            return
        status = read_status(rec.run_dir)  # what the trainable wrote when fit returned or raised
        state, value, attrs = self._outcome(rec, frozen, status, error)
        self._fill_curve(rec, frozen, status)
        for key, val in attrs.items():
            self._storage.set_trial_user_attr(rec.storage_id, key, val)
        study = self.study()
        if state == TrialState.COMPLETE:
            study.tell(rec.number, value)
        elif state == TrialState.PRUNED:
            # Optuna's tell(PRUNED) records the last intermediate value; the study's value is the trial's best
            values = [value] if value is not None and math.isfinite(value) else None
            frozen = self._storage.get_trial(rec.storage_id)
            study.sampler.after_trial(study, frozen, TrialState.PRUNED, values)
            self._storage.set_trial_state_values(rec.storage_id, TrialState.PRUNED, values)
        else:
            study.tell(rec.number, state=TrialState.FAIL)
        self._progress_cache = None
        self._record_best()

    def _record_best(self) -> None:
        """The study's best trial (:func:`studies.study.best_trial`) as its ``best_trial`` user attribute, so
        other tools read the same answer as ``studies status``."""
        best = best_trial(self._storage.get_all_trials(self._study_id, deepcopy=False), self._mode)
        if best is not None and self.study().user_attrs.get(BEST_ATTR) != best_record(best):
            self.study().set_user_attr(BEST_ATTR, best_record(best))

    # ---- helpers
    def _setup(self, study: optuna.Study) -> None:
        """Once, under the study lock: seed the sampler, enqueue the grid, find trials to continue."""
        trials = self._storage.get_all_trials(self._study_id, deepcopy=False)
        study.sampler = build_sampler(self._spec.sampler, derive_seed(self._spec.sampler.get("seed", 0), len(trials)))
        if self._spec.is_grid and self._spec.sequential is None:  # a sequential design enqueues round by round
            for point in missing_grid_points(self._spec, trials):
                study.enqueue_trial(point, user_attrs={"seed": point[SEED]})
        if self._resume:
            now = time.time()
            self._adoptable = [t.number for t in trials if is_stale(t, self._runner, now)]
        self._setup_done = True

    def _sequential_step(self, study: optuna.Study, trials) -> Any:
        """A sequential ablation with nothing enqueued (:mod:`studies.sequential`): enqueue the next round and
        return :data:`_ASK` (go on and ask); None (Tune asks again when a trial ends) while trials of this or
        another live runner run; FINISHED once every variant is decided or at ``seeds.max``."""
        unfinished = [t for t in trials if t.state == TrialState.RUNNING]
        if unfinished:
            if all(is_stale(t, self._runner) for t in unfinished):
                self.finished_reason = (f"the next round waits for {len(unfinished)} trial(s) of a runner that is "
                                        f"gone ({', '.join(f'#{t.number}' for t in unfinished[:10])}); continue "
                                        "them with --resume")
                return Searcher.FINISHED
            self._quiet_until = time.time() + SEQUENTIAL_POLL_S
            return None
        step = sequential.plan(self._spec, trials)
        if step.finished:
            self.finished_reason = step.finished
            if step.decisions:
                self.sequential_summary = sequential.describe_plan(step)
            return Searcher.FINISHED
        for point in step.enqueue:
            study.enqueue_trial(point, user_attrs={"seed": point[SEED]})
        return _ASK

    def _adopt(self, number: int, trial_id: str) -> dict[str, Any] | None:
        """Continue a stale RUNNING trial in this runner (same Optuna trial, same run directory)."""
        storage_id = self._storage.get_trial_id_from_study_id_trial_number(self._study_id, number)
        frozen = self._storage.get_trial(storage_id)
        if not is_stale(frozen, self._runner):
            return None  # finished or taken over meanwhile (by another runner resuming the study)
        study = self.study()
        try:
            # the recorded params; a runner killed while it sampled them left some out: those are sampled now
            study.get_trials(deepcopy=False)  # the study's cached storage learns of the trial (Trial needs it)
            params = self._suggest_from_define_by_run_func(self._space, optuna.trial.Trial(study, storage_id))
            seed = int(frozen.user_attrs.get("seed", params.get(SEED, self._spec.seeds[0])))
            self._spec.trial_config(params, seed)
        except Exception as exc:  # noqa: BLE001 - the spec changed under the study: record why, move on
            self._storage.set_trial_user_attr(storage_id, "fail_reason",
                                              f"cannot resume under the current spec: {type(exc).__name__}: {exc}")
            study.tell(frozen.number, state=TrialState.FAIL)
            return None
        if "seed" not in frozen.user_attrs and not self._spec.is_grid:
            # killed before it was tagged, perhaps before its seed repeats were enqueued: enqueue the missing ones
            trials = self._storage.get_all_trials(self._study_id, deepcopy=False)
            have = {t.user_attrs.get("seed") for t in trials if t.user_attrs.get("repeat_of") == frozen.number}
            for s in self._spec.seeds[1:]:
                if s not in have:
                    study.enqueue_trial(params, user_attrs={"seed": s, "repeat_of": frozen.number})
        rec = _Record(storage_id, frozen.number, str(self._run_dir(frozen.number)), seed, params,
                      reported=set(frozen.intermediate_values), budget=self._job_budget(frozen.user_attrs),
                      start_from=frozen.user_attrs.get(budgeted.START_FROM))
        # the runner that left it RUNNING; a runner killed between asking for the trial and tagging it left none
        previous = (frozen.user_attrs.get("runner") or {}).get("id") or UNKNOWN_RUNNER
        self._tag(rec, trial_id, {"adopted_from": previous, "seed": seed})
        with self._mutex:
            self._records[trial_id] = rec
        return self._config(rec)

    def _tag(self, rec: _Record, trial_id: str, extra: Mapping[str, Any]) -> None:
        attrs = {"runner": self._runner.to_dict(), "heartbeat": time.time(), "run_dir": rec.run_dir,
                 "tune_trial_id": trial_id, **extra}
        for key, val in attrs.items():
            self._storage.set_trial_user_attr(rec.storage_id, key, val)

    def _run_dir(self, number: int) -> Path:
        return Path(self._context["run_root"]) / "trials" / str(number)

    def _config(self, rec: _Record) -> dict[str, Any]:
        overrides, extras = budgeted.job_config(rec.budget, self._spec.max_epochs, rec.start_from,
                                                restart=self._spec.restarts_jobs)
        return {"study": self._context,
                "trial": {"number": rec.number, "seed": rec.seed, "params": dict(rec.params),
                          "overrides": {**self._spec.overrides(rec.params, rec.seed), **overrides}, **extras}}

    # ---- budgeted successive halving (studies/budgeted.py): promotions are enqueued trials
    def _enqueue_promotion(self, study: optuna.Study, trials) -> bool:
        job = budgeted.next_job(self._spec.scheduler, self._spec.max_epochs, trials, self._spec.objective["mode"],
                                continue_runs=not self._spec.restarts_jobs)
        if job is None:
            return False
        link = {k: job[k] for k in (budgeted.PROMOTED_FROM, budgeted.CONFIRMS, budgeted.START_FROM) if k in job}
        study.enqueue_trial(job["params"], user_attrs={
            "seed": job["seed"] if job["seed"] is not None else self._spec.seeds[0], budgeted.RUNG: job["rung"],
            budgeted.BUDGET: job["budget"], **link})
        return True

    def _hold_for_promotion(self, trials) -> bool:
        """Whether to wait instead of starting a new configuration: while no job has reached the top rung, a new
        rung-0 job must leave enough of the budget to promote one configuration through every rung
        (:func:`studies.budgeted.jobs_needed`), so a small study still completes a trial. Only while some job
        runs: its end may bring the promotion."""
        opts, top = self._spec.scheduler, len(budgeted.rungs_of(self._spec.scheduler, self._spec.max_epochs)) - 1
        started = [0] * (top + 1)
        running = False
        for t in trials:
            alive = t.state == TrialState.RUNNING
            running = running or alive
            if alive or budgeted.job_value(t) is not None:
                started[min(top, int(t.user_attrs.get(budgeted.RUNG, 0)))] += 1
        if started[top] or not running:
            return False
        started[0] += 1
        return budgeted.jobs_needed(opts, self._spec.max_epochs, started) > self._spec.num_samples - len(trials) - 1

    def _job_budget(self, attrs: Mapping[str, Any]) -> int | None:
        if not self._spec.is_budgeted:
            return None
        if budgeted.BUDGET in attrs:
            return int(attrs[budgeted.BUDGET])
        return budgeted.rungs_of(self._spec.scheduler, self._spec.max_epochs)[0]

    def _fill_curve(self, rec: _Record, frozen: FrozenTrial, status: Mapping[str, Any] | None) -> None:
        """Intermediate values of epochs trained but never reported (a runner died after the epoch was saved and
        before its report was recorded; the continued run starts after it), from the run directory."""
        curve = (status or {}).get("curve") or {}
        for epoch, value in sorted((int(k), float(v)) for k, v in curve.items()):
            if epoch not in frozen.intermediate_values and epoch not in rec.reported and math.isfinite(value):
                self._storage.set_trial_intermediate_value(rec.storage_id, epoch, value)
                rec.reported.add(epoch)

    def _outcome(self, rec: _Record, frozen: FrozenTrial, status: Mapping[str, Any] | None, error: bool):
        attrs: dict[str, Any] = {"seed": rec.seed, "git_commit": self._git_commit}
        if status is not None:
            attrs.update({
                "fingerprint": status.get("fingerprint"), "epochs_trained": status.get("epochs_trained"),
                "best_epoch": status.get("best_epoch"), "wall_time_s": status.get("wall_time_s"),
                "test_metrics": status.get("test"), "val_metrics": status.get("val"),
                "stopped": status.get("stopped"), "best_value": status.get("best_value")})
        if status is not None and status.get("state") == "FAIL":
            attrs["fail_reason"] = status.get("reason")
            return TrialState.FAIL, None, attrs
        if status is None:
            if error:
                attrs["fail_reason"] = ("Ray Tune: the trial's worker failed (killed, out of memory or lost); "
                                        "see error.txt in the Tune trial folder")
                return TrialState.FAIL, None, attrs
            if frozen.intermediate_values:  # stopped by Ray itself before the run directory was finished
                attrs["stopped"] = "stopped_by_tune"
                best = max(frozen.intermediate_values.values()) if self._mode == "max" else \
                    min(frozen.intermediate_values.values())
                return TrialState.PRUNED, best, attrs
            attrs["fail_reason"] = "the trial ended without reporting a result"
            return TrialState.FAIL, None, attrs
        value = status.get("best_value")
        if value is None or not math.isfinite(float(value)):
            attrs["fail_reason"] = f"no finite {self._metric} was reported"
            return TrialState.FAIL, None, attrs
        if status.get("stopped") == "stopped_by_report":
            return TrialState.PRUNED, float(value), attrs
        return TrialState.COMPLETE, float(value), attrs

    # ---- for the runner and the progress reporter
    def owned_unfinished(self) -> list[int]:
        """Optuna numbers of trials this runner started and did not record (left RUNNING by an interruption)."""
        with self._mutex:
            return sorted(r.number for r in self._records.values() if not r.done)

    def progress(self, max_age_s: float = 5.0) -> dict[str, Any]:
        """Study-wide counts by state and the best trial so far (cached for ``max_age_s``)."""
        now = time.time()
        if self._progress_cache is not None and now - self._progress_cache[0] < max_age_s:
            return self._progress_cache[1]
        self.study()
        trials = self._storage.get_all_trials(self._study_id, deepcopy=False)
        counts = {s.name: 0 for s in TrialState}
        for t in trials:
            counts[t.state.name] += 1
        b = best_trial(trials, self._mode)
        best = None if b is None else {"number": b.number, "value": b.value, "params": b.params, "state": b.state.name}
        out = {"counts": counts, "total": len(trials), "budget": self._spec.num_samples, "best": best}
        self._progress_cache = (now, out)
        return out

    def start_heartbeat(self, every_s: float = HEARTBEAT_EVERY_S) -> None:
        """Refresh the ``heartbeat`` attribute of this runner's running trials (another host's ``--resume``
        takes a trial over only when its heartbeat is old)."""
        self.study()

        def beat() -> None:
            while not self._beat_stop.wait(every_s):
                with self._mutex:
                    ids = [r.storage_id for r in self._records.values() if not r.done]
                for sid in ids:
                    try:
                        self._storage.set_trial_user_attr(sid, "heartbeat", time.time())
                    except Exception:  # noqa: BLE001 - finished meanwhile, or the database blinked
                        pass

        self._beat_thread = threading.Thread(target=beat, name="studies-heartbeat", daemon=True)
        self._beat_thread.start()

    def stop_heartbeat(self) -> None:
        self._beat_stop.set()
        if self._beat_thread is not None:
            self._beat_thread.join(timeout=5)


__all__ = ["StudySearcher"]
