"""What a new user meets in the first hour of studies (issue: "every fault an error line, the suggested commands do
what they say"): reduced budgets, empty or changed search spaces, unusable storages and runs folders, the best trial
of a multi-fidelity study, ``--dry-run``. Driven through the real spec loader, searcher and SQLite studies (no Ray),
plus one real Ray Tune run of the README's reduced demo shape."""

from __future__ import annotations

import json
import sqlite3

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from studies import budgeted
from studies.cli import main as studies_main
from studies.errors import SpecError
from studies.runner import dry_run, run_study
from studies.spec import load_spec
from studies.storage import StorageError, open_storage, resolve
from studies.study import BEST_ATTR, RunnerError, best_trial
from studies.status import study_status

from .test_search import finish, load, raw_spec, searcher

QUICK = "studies/quick.yaml"


def repo_file(name: str):
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / name


# --------------------------------------------------------------------------------------------- reduced budgets
def test_a_base_epochs_override_that_the_budget_would_overwrite_is_refused():
    with pytest.raises(SpecError, match=r"^base.train.epochs: 2 would be overridden by budget.max_epochs \(10\).*"
                                        r"--set budget.max_epochs=2"):
        load_spec(repo_file(QUICK), ["budget.num_samples=4", "base.train.epochs=2"], check_registries=False)
    # equal values, or a spec without max_epochs, are fine
    assert load_spec(repo_file(QUICK), ["base.train.epochs=10"], check_registries=False).max_epochs == 10


def test_a_reduced_max_epochs_cuts_the_rungs_and_trains_the_epochs_it_names():
    spec = load_spec(repo_file(QUICK), ["budget.num_samples=4", "budget.max_epochs=3"], check_registries=False)
    assert spec.max_epochs == 3 and spec.base.train.epochs == 3
    assert spec.scheduler["rungs"] == [1, 3] and budgeted.rungs_of(spec.scheduler, 3) == (1, 3)
    spec = load_spec(repo_file(QUICK), ["budget.num_samples=13", "budget.max_epochs=5"], check_registries=False)
    assert spec.scheduler["rungs"] == [1, 3, 5]
    with pytest.raises(SpecError, match=r"^scheduler.rungs: budget.max_epochs 1 leaves one rung"):
        load_spec(repo_file(QUICK), ["budget.max_epochs=1"], check_registries=False)


@pytest.mark.parametrize("rungs, rf, expected", [([1, 3], 3, 4), ([1, 3, 10], 3, 13), ([1, 2, 4, 8], 2, 15),
                                                 ([3, 10], 2.5, 4)])
