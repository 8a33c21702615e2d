"""The Ray-free Optuna side: pinned samplers reproduce, seeds of joining runners, stale trials, the budget."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from studies.spec import load_spec
from studies.study import (RunnerError, RunnerInfo, budget_left, build_sampler, derive_seed, is_stale,
                           missing_grid_points, open_study, process_start, runner_alive)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def spec(**sections):
    raw = {"name": "t", "base": "synthcaps-tiny", "budget": {"num_samples": 6},
           "space": {"fusion.kind": {"categorical": ["none", "late", "mid"]},
                     "fusion.mid.layers": {"int": [1, 3], "when": {"fusion.kind": "mid"}},
                     "optim.lr_audio": {"loguniform": [1.0e-4, 1.0e-2]}}}
    raw.update(sections)
    return load_spec(raw, check_registries=False)


def objective(params):
    return params["optim.lr_audio"] * (2 if params["fusion.kind"] == "late" else 1)


@pytest.mark.parametrize("options", [{"kind": "tpe", "n_startup_trials": 3}, {"kind": "random"},
                                     {"kind": "tpe", "n_startup_trials": 2, "multivariate": True, "group": True}])
def test_pinned_samplers_reproduce(options):
    s = spec(sampler=options)
    runs = []
    for _ in range(2):
        study = optuna.create_study(direction="maximize", sampler=build_sampler(s.sampler))
        for _ in range(8):
            trial = study.ask()
            study.tell(trial, objective(s.space(trial)))
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


def test_every_tpe_option_is_set():
    sampler = build_sampler(spec(sampler={"kind": "tpe", "multivariate": False, "constant_liar": False,
                                          "n_ei_candidates": 7, "consider_endpoints": True}).sampler)
    assert isinstance(sampler, optuna.samplers.TPESampler)
    p = sampler._parzen_estimator_parameters
    assert (sampler._n_startup_trials, sampler._n_ei_candidates, sampler._multivariate, sampler._constant_liar) == \
        (10, 7, False, False)
    assert p.consider_endpoints is True and p.prior_weight == 1.0 and p.consider_magic_clip is True
    assert sampler._gamma(100) == 10 and sampler._gamma(1000) == 25


def test_derived_seeds():
    assert derive_seed(7, 0) == 7  # a new study samples exactly as its spec says
    assert len({derive_seed(7, n) for n in range(1, 50)} | {7}) == 50
    assert derive_seed(7, 3) == derive_seed(7, 3)


def test_open_study_checks_the_direction(tmp_path):
    storage = optuna.storages.InMemoryStorage()
    open_study(spec(), storage)
    with pytest.raises(RunnerError, match="objective.mode"):
        open_study(spec(objective={"mode": "min"}), storage)


def _running(number_of_params, runner=None, heartbeat=None, start=None):
    attrs = {}
    if runner is not None:
        attrs["runner"] = runner
    if heartbeat is not None:
        attrs["heartbeat"] = heartbeat
    t = create_trial(state=TrialState.RUNNING, params={"a": 0.5}, distributions={"a": FloatDistribution(0, 1)},
                     user_attrs=attrs)
    if start is not None:
        t.datetime_start = start
    return t


def test_stale_trials():
    me = RunnerInfo.current()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here_dead = {"id": "old", "host": me.host, "pid": dead.pid, "create_time": 1.0}
    here_alive_other = {"id": "other", "host": me.host, "pid": os.getppid(), "create_time": process_start(os.getppid())}
    here_reused_pid = {"id": "reuse", "host": me.host, "pid": os.getppid(), "create_time": 12345.0}
    elsewhere = {"id": "far", "host": socket.gethostname() + "-elsewhere", "pid": 1, "create_time": 1.0}
    assert runner_alive(me.to_dict(), me) and runner_alive(here_alive_other, me)
    assert runner_alive(here_dead, me) is False and runner_alive(here_reused_pid, me) is False
    assert runner_alive(elsewhere, me) is None
    now = time.time()
    assert not is_stale(_running(1, me.to_dict()), me)
    assert not is_stale(_running(1, here_alive_other), me)
    assert is_stale(_running(1, here_dead), me)
    assert is_stale(_running(1, here_reused_pid), me)
    assert is_stale(_running(1), me)  # never tagged: its runner died right after asking
    assert not is_stale(_running(1, elsewhere, heartbeat=now - 60), me, now)
    assert is_stale(_running(1, elsewhere, heartbeat=now - 3600), me, now)
    finished = create_trial(state=TrialState.COMPLETE, value=1.0, user_attrs={"runner": here_dead})
    assert not is_stale(finished, me)


def test_budget_left_and_missing_grid_points():
    s = spec(budget={"num_samples": 6})
    study = optuna.create_study()
    assert budget_left(s, study.trials) == 6
    study.add_trial(create_trial(state=TrialState.COMPLETE, value=1.0))
    study.add_trial(create_trial(state=TrialState.WAITING))
    assert budget_left(s, study.get_trials()) == 1 + 4
    g = spec(sampler={"kind": "grid"}, space={"fusion.kind": {"categorical": ["none", "late"]}}, seeds=[0, 1],
             budget={"num_samples": None})
    study = optuna.create_study()
    assert budget_left(g, study.trials) == 4
    study.enqueue_trial({"fusion.kind": "none", "seed": 0})
    study.add_trial(create_trial(state=TrialState.FAIL, params={"fusion.kind": "late", "seed": 1},
                                 distributions={"fusion.kind": optuna.distributions.CategoricalDistribution(
                                     ["none", "late"]), "seed": optuna.distributions.CategoricalDistribution([0, 1])}))
    missing = missing_grid_points(g, study.get_trials())
    assert missing == [{"fusion.kind": "none", "seed": 1}, {"fusion.kind": "late", "seed": 0}]
    assert budget_left(g, study.get_trials()) == 1 + 2
