"""The trainable adapter outside Ray: run directories, the status file, failures, replay, the best epoch."""

from __future__ import annotations

import json
import math

from studies.trainable import STATUS_FILE, STOP_FILE, best_of, read_status, request_stop, run_dir_of, run_trial


def config(tmp_path, number=3):
    return {"study": {"run_root": str(tmp_path / "runs" / "s"), "base": {}, "cpu": 1, "max_epochs": 4,
                      "metric": "val_map10", "mode": "max"},
            "trial": {"number": number, "seed": 5, "params": {}, "overrides": {"train.seed": 5}}}


def test_run_dir_and_stop_requests(tmp_path):
    cfg = config(tmp_path)
    assert run_dir_of(cfg) == tmp_path / "runs" / "s" / "trials" / "3"
    request_stop(cfg)
    assert (run_dir_of(cfg) / STOP_FILE).exists()


def test_best_of_skips_nan_and_follows_the_mode():
    history = [{"epoch": 1, "val_map10": 0.2, "loss": 3.0}, {"epoch": 2, "val_map10": float("nan"), "loss": 2.0},
               {"epoch": 3, "val_map10": 0.5, "loss": 2.5}, {"epoch": 4, "val_map10": 0.4, "loss": 1.0}]
    assert best_of(history, "val_map10", "max") == (0.5, 3)
    assert best_of(history, "loss", "min") == (1.0, 4)
    value, epoch = best_of([], "val_map10", "max")
    assert math.isnan(value) and epoch == 0


def test_a_raising_fit_becomes_a_fail_status(tmp_path):
    cfg = config(tmp_path)
    (run_dir_of(cfg)).mkdir(parents=True)
    (run_dir_of(cfg) / STOP_FILE).write_text("old request")

    def broken(config, run_dir, report):
        raise RuntimeError("loss became nan at epoch 1")

    run_trial(cfg, broken)
    status = read_status(run_dir_of(cfg))
    assert status["state"] == "FAIL" and status["reason"] == "RuntimeError: loss became nan at epoch 1"
    assert "Traceback" in status["traceback"] and status["seed"] == 5 and status["wall_time_s"] >= 0
    assert not (run_dir_of(cfg) / STOP_FILE).exists()  # a (re)started trial is judged afresh


def test_a_finished_trial_is_not_run_again(tmp_path):
    cfg = config(tmp_path)
    run_dir_of(cfg).mkdir(parents=True)
    (run_dir_of(cfg) / STATUS_FILE).write_text(json.dumps({"state": "COMPLETE", "best_value": 0.3}))
    calls = []
    run_trial(cfg, lambda *a: calls.append(a) or {})
    assert calls == [] and read_status(run_dir_of(cfg))["best_value"] == 0.3


def test_the_status_holds_the_best_epoch(tmp_path):
    cfg = config(tmp_path)

    def fake_fit(config, run_dir, report):
        return {"stopped": "completed", "fingerprint": "f", "best_epoch": 2, "epochs_trained": 3,
                "val": {}, "test": {"test_map10": 0.1},
                "history": [{"epoch": 1, "val_map10": 0.1}, {"epoch": 2, "val_map10": 0.3},
                            {"epoch": 3, "val_map10": 0.2}]}

    run_trial(cfg, fake_fit)
    status = read_status(run_dir_of(cfg))
    assert status["state"] == "COMPLETE" and (status["best_value"], status["best_value_epoch"]) == (0.3, 2)
    assert "history" not in status and status["test"] == {"test_map10": 0.1}