def test_the_fewest_jobs_that_complete_one_configuration(rungs, rf, expected):
    opts = {"rungs": rungs, "reduction_factor": rf}
    assert budgeted.min_jobs(opts, rungs[-1]) == expected
    # brute force: a rung of c jobs promotes floor(c / rf); the smallest rung-0 count that reaches the top
    for c0 in range(1, 200):
        counts = [c0]
        for _ in rungs[1:]:
            counts.append(int(counts[-1] // rf))
        if counts[-1] >= 1:
            assert sum(counts) == expected
            break


def test_jobs_needed_counts_what_started_jobs_already_bring():
    opts = {"rungs": [1, 3, 10], "reduction_factor": 3}
    assert budgeted.jobs_needed(opts, 10, [0, 0, 0]) == 13
    assert budgeted.jobs_needed(opts, 10, [9, 0, 0]) == 4  # three promotions to rung 1, one to rung 2
    assert budgeted.jobs_needed(opts, 10, [9, 3, 0]) == 1
    assert budgeted.jobs_needed(opts, 10, [12, 4, 0]) == 1
    assert budgeted.jobs_needed(opts, 10, [2, 0, 0]) == 11
    assert budgeted.jobs_needed(opts, 10, [5, 5, 1]) == 0


def test_a_budget_that_cannot_complete_one_trial_says_so_before_it_starts():
    with pytest.raises(SpecError, match=r"^budget.num_samples: 4 jobs cannot train one configuration to the last "
                                        r"rung \(rungs 1/3/10, reduction factor 3: at least 13 jobs\).*"
                                        r"--set budget.max_epochs=3: at least 4 jobs"):
        load_spec(repo_file(QUICK), ["budget.num_samples=4"], check_registries=False)
    with pytest.raises(SpecError, match=r"at least 4 jobs\); raise budget.num_samples$"):
        load_spec(repo_file(QUICK), ["budget.num_samples=3", "budget.max_epochs=3"], check_registries=False)


def test_a_small_promotion_study_holds_new_configurations_until_one_completes(tmp_path):
    # 4 jobs, rungs 1/3, two at a time: the 4th job would be a fourth rung-0 configuration while the third runs;
    # the searcher waits instead (None: Tune asks again), and once the third ends the best of three is promoted
    raw = raw_spec(sampler={"kind": "random", "seed": 3}, budget={"num_samples": 4, "max_epochs": 3},
                   scheduler={"kind": "promotion_sh", "rungs": [1, 3], "reduction_factor": 3})
    s = searcher(tmp_path, raw)
    a, b = s.suggest("a"), s.suggest("b")

    def stop(tid, cfg, value):
        s.on_trial_result(tid, {"epoch": 1, "val_map10": value})
        finish(cfg, best_value=value, epochs_trained=1, stopped="stopped_by_report")
        s.on_trial_complete(tid, {"epoch": 1})

    stop("a", a, 0.2)
    c = s.suggest("c")
    assert c["trial"]["stop_after"] == 1  # a new configuration: the budget still completes one after it
    stop("b", b, 0.5)
    assert s.suggest("d") is None  # c still runs: its end decides the promotion
    stop("c", c, 0.3)
    d = s.suggest("d")
    assert d["trial"]["params"] == b["trial"]["params"] and d["trial"]["start_from"]
    s.on_trial_result("d", {"epoch": 3, "val_map10": 0.45})
    finish(d, best_value=0.45, epochs_trained=3)
    s.on_trial_complete("d", {"epoch": 3})
    study = load(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 3 + [TrialState.COMPLETE]
    # the best trial is the top-rung one (0.45), not the higher rung-0 value 0.5: Optuna and status agree
    assert study.best_trial.number == 3 == study.user_attrs[BEST_ATTR]["number"]
    assert best_trial(study.trials, "max").number == 3


def test_the_best_trial_before_any_completes_is_the_best_of_the_highest_rung(tmp_path):
    raw = raw_spec(sampler={"kind": "random", "seed": 3}, budget={"num_samples": 13, "max_epochs": 10},
                   scheduler={"kind": "promotion_sh", "rungs": [1, 3, 10], "reduction_factor": 3})
    s = searcher(tmp_path, raw)
    cfgs = [s.suggest(t) for t in "abc"]
    for tid, cfg, value in zip("abc", cfgs, (0.2, 0.6, 0.3)):
        s.on_trial_result(tid, {"epoch": 1, "val_map10": value})
        finish(cfg, best_value=value, epochs_trained=1, stopped="stopped_by_report")
        s.on_trial_complete(tid, {"epoch": 1})
    p = s.suggest("d")  # the promotion of b to rung 1, stopped there with a lower value than b had at rung 0
    s.on_trial_result("d", {"epoch": 3, "val_map10": 0.4})
    finish(p, best_value=0.4, epochs_trained=3, stopped="stopped_by_report")
    s.on_trial_complete("d", {"epoch": 3})
    study = load(tmp_path)
    assert not [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert study.user_attrs[BEST_ATTR] == {"number": 3, "value": 0.4, "state": "PRUNED", "rung": 1,
                                           "run_dir": study.trials[3].user_attrs["run_dir"]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    text = study_status(tmp_path / "s.yaml", storage=f"sqlite:///{tmp_path / 'runs' / 's' / 'optuna.db'}")
    assert "best: #3 val_map10 0.4000 [PRUNED: no trial has finished its schedule yet; best of the highest rung " \
           "reached, rung 1]" in text
    assert "rung 1, promoted from #1" in text


# --------------------------------------------------------------------------------------------- spaces
def test_an_empty_space_is_refused_unless_the_grid_repeats_seeds():
    with pytest.raises(SpecError, match=r"^space: empty: every trial of the random sampler would train the same"):
        load_spec(repo_file(QUICK), ["space={}"], check_registries=False)
    spec = load_spec(raw_spec(space={}, sampler={"kind": "grid"}, seeds=[0, 1, 2], budget={"max_epochs": 2}),
                     check_registries=False)
    assert spec.num_samples == 3


def test_a_study_with_trials_refuses_a_changed_space_unless_forced(tmp_path):
    from studies.runner import _check_space, _record_spec, _start_anew, space_sha
    import io

    spec = load_spec(raw_spec(), check_registries=False)
    url = resolve(None, tmp_path / "runs" / "s")
    storage = open_storage(url)
    from studies.study import open_study, study_folder

    study = open_study(spec, storage)
    root = study_folder(study, tmp_path / "runs" / "s")
    _record_spec(study, spec, root, url)
    _check_space(study, spec, url)  # no trials: anything goes
    study.add_trial(optuna.trial.create_trial(value=0.5, params={}, distributions={}))
    _check_space(study, spec, url)  # the same space
    changed = load_spec(raw_spec(space={"fusion.kind": {"categorical": ["none", "late"]}}), check_registries=False)
    assert space_sha(changed) != space_sha(spec)
    with pytest.raises(RunnerError, match=r"^space: the study 's' in .* holds 1 trial\(s\) of another search space "
                                          r"\(removed fusion.mid.layers, optim.lr_audio\).*--force-new"):
        _check_space(study, changed, url)
    out = io.StringIO()
    fresh = _start_anew(study, changed, storage, tmp_path / "runs" / "s", out)
    assert fresh.get_trials() == [] and "exported to" in out.getvalue()
    exported = (root / "trials.csv").read_text()
    assert exported.splitlines()[0].startswith("number,value,")
    assert study_folder(fresh, tmp_path / "runs" / "s") != root  # a new run key: a new folder


def test_a_rerun_with_a_changed_space_is_one_error_line(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    raw = raw_spec()
    spec.write_text(yaml.safe_dump(raw))
    runs = tmp_path / "runs"
    url = resolve(None, runs / "s")
    from studies.runner import _record_spec
    from studies.study import open_study, study_folder

    s = load_spec(raw, check_registries=False)
    study = open_study(s, open_storage(url))
    _record_spec(study, s, study_folder(study, runs / "s"), url)
    study.add_trial(optuna.trial.create_trial(value=0.5, params={}, distributions={}))
    resolved = (study_folder(study, runs / "s") / "spec.resolved.yaml").read_text()
    code = studies_main(["run", str(spec), "--runs-dir", str(runs), "--set", "space.optim.lr_audio.loguniform=[0.001, 0.1]"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: space: the study 's'") and err.count("\n") == 1
    assert "the same parameters with other ranges or choices" in err
    assert (study_folder(study, runs / "s") / "spec.resolved.yaml").read_text() == resolved  # not overwritten


# --------------------------------------------------------------------------------------------- storages, folders
def test_storages_that_cannot_be_used_are_one_error_line(tmp_path, capsys):
    notdb = tmp_path / "notdb.db"
    notdb.write_text("hello, I am a text file\n" * 10)
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [(f"sqlite:///{notdb}", "is not an SQLite database"),
             (f"sqlite:///{afile}/x.db", "is a file, not a folder"),
             (f"sqlite:///{tmp_path}/nonexistent/dir/x.db", "does not exist; create it first"),
             (f"journal:{afile}/j.log", "is a file, not a folder")]
    for url, message in cases:
        code = studies_main(["run", str(repo_file(QUICK)), "--storage", url, "--runs-dir", str(tmp_path / "runs")])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: storage: ") and message in err, (url, err)
        assert err.count("\n") == 1
    assert not (tmp_path / "nonexistent").exists()
    assert notdb.read_text().startswith("hello")


def test_a_read_only_database_is_refused_for_writing_and_read_for_status(tmp_path, monkeypatch):
    import os

    db = tmp_path / "ro.db"
    from studies.study import open_study

    open_study(load_spec(raw_spec(), check_registries=False), open_storage(resolve(f"sqlite:///{db}", tmp_path)))
    # tests run as root, for whom chmod does not make a file read-only: the permission check is made to see one
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK and str(p) == str(db) else real(p, mode))
    with pytest.raises(StorageError, match=r"^storage: .*ro.db is read-only \(the file, its folder or its file "
                                           r"system\); make it writable"):
        open_storage(resolve(f"sqlite:///{db}", tmp_path))
    open_storage(resolve(f"sqlite:///{db}", tmp_path), write=False)  # reading it is fine (status, reports)


def test_a_damaged_database_is_one_error_line(tmp_path):
    db = tmp_path / "bad.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    with pytest.raises(StorageError, match=r"^storage: cannot read the SQLite database .*bad.db: .*damaged"):
        open_storage(resolve(f"sqlite:///{db}", tmp_path))


def test_a_runs_dir_that_is_a_file_is_one_error_line(tmp_path, capsys):
    afile = tmp_path / "runs"
    afile.write_text("x")
    code = studies_main(["run", str(repo_file(QUICK)), "--runs-dir", str(afile)])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: --runs-dir {afile}: {afile} is a file, not a folder (in {afile / 'quick'}); " \
                                "pick another path\n"


def test_status_reports_the_budget_the_last_runner_was_given(tmp_path):
    from studies.runner import _record_spec
    from studies.study import open_study, study_folder

    raw = raw_spec()
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    s = load_spec(raw, ["budget.num_samples=2"], check_registries=False)
    url = resolve(None, tmp_path / "runs" / "s")
    study = open_study(s, open_storage(url))
    _record_spec(study, s, study_folder(study, tmp_path / "runs" / "s"), url)
    text = study_status(tmp_path / "s.yaml", runs_dir=tmp_path / "runs")
    assert ": 0 of 2 trials" in text
    text = study_status(tmp_path / "s.yaml", ["budget.num_samples=3"], runs_dir=tmp_path / "runs")
    assert ": 0 of 3 trials" in text


# --------------------------------------------------------------------------------------------- dry run
def test_dry_run_prints_the_plan_and_the_first_proposals_and_writes_nothing(tmp_path, monkeypatch):
    import io

    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    dry_run(repo_file(QUICK), ["budget.num_samples=4", "budget.max_epochs=3"], proposals=3, out=out)
    text = out.getvalue()
    assert "scheduler promotion_sh rungs=[1, 3]" in text and "3 epochs max" in text
    assert "resolved spec" in text and "first 3 proposals of a new study (sampler random)" in text
    assert list(tmp_path.iterdir()) == []
    # the proposals are those of a real run's sampler: the random sampler seeded with the spec's seed
    from studies.study import build_sampler

    spec = load_spec(repo_file(QUICK), ["budget.num_samples=4", "budget.max_epochs=3"])
    study = optuna.create_study(direction="maximize", sampler=build_sampler(spec.sampler))
    first = spec.space(study.ask())
    assert f"fusion.kind={first['fusion.kind']}" in text.split("  0: ")[1].splitlines()[0]


# --------------------------------------------------------------------------------------------- Ray, end to end
def test_the_readme_reduced_demo_shape_completes_a_trial_through_ray(runner, tmp_path):
    # the README's reduced demo (quick.yaml, 4 jobs, max_epochs 3), on the noop trainable: every job trains the
    # epochs its rung names, one configuration reaches the top rung (COMPLETE), Optuna's best trial is status's,
    # and Ray Tune's result files are kept per trial
    spec = repo_file(QUICK)
    runs = tmp_path / "runs"
    r = runner(["run", spec, "--runs-dir", runs, "--set", "budget.num_samples=4", "--set", "budget.max_epochs=3",
                "--trainable", "studies.trainable:noop_trainable"])
    assert r.wait(timeout=900) == 0, r.output()[-5000:]
    r.assert_no_leftovers()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="quick", storage=f"sqlite:///{runs / 'quick' / 'optuna.db'}")
    trials = study.trials
    assert len(trials) == 4
    assert [t.user_attrs["epochs_trained"] for t in trials if t.state == TrialState.COMPLETE] == [3]
    assert sorted(t.user_attrs["epochs_trained"] for t in trials) == [1, 1, 1, 3]
    assert study.best_trial.number == study.user_attrs[BEST_ATTR]["number"]
    folder = runs / "quick" / study.user_attrs["run_key"]
    result_files = sorted(folder.glob("tune/*/trial-*/result.json"))
    assert len(result_files) == 4 and len(sorted(folder.glob("tune/*/trial-*/progress.csv"))) == 4
    rows = [json.loads(line) for line in result_files[0].read_text().splitlines()]
    assert rows and "val_map10" in rows[0] and "epoch" in rows[0]
    status = runner(["status", spec, "--runs-dir", runs])
    assert status.wait(timeout=300) == 0
    text = status.output()
    assert ": 4 of 4 trials" in text and f"best: #{study.best_trial.number} " in text
    assert "[PRUNED" not in text.split("best:")[1]


def test_a_trial_whose_run_folder_vanished_while_it_trained_is_a_fail(tmp_path, monkeypatch):
    # the folder is deleted while fit runs (here: by the fake fit itself); the trial must not be recorded COMPLETE
    import shutil
    from types import SimpleNamespace

    import retrieval.train
    from studies.trainable import STATUS_FILE, fit_retriever, run_trial

    def fake_fit(cfg, run_dir, report=None, resume=True):
        for name in ("config.yaml", "metrics.json", "per_query.csv", "best.pt"):
            (run_dir / name).write_text("x")
        shutil.rmtree(run_dir)
        return SimpleNamespace(stopped="completed", fingerprint="f", best_epoch=1, epochs_trained=1, val={},
                               test={}, history=[{"epoch": 1, "val_map10": 0.3}])

    monkeypatch.setattr(retrieval.train, "fit", fake_fit)
    spec = load_spec(raw_spec(), check_registries=False)
    config = {"study": {"run_root": str(tmp_path), "base": spec.base.to_dict(), "cpu": 1, "max_epochs": 2,
                        "metric": "val_map10", "mode": "max"},
              "trial": {"number": 0, "seed": 0, "params": {}, "overrides": {}}}
    run_trial(config, fit_retriever)
    status = json.loads((tmp_path / "trials" / "0" / STATUS_FILE).read_text())
    assert status["state"] == "FAIL" and "lost config.yaml, metrics.json, per_query.csv, best.pt" in status["reason"]
