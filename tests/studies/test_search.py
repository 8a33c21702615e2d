"""The searcher against a real (SQLite) study, driven by hand as Ray Tune would drive it (no Ray cluster needed):
states, values, intermediate values, user attributes, seeds, the grid, the shared budget, resume; and the runner's
checks that run before Ray starts."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from studies.runner import run_study
from studies.search import UNKNOWN_RUNNER, StudySearcher
from studies.spec import load_spec
from studies.storage import open_storage, resolve
from studies.study import RunnerError, RunnerInfo
from studies.trainable import STATUS_FILE

FINISHED = "FINISHED"


def raw_spec(**sections):
    raw = {"name": "s", "base": "synthcaps-tiny", "budget": {"num_samples": 4, "max_epochs": 2},
           "space": {"fusion.kind": {"categorical": ["none", "late", "mid"]},
                     "fusion.mid.layers": {"int": [1, 3], "when": {"fusion.kind": "mid"}},
                     "optim.lr_audio": {"loguniform": [1.0e-4, 1.0e-2]}},
           "sampler": {"kind": "tpe", "seed": 0, "n_startup_trials": 2}}
    raw.update(sections)
    return raw


def searcher(tmp_path, raw, *, resume=False, runner=None):
    spec = load_spec(raw, check_registries=False)
    run_root = tmp_path / "runs" / spec.name
    context = {"run_root": str(run_root), "base": spec.base.to_dict(), "cpu": 1, "max_epochs": spec.max_epochs,
               "metric": "val_map10", "mode": "max"}
    return StudySearcher(spec, resolve(None, run_root), context=context, runner=runner or RunnerInfo.current(),
                         resume=resume, git_commit="c0ffee")


def load(tmp_path, name="s"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'runs' / name / 'optuna.db'}")


def finish(config, **status):
    run_dir = Path(config["study"]["run_root"]) / "trials" / str(config["trial"]["number"])
    run_dir.mkdir(parents=True, exist_ok=True)
    base = {"state": "COMPLETE", "stopped": "completed", "fingerprint": f"fp{config['trial']['number']}",
            "best_epoch": 1, "epochs_trained": 2, "val": {"val_map10": 0.5}, "test": {"test_map10": 0.4},
            "wall_time_s": 12.5, "seed": config["trial"]["seed"]}
    (run_dir / STATUS_FILE).write_text(json.dumps({**base, **status}))


def dead_runner():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    me = RunnerInfo.current()
    return RunnerInfo("deadbeef0000", me.host, proc.pid, 1.0)


def test_states_values_and_user_attributes(tmp_path):
    s = searcher(tmp_path, raw_spec())
    a, b, c, d = (s.suggest(t) for t in "abcd")
    assert s.suggest("e") == FINISHED
    assert [x["trial"]["number"] for x in (a, b, c, d)] == [0, 1, 2, 3]
    assert a["trial"]["overrides"]["train.seed"] == 0 and a["study"]["run_root"].endswith("runs/s")
    # a: completes; its value is the best epoch, not the last
    s.on_trial_result("a", {"epoch": 1, "val_map10": 0.5})
    s.on_trial_result("a", {"epoch": 1, "val_map10": 0.9})  # the same epoch again (a restarted trial): ignored
    s.on_trial_result("a", {"epoch": 2, "val_map10": 0.45})
    finish(a, best_value=0.5)
    s.on_trial_complete("a", {"epoch": 2})
    # b: stopped by the scheduler after epoch 2 -> PRUNED, value = its best epoch
    s.on_trial_result("b", {"epoch": 1, "val_map10": 0.3})
    s.on_trial_result("b", {"epoch": 2, "val_map10": float("nan")})  # not a value Optuna can keep
    finish(b, stopped="stopped_by_report", epochs_trained=2, best_value=0.3)
    s.on_trial_complete("b", {"epoch": 2})
    # c: training raised -> FAIL with the reason
    finish(c, state="FAIL", reason="TrainingDiverged: loss became nan at epoch 1, batch 3")
    s.on_trial_complete("c", {})
    # d: the worker died (Ray reports an error, no status was written) -> FAIL
    s.on_trial_result("d", {"epoch": 1, "val_map10": 0.2})
    assert s.owned_unfinished() == [3]
    s.on_trial_complete("d", None, error=True)
    assert s.owned_unfinished() == []

    trials = load(tmp_path).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL]
    ta, tb, tc, td = trials
    assert ta.value == 0.5 and ta.intermediate_values == {1: 0.5, 2: 0.45}
    assert tb.value == 0.3 and tb.intermediate_values == {1: 0.3}
    assert ta.user_attrs["run_dir"] == str(tmp_path / "runs/s/trials/0")
    for key, value in {"fingerprint": "fp0", "seed": 0, "epochs_trained": 2, "best_epoch": 1, "wall_time_s": 12.5,
                       "test_metrics": {"test_map10": 0.4}, "git_commit": "c0ffee", "stopped": "completed"}.items():
        assert ta.user_attrs[key] == value
    assert tb.user_attrs["stopped"] == "stopped_by_report"
    assert tc.user_attrs["fail_reason"].startswith("TrainingDiverged: loss became nan")
    assert "worker failed" in td.user_attrs["fail_reason"]
    assert all(t.user_attrs["runner"]["id"] == s._runner.id for t in trials)
    # the progress the reporter shows
    p = s.progress(max_age_s=0)
    assert p["counts"]["COMPLETE"] == 1 and p["counts"]["PRUNED"] == 1 and p["counts"]["FAIL"] == 2
    assert p["best"]["number"] == 0 and p["budget"] == 4


def test_conditional_params_reach_the_trial_config(tmp_path):
    s = searcher(tmp_path, raw_spec(budget={"num_samples": 12, "max_epochs": 2},
                                    sampler={"kind": "random", "seed": 1}))
    for i in range(12):
        cfg = s.suggest(str(i))["trial"]
        assert ("fusion.mid.layers" in cfg["params"]) == (cfg["params"]["fusion.kind"] == "mid")
        assert {k: v for k, v in cfg["overrides"].items() if k != "train.seed"} == cfg["params"]


def test_each_configuration_runs_once_per_seed(tmp_path):
    s = searcher(tmp_path, raw_spec(seeds=[0, 7], budget={"num_samples": 4, "max_epochs": 2}))
    configs = [s.suggest(t)["trial"] for t in "abcd"]
    assert s.suggest("e") == FINISHED
    assert [c["seed"] for c in configs] == [0, 7, 0, 7]
    assert configs[0]["params"] == configs[1]["params"] and configs[2]["params"] == configs[3]["params"]
    assert configs[0]["params"] != configs[2]["params"]
    assert configs[1]["overrides"]["train.seed"] == 7
    trials = load(tmp_path).trials
    assert [t.user_attrs["seed"] for t in trials] == [0, 7, 0, 7]
    assert trials[1].user_attrs["repeat_of"] == 0 and trials[3].user_attrs["repeat_of"] == 2


def test_the_grid_is_enqueued_and_run_once(tmp_path):
    raw = raw_spec(sampler={"kind": "grid"}, seeds=[0, 1], budget={"num_samples": None, "max_epochs": 2},
                   space={"fusion.kind": {"categorical": ["none", "mid"]},
                          "fusion.mid.layers": {"int": [1, 2], "when": {"fusion.kind": "mid"}}})
    s = searcher(tmp_path, raw)
    configs = [s.suggest(str(i)) for i in range(6)]
    assert s.suggest("x") == FINISHED
    points = [json.dumps(c["trial"]["params"], sort_keys=True) for c in configs]
    assert len(set(points)) == 6
    assert {c["trial"]["seed"] for c in configs} == {0, 1}
    assert all(c["trial"]["params"]["seed"] == c["trial"]["seed"] for c in configs)
    # a second runner (or a rerun) finds nothing left to do
    assert searcher(tmp_path, raw).suggest("y") == FINISHED
    assert len(load(tmp_path).trials) == 6


def test_two_runners_share_the_budget_exactly(tmp_path):
    raw = raw_spec(budget={"num_samples": 5, "max_epochs": 2})
    s1, s2 = searcher(tmp_path, raw), searcher(tmp_path, raw)
    got = []
    for i in range(6):
        for s, name in ((s1, "one"), (s2, "two")):
            out = s.suggest(f"{name}{i}")
            if out != FINISHED:
                got.append(out["trial"]["number"])
    assert sorted(got) == [0, 1, 2, 3, 4]
    trials = load(tmp_path).trials
    assert len(trials) == 5 and {t.user_attrs["runner"]["id"] for t in trials} == {s1._runner.id, s2._runner.id}
    # the second runner's sampler does not replay the first one's proposals
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == 5


def test_resume_continues_trials_of_a_dead_runner(tmp_path):
    raw = raw_spec(budget={"num_samples": 3, "max_epochs": 2})
    first = searcher(tmp_path, raw, runner=dead_runner())
    a, b = first.suggest("a"), first.suggest("b")
    first.on_trial_result("a", {"epoch": 1, "val_map10": 0.25})
    # a runner without --resume leaves them alone and only fills the budget
    other = searcher(tmp_path, raw)
    c = other.suggest("c")
    assert c["trial"]["number"] == 2 and other.suggest("d") == FINISHED
    # --resume: the same Optuna trials, numbers, params and seeds; epoch 1 stays recorded
    again = searcher(tmp_path, raw, resume=True)
    x, y = again.suggest("x"), again.suggest("y")
    assert again.suggest("z") == FINISHED
    assert [x["trial"]["number"], y["trial"]["number"]] == [0, 1]
    assert x["trial"]["params"] == a["trial"]["params"] and y["trial"]["params"] == b["trial"]["params"]
    # epoch 2 was trained and saved but its report died with the first runner; the continued run starts at 3
    again.on_trial_result("x", {"epoch": 1, "val_map10": 0.99})  # (an already recorded epoch is kept as it was)
    again.on_trial_result("x", {"epoch": 3, "val_map10": 0.3})
    finish(x, best_value=0.3, epochs_trained=3, curve={"1": 0.25, "2": 0.28, "3": 0.3})
    again.on_trial_complete("x", {})
    t0 = load(tmp_path).trials[0]
    assert t0.state == TrialState.COMPLETE and t0.intermediate_values == {1: 0.25, 2: 0.28, 3: 0.3}
    assert t0.user_attrs["adopted_from"] == "deadbeef0000" and t0.user_attrs["runner"]["id"] == again._runner.id
    assert len(load(tmp_path).trials) == 3


def test_resume_adopts_a_trial_whose_runner_died_before_tagging_it(tmp_path):
    raw = raw_spec(seeds=[0, 7], budget={"num_samples": 2, "max_epochs": 2}, sampler={"kind": "random", "seed": 0})
    searcher(tmp_path, raw).study()  # creates the study
    # the runner asked for the trial, sampled one parameter of three and was killed before tagging it
    asked = load(tmp_path).ask()
    kind = asked.suggest_categorical("fusion.kind", ["none", "late", "mid"])
    again = searcher(tmp_path, raw, resume=True)
    x = again.suggest("x")
    assert x != FINISHED, load(tmp_path).trials[0]
    assert x["trial"]["number"] == 0 and x["trial"]["seed"] == 0
    params = x["trial"]["params"]
    assert params["fusion.kind"] == kind and "optim.lr_audio" in params
    assert ("fusion.mid.layers" in params) == (kind == "mid")
    repeat = again.suggest("y")  # the seed repeat the dead runner never enqueued
    assert repeat["trial"]["number"] == 1 and repeat["trial"]["seed"] == 7 and repeat["trial"]["params"] == params
    assert again.suggest("z") == FINISHED
    t0, t1 = load(tmp_path).trials
    assert t0.params == params and t0.user_attrs["adopted_from"] == UNKNOWN_RUNNER
    assert t0.user_attrs["runner"]["id"] == again._runner.id and t1.user_attrs["repeat_of"] == 0


def test_a_trial_finished_by_someone_else_is_left_as_it_is(tmp_path):
    s = searcher(tmp_path, raw_spec())
    a = s.suggest("a")
    study = load(tmp_path)
    study.tell(0, 0.77)
    finish(a, best_value=0.1)
    s.on_trial_result("a", {"epoch": 1, "val_map10": 0.5})
    s.on_trial_complete("a", {})
    t = load(tmp_path).trials[0]
    assert t.value == 0.77 and math.isclose(t.value, 0.77) and t.intermediate_values == {}


# --------------------------------------------------------------------------------------------- runner checks
def test_runner_refuses_stale_trials_without_resume(tmp_path):
    raw = raw_spec(budget={"num_samples": 3, "max_epochs": 2})
    first = searcher(tmp_path, raw, runner=dead_runner())
    first.suggest("a")
    with pytest.raises(RunnerError, match=r"1 RUNNING trial\(s\) whose runner is gone \(#0\); continue them with "
                                          r"--resume"):
        run_study(raw, runs_dir=tmp_path / "runs")


def test_runner_has_nothing_to_do_when_the_budget_is_spent(tmp_path, capsys):
    raw = raw_spec(budget={"num_samples": 2, "max_epochs": 2})
    s = searcher(tmp_path, raw)
    for t in "ab":
        cfg = s.suggest(t)
        finish(cfg, best_value=0.2)
        s.on_trial_complete(t, {})
    summary = run_study(raw, runs_dir=tmp_path / "runs")
    assert not summary.interrupted and summary.counts["COMPLETE"] == 2
    assert "nothing to do: the study already holds its 2 trials" in capsys.readouterr().out


def test_a_new_study_gets_its_own_folder_beside_old_run_directories(tmp_path):
    from studies.study import study_folder

    run_root = tmp_path / "runs" / "s"
    (run_root / "trials" / "0").mkdir(parents=True)  # another study's trial folder
    study = optuna.create_study(study_name="s", storage=open_storage(resolve(None, run_root)))
    folder = study_folder(study, run_root)
    key = study.user_attrs["run_key"]
    assert folder == run_root / key and key.startswith("study-") and len(key) == len("study-") + 8
    assert study_folder(study, run_root) == folder  # the same folder every time (e.g. --resume)
    other = optuna.create_study(study_name="s", storage=open_storage(resolve(None, tmp_path / "elsewhere")))
    assert study_folder(other, run_root) != folder  # same name, another storage: another folder


def test_a_study_begun_before_run_keys_keeps_its_folder(tmp_path):
    from studies.study import study_folder

    run_root = tmp_path / "runs" / "s"
    study = optuna.create_study(study_name="s", storage=open_storage(resolve(None, run_root)))
    study.optimize(lambda t: t.suggest_float("a", 0, 1), n_trials=1)  # a trial and no run_key: the old layout
    assert study_folder(study, run_root) == run_root and study.user_attrs["run_key"] == ""
    fresh = optuna.create_study(study_name="t", storage=open_storage(resolve(None, run_root)))
    assert study_folder(fresh, run_root).parent == run_root


def test_no_new_trials_once_the_time_budget_is_spent(tmp_path):
    spec = load_spec(raw_spec(), check_registries=False)
    run_root = tmp_path / "runs" / "s"
    s = StudySearcher(spec, resolve(None, run_root), context={"run_root": str(run_root)},
                      runner=RunnerInfo.current(), deadline=0.0)
    assert s.suggest("a") == FINISHED and s.finished_reason == "time budget spent"
