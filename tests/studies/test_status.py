"""``python -m studies status``: the table of trials and the best trial."""

from __future__ import annotations

import subprocess
import sys

import optuna
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from studies.status import study_status

DIST = {"fusion.kind": CategoricalDistribution(["none", "late"]), "optim.lr_audio": FloatDistribution(1e-4, 1e-2,
                                                                                                      log=True)}


def make_study(tmp_path):
    spec = {"name": "st", "base": "synthcaps-tiny", "budget": {"num_samples": 6},
            "space": {"fusion.kind": {"categorical": ["none", "late"]},
                      "optim.lr_audio": {"loguniform": [1.0e-4, 1.0e-2]}}}
    path = tmp_path / "st.yaml"
    path.write_text(yaml.safe_dump(spec))
    storage = f"sqlite:///{tmp_path / 'runs' / 'st' / 'optuna.db'}"
    (tmp_path / "runs" / "st").mkdir(parents=True)
    study = optuna.create_study(study_name="st", storage=storage, direction="maximize")
    dead = {"id": "gone", "host": "vm-that-went-away", "pid": 1, "create_time": 1.0}

    def add(state, value=None, params=None, steps=None, **attrs):
        study.add_trial(create_trial(state=state, value=value, params=params or {}, distributions=(
            {k: DIST[k] for k in params} if params else {}), user_attrs=attrs,
            intermediate_values=steps or {}))

    add(TrialState.COMPLETE, 0.2134, {"fusion.kind": "late", "optim.lr_audio": 0.001}, {1: 0.1, 2: 0.2134},
        epochs_trained=2, wall_time_s=192.0, run_dir="/runs/st/trials/0", test_metrics={"test_map10": 0.19})
    add(TrialState.PRUNED, 0.0813, {"fusion.kind": "none", "optim.lr_audio": 0.0003}, {1: 0.0813},
        epochs_trained=1, wall_time_s=41.0, stopped="stopped_by_report")
    add(TrialState.FAIL, None, {"fusion.kind": "late", "optim.lr_audio": 0.002}, wall_time_s=2.2,
        fail_reason="ConfigError: text_encoder.path: '/nope' is not a folder")
    add(TrialState.RUNNING, None, {"fusion.kind": "none", "optim.lr_audio": 0.0001}, {1: 0.05}, runner=dead,
        heartbeat=0.0)
    study.enqueue_trial({"fusion.kind": "late", "optim.lr_audio": 0.005}, user_attrs={"seed": 1})
    return path, storage


def test_status_table(tmp_path):
    path, _ = make_study(tmp_path)
    text = study_status(path, runs_dir=tmp_path / "runs")
    lines = text.splitlines()
    assert lines[0].startswith("study st in sqlite:///") and "5 of 6 trials" in lines[0]
    assert "(complete 1, pruned 1, failed 1, running 1, waiting 1)" in lines[0]
    header = lines[1].split()
    assert header == ["#", "state", "val_map10", "epochs", "wall", "note", "params"]
    rows = {int(line.split()[0]): line for line in lines[2:7]}
    assert rows.keys() == {0, 1, 2, 3, 4}
    assert "COMPLETE" in rows[0] and "0.2134" in rows[0] and "3m12s" in rows[0]
    assert "fusion.kind=late, optim.lr_audio=0.001" in rows[0]
    assert "PRUNED" in rows[1] and "0.0813" in rows[1] and " 1 " in rows[1] and "41s" in rows[1]
    assert "FAIL" in rows[2] and "ConfigError: text_encoder.path" in rows[2]
    assert "RUNNING" in rows[3] and "stale: its runner is gone" in rows[3]
    assert "WAITING" in rows[4] and "queued (seed 1)" in rows[4] and "optim.lr_audio=0.005" in rows[4]
    assert "best: #0 val_map10 0.2134 (fusion.kind=late, optim.lr_audio=0.001)" in text
    assert "run directory: /runs/st/trials/0" in text and "test_map10 0.1900" in text


def test_status_cli(tmp_path):
    path, storage = make_study(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "studies", "status", str(path), "--storage", storage],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "best: #0" in proc.stdout
    missing = subprocess.run([sys.executable, "-m", "studies", "status", str(path), "--runs-dir",
                              str(tmp_path / "elsewhere")], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and missing.stderr.startswith("error: no study 'st'")
