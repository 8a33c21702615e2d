"""Scheduler decisions become stop requests the trial honours, so stopped trials still finish their run dir."""

from __future__ import annotations

import time

from ray.tune.schedulers import TrialScheduler

from studies.schedulers import build_scheduler
from studies.testing import FakeTuneController, FakeTuneTrial
from studies.trainable import STOP_FILE, run_dir_of

ASHA = {"kind": "asha", "grace_period": 1, "reduction_factor": 2, "brackets": 1}


def trial(tmp_path, number):
    return FakeTuneTrial(tmp_path, number)


def stop_requested(t) -> bool:
    return (run_dir_of(t.config) / STOP_FILE).exists()


def test_asha_stop_becomes_a_request(tmp_path):
    sched = build_scheduler(ASHA, metric="val_map10", mode="max", max_epochs=4, deadline=None)
    good, bad = trial(tmp_path, 0), trial(tmp_path, 1)
    for t in (good, bad):
        sched.on_trial_add(None, t)
    assert sched.on_trial_result(None, good, {"epoch": 1, "val_map10": 0.9}) == TrialScheduler.CONTINUE
    assert sched.on_trial_result(None, bad, {"epoch": 1, "val_map10": 0.1}) == TrialScheduler.CONTINUE
    assert stop_requested(bad) and not stop_requested(good)


def test_reaching_max_epochs_is_not_a_stop(tmp_path):
    sched = build_scheduler(ASHA, metric="val_map10", mode="max", max_epochs=2, deadline=None)
    t = trial(tmp_path, 0)
    sched.on_trial_add(None, t)
    sched.on_trial_result(None, t, {"epoch": 1, "val_map10": 0.5})
    # ASHA answers STOP at max_t; the trial ends by itself after that epoch and must not count as pruned
    assert sched.on_trial_result(None, t, {"epoch": 2, "val_map10": 0.5}) == TrialScheduler.CONTINUE
    assert not stop_requested(t)


def test_the_time_budget_stops_every_trial(tmp_path):
    for kind in ({"kind": "fifo", "patience": None}, ASHA,
                 {"kind": "median", "grace_period": 1, "min_samples_required": 3}):
        sched = build_scheduler(kind, metric="val_map10", mode="max", max_epochs=5, deadline=time.time() - 1)
        t = trial(tmp_path / kind["kind"], 0)
        controller = FakeTuneController([t])
        sched.on_trial_add(controller, t)
        assert sched.on_trial_result(controller, t, {"epoch": 1, "val_map10": 0.5}) == TrialScheduler.CONTINUE
        assert stop_requested(t), kind
