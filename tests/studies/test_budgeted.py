"""The ``budgeted_sh`` scheduler (studies/budgeted.py): every rung trains a complete schedule of its budget, and
promotions are new trials of the same configuration. Driven through the real searcher and a real SQLite study,
as Ray Tune would drive it (no Ray needed), plus the spec checks and the Ray-side scheduler."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from studies import budgeted
from studies.errors import SpecError
from studies.schedulers import FIFO, build_scheduler
from studies.spec import load_spec

from .test_search import FINISHED, finish, load, raw_spec, searcher


def budgeted_spec(**sections):
    raw = raw_spec(sampler={"kind": "random", "seed": 3}, budget={"num_samples": 6, "max_epochs": 3},
                   scheduler={"kind": "budgeted_sh", "rungs": [1, 3], "reduction_factor": 3})
    raw.update(sections)
    return raw


def test_rung_zero_jobs_train_the_short_schedule_and_the_best_third_is_retrained_with_the_long_one(tmp_path):
    s = searcher(tmp_path, budgeted_spec())
    first = [s.suggest(t) for t in "abc"]
    for cfg in first:  # new configurations: rung 0, a complete 1-epoch schedule
        assert cfg["trial"]["overrides"]["train.epochs"] == 1
    for tid, cfg, value in zip("abc", first, (0.2, 0.5, 0.3)):
        s.on_trial_result(tid, {"epoch": 1, "val_map10": value})
        finish(cfg, best_value=value, epochs_trained=1)
        s.on_trial_complete(tid, {"epoch": 1})
    promo = s.suggest("d")["trial"]  # the best of three (b) goes to rung 1: same parameters and seed, 3 epochs
    assert promo["params"] == first[1]["trial"]["params"] and promo["seed"] == first[1]["trial"]["seed"]
    assert promo["overrides"]["train.epochs"] == 3
    new = s.suggest("e")["trial"]  # b is promoted already and 3 // 3 = 1: a new configuration at rung 0
    assert new["overrides"]["train.epochs"] == 1 and new["params"] != promo["params"]
    trials = load(tmp_path).trials
    assert [t.user_attrs[budgeted.RUNG] for t in trials] == [0, 0, 0, 1, 0]
    assert [t.user_attrs[budgeted.BUDGET] for t in trials] == [1, 1, 1, 3, 1]
    assert trials[3].user_attrs[budgeted.PROMOTED_FROM] == 1 and trials[3].state == TrialState.RUNNING
    assert s.suggest("f") is not None and s.suggest("g") == FINISHED  # 6 jobs in all


def test_next_job_promotes_from_the_highest_rung_first_and_never_twice():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    dist = {"x": optuna.distributions.CategoricalDistribution(list(range(20)))}

    def add(x, value, rung, promoted_from=None):
        attrs = {"seed": 0, budgeted.RUNG: rung}
        if promoted_from is not None:
            attrs[budgeted.PROMOTED_FROM] = promoted_from
        study.add_trial(optuna.trial.create_trial(params={"x": x}, distributions=dist, value=value, user_attrs=attrs))

    opts = {"rungs": [1, 3, 9], "reduction_factor": 3}
    for i, v in enumerate([0.1, 0.9, 0.2, 0.8, 0.3, 0.4]):  # rung 0: six jobs, the top two may go up
        add(i, v, 0)
    job = budgeted.next_job(opts, 9, study.trials)
    assert (job["params"], job["rung"], job["budget"], job["promoted_from"]) == ({"x": 1}, 1, 3, 1)
    add(1, 0.95, 1, promoted_from=1)
    job = budgeted.next_job(opts, 9, study.trials)
    assert job["params"] == {"x": 3} and job["rung"] == 1
    add(3, 0.85, 1, promoted_from=3)
    assert budgeted.next_job(opts, 9, study.trials) is None  # rung 1 has 2 jobs (2 // 3 = 0), rung 0 is spent
    add(6, 0.5, 0)
    add(7, 0.6, 0)
    add(8, 0.7, 1, promoted_from=99)
    job = budgeted.next_job(opts, 9, study.trials)  # rung 1 has 3 jobs now: its best goes to rung 2 first
    assert job["rung"] == 2 and job["budget"] == 9 and job["params"] == {"x": 1}


@pytest.mark.parametrize("scheduler, message", [
    ({"kind": "budgeted_sh", "rungs": [3, 1]}, "scheduler.rungs: expected >= 2 increasing"),
    ({"kind": "budgeted_sh", "rungs": [1, 2]}, r"the last rung must be budget.max_epochs \(3\)"),
    ({"kind": "budgeted_sh", "rungs": [1, 3], "grace_period": 1}, "scheduler.grace_period: unknown key"),
    ({"kind": "budgeted_sh", "reduction_factor": 1}, "scheduler.reduction_factor: expected >= 2"),
])
def test_bad_budgeted_specs_name_the_key(scheduler, message):
    with pytest.raises(SpecError, match=message):
        load_spec(budgeted_spec(scheduler=scheduler), check_registries=False)
    with pytest.raises(SpecError, match="one seed"):
        load_spec(budgeted_spec(seeds=[0, 1]), check_registries=False)


def test_default_rungs_and_the_ray_side_is_fifo():
    spec = load_spec(budgeted_spec(scheduler={"kind": "budgeted_sh"}, budget={"num_samples": 6, "max_epochs": 10}),
                     check_registries=False)
    assert budgeted.rungs_of(spec.scheduler, spec.max_epochs) == (4, 10)
    sched = build_scheduler(spec.scheduler, metric="val_map10", mode="max", max_epochs=10, deadline=None)
    assert isinstance(sched, FIFO)


def test_confirm_retrains_the_best_configuration_with_the_next_seed_before_it_is_the_incumbent():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    dist = {"x": optuna.distributions.CategoricalDistribution(list(range(20)))}

    def add(x, value, rung, seed=0, state=TrialState.COMPLETE, **attrs):
        study.add_trial(optuna.trial.create_trial(params={"x": x}, distributions=dist,
                                                  value=value if state == TrialState.COMPLETE else None,
                                                  state=state, user_attrs={"seed": seed, budgeted.RUNG: rung,
                                                                           **attrs}))

    opts = {"rungs": [3, 10], "reduction_factor": 3, "confirm": 1}
    for i, v in enumerate([0.1, 0.5, 0.3]):
        add(i, v, 0)
    add(1, 0.62, 1, promoted_from=1)  # number 3
    job = budgeted.next_job(opts, 10, study.trials)
    assert job == {"params": {"x": 1}, "seed": 1, "rung": 1, "budget": 10, "confirms": 3}
    assert budgeted.incumbent(opts, 10, study.trials) == ({"x": 1}, 0.62, 1)
    add(1, None, 1, seed=1, state=TrialState.RUNNING, confirms=3)  # the confirmation runs: nothing new to confirm
    assert budgeted.next_job(opts, 10, study.trials) is None or budgeted.next_job(opts, 10, study.trials)["rung"] == 1
    study = optuna.create_study(direction="maximize")
    for i, v in enumerate([0.1, 0.5, 0.3, 0.45, 0.2, 0.4]):
        add(i, v, 0)
    add(1, 0.62, 1, promoted_from=1)
    add(1, 0.52, 1, seed=1, confirms=6)  # mean 0.57
    add(3, 0.60, 1, promoted_from=3)  # one run: the best score, so it is confirmed next ...
    job = budgeted.next_job(opts, 10, study.trials)
    assert job["params"] == {"x": 3} and job["confirms"] == 8 and job["seed"] == 1
    assert budgeted.incumbent(opts, 10, study.trials)[:2] == ({"x": 1}, pytest.approx(0.57))  # ... not yet incumbent
    add(3, 0.50, 1, seed=1, confirms=8)  # mean 0.55 < 0.57
    assert budgeted.incumbent(opts, 10, study.trials)[0] == {"x": 1}
    assert budgeted.incumbent({"rungs": [3, 10]}, 10, study.trials) == ({"x": 1}, 0.62, 1)  # no confirm: best run


@pytest.mark.parametrize("kind", ["promotion_sh", "budgeted_sh"])
def test_a_real_budgeted_study_through_ray(runner, tmp_path, kind):
    # the whole path: Ray Tune (FIFO) runs the jobs the searcher hands out; each job trains its rung's epochs
    import optuna
    import yaml

    spec = tmp_path / "bsh.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "bsh", "base": "synthcaps-tiny",
        "space": {"fusion.kind": {"categorical": ["none", "late"]}, "audio_encoder.width": {"categorical": [8, 16]},
                  "text_encoder.layers": {"categorical": [1, 2]}},
        "sampler": {"kind": "random", "seed": 0},
        "scheduler": {"kind": kind, "rungs": [1, 3], "reduction_factor": 3, "confirm": 1},
        "budget": {"num_samples": 10, "max_epochs": 3}, "resources": {"cpu": 1, "max_concurrent": 2}}))
    runs = tmp_path / "runs"
    r = runner(["run", spec, "--runs-dir", runs, "--trainable", "studies.trainable:noop_trainable"])
    assert r.wait(timeout=900) == 0, r.output()[-5000:]
    r.assert_no_leftovers()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name="bsh", storage=f"sqlite:///{runs / 'bsh' / 'optuna.db'}").trials
    assert len(trials) == 10
    for t in trials:  # every job trained exactly its rung's epochs; promotion_sh stops rung-0 jobs (PRUNED)
        assert t.user_attrs["epochs_trained"] == t.user_attrs[budgeted.BUDGET] == (1, 3)[t.user_attrs[budgeted.RUNG]]
        rung0 = t.user_attrs[budgeted.RUNG] == 0
        assert t.state == (TrialState.PRUNED if rung0 and kind == "promotion_sh" else TrialState.COMPLETE)
    promoted = [t for t in trials if budgeted.PROMOTED_FROM in t.user_attrs]
    assert promoted and all(trials[t.user_attrs[budgeted.PROMOTED_FROM]].params == t.params for t in promoted)
    for t in promoted:  # promotion_sh continues the promoted run's checkpoint, budgeted_sh starts afresh
        source = trials[t.user_attrs[budgeted.PROMOTED_FROM]].user_attrs["run_dir"]
        assert t.user_attrs.get(budgeted.START_FROM) == (source if kind == "promotion_sh" else None)
    runs_of = {}
    for t in trials:  # one configuration never runs twice with the same seed at the same rung
        key = (tuple(sorted(t.params.items())), t.user_attrs[budgeted.RUNG], t.user_attrs["seed"])
        assert key not in runs_of
        runs_of[key] = t.number


def test_promotion_jobs_continue_the_stopped_run(tmp_path):
    # promotion_sh: rung-0 jobs stop after rungs[0] epochs of the full schedule; a promotion starts from the
    # stopped trial's run directory, with the full schedule (no train.epochs override)
    s = searcher(tmp_path, budgeted_spec(scheduler={"kind": "promotion_sh", "rungs": [1, 3], "reduction_factor": 3}))
    first = [s.suggest(t) for t in "abc"]
    for cfg in first:
        assert cfg["trial"]["stop_after"] == 1 and "train.epochs" not in cfg["trial"]["overrides"]
    for tid, cfg, value in zip("abc", first, (0.2, 0.5, 0.3)):
        s.on_trial_result(tid, {"epoch": 1, "val_map10": value})
        finish(cfg, best_value=value, epochs_trained=1, stopped="stopped_by_report")
        s.on_trial_complete(tid, {"epoch": 1})
    assert [t.state for t in load(tmp_path).trials] == [TrialState.PRUNED] * 3
    promo = s.suggest("d")["trial"]
    src = load(tmp_path).trials[1].user_attrs["run_dir"]
    assert promo["params"] == first[1]["trial"]["params"] and promo["start_from"] == src
    assert "stop_after" not in promo and "train.epochs" not in promo["overrides"]


def test_the_trainable_copies_the_checkpoint_once_and_stops_at_the_rung(tmp_path):
    from studies.trainable import STATUS_FILE, STOP_FILE, TuneReport, _start_from

    src, dst = tmp_path / "a", tmp_path / "b"
    (src / "text_encoder").mkdir(parents=True)
    for name in ("last.pt", "best.pt", "config.yaml", STATUS_FILE, STOP_FILE, "metrics.json", "per_query.csv"):
        (src / name).write_text(name)
    (src / "text_encoder" / "vocab.txt").write_text("v")
    dst.mkdir()
    _start_from(str(src), dst)
    assert sorted(p.name for p in dst.iterdir()) == ["best.pt", "config.yaml", "last.pt", "text_encoder"]
    (dst / "last.pt").write_text("trained further")
    _start_from(str(src), dst)  # a restarted promoted job keeps its own progress
    assert (dst / "last.pt").read_text() == "trained further"

    # killed while copying the checkpoint: the restarted job finds no last.pt and copies it again, whole
    import shutil

    dst2 = tmp_path / "c"
    dst2.mkdir()
    real_copy2 = shutil.copy2

    def dies_on_checkpoint(a, b, **kw):
        if Path(a).name == "last.pt":
            Path(b).write_text("last")  # a torn write
            raise KeyboardInterrupt
        return real_copy2(a, b, **kw)

    shutil.copy2 = dies_on_checkpoint
    try:
        with pytest.raises(KeyboardInterrupt):
            _start_from(str(src), dst2)
    finally:
        shutil.copy2 = real_copy2
    assert not (dst2 / "last.pt").exists()
    _start_from(str(src), dst2)
    assert (dst2 / "last.pt").read_text() == "last.pt" and not (dst2 / "last.pt.partial").exists()

    class Stop(Exception):
        pass

    report = TuneReport(dst, Stop, 0.0, 10, stop_after=2)
    report.checkpointed = True
    import ray.tune

    calls = []
    orig = ray.tune.report
    ray.tune.report = lambda m, **k: calls.append(m)
    try:
        report(1, {"val_map10": 0.1})
        with pytest.raises(Stop, match="rung after epoch 2"):
            report(2, {"val_map10": 0.2})
    finally:
        ray.tune.report = orig
    assert [c["epoch"] for c in calls] == [1, 2]
