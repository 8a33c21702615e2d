"""Real studies: Ray Tune trials training SynthCaps tiny, recorded in a real Optuna study, through the real CLI.

Every runner is a subprocess whose processes are tracked by PID: no Ray process (raylet, gcs_server, workers)
may outlive it. In the default suite: the end-to-end study, failing trials, Ctrl-C, kill-and-resume, and two
runners (each with two concurrent trials) on one PostgreSQL study. Slow-marked: two runners on one journal-file
study, and joining an existing Ray cluster (``ray start --head``) with ``--address``.

Whenever a test needs the study in a given state (a trial finished, another one mid-way, two trials at once), the
trials run the gated trainable of :mod:`studies.testing`: each trial waits after every epoch until the test
releases it, so the test decides when things happen and never races the machine's speed. Timeouts here only
guard against hangs.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from studies.search import UNKNOWN_RUNNER
from studies.storage import open_storage, resolve
from studies.testing import Gate

optuna.logging.set_verbosity(optuna.logging.WARNING)
OPTUNA_CLI = str(Path(sys.executable).parent / "optuna")
GATED = ["--trainable", "studies.testing:gated_train_trial"]
USER_ATTRS = ("run_dir", "fingerprint", "seed", "epochs_trained", "best_epoch", "wall_time_s", "test_metrics",
              "git_commit", "stopped", "runner")


def load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(resolve(url, ".")))


def check_finished_trial(t, max_epochs: int) -> None:
    """The bookkeeping contract of one finished (COMPLETE or PRUNED) trial."""
    a = t.user_attrs
    for key in USER_ATTRS:
        assert key in a, (t.number, key)
    epochs = a["epochs_trained"]
    assert set(t.intermediate_values) == set(range(1, epochs + 1))  # one intermediate value per epoch
    assert t.value == pytest.approx(max(t.intermediate_values.values()))  # the best epoch, not the last
    if t.state == TrialState.COMPLETE:
        assert a["stopped"] in ("completed", "early_stopping") and epochs == max_epochs
    else:  # stopped by the scheduler: PRUNED, never COMPLETE with a low-budget value
        assert t.state == TrialState.PRUNED and a["stopped"] == "stopped_by_report" and epochs < max_epochs
    run_dir = Path(a["run_dir"])
    assert run_dir.name == str(t.number) and run_dir.parent.name == "trials"
    meta = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert meta["fingerprint"] == a["fingerprint"] and meta["seed"] == a["seed"]
    rows = list(csv.reader((run_dir / "per_query.csv").open()))
    assert rows[0] == ["query", "target", "rank", "ap10"] and len(rows) > 1
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["complete"] and [h["epoch"] for h in metrics["history"]] == list(range(1, epochs + 1))
    assert a["test_metrics"]["test_map10"] == pytest.approx(metrics["test"]["test_map10"])


def test_end_to_end_study(runner, tiny_spec, tmp_path):
    spec = tiny_spec("e2e")  # tpe, ASHA (rung at epoch 1), 4 trials x 2 epochs, 2 at a time
    runs = tmp_path / "runs"
    r = runner(["run", spec, "--runs-dir", runs])
    assert r.wait(timeout=1200) == 0, r.output()[-5000:]
    r.assert_no_leftovers()
    out = r.output()
    assert "finished 4/4" in out and "done (" in out and "best val_map10" in out

    url = f"sqlite:///{runs / 'e2e' / 'optuna.db'}"
    listed = subprocess.run([OPTUNA_CLI, "studies", "--storage", url, "-f", "json"], capture_output=True,
                            text=True, timeout=300)
    assert listed.returncode == 0 and "e2e" in [s["name"] for s in json.loads(listed.stdout)]
    study = load(url, "e2e")
    trials = study.trials
    assert len(trials) == 4
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    for t in trials:
        check_finished_trial(t, max_epochs=2)
        assert t.user_attrs["seed"] == 0
    assert study.user_attrs["objective"] == "val_map10 (max)"
    folder = Path(study.user_attrs["run_folder"])  # runs/e2e/<run key>: the study's own folder
    assert folder.parent == runs.resolve() / "e2e" and folder.name == study.user_attrs["run_key"]
    assert (folder / "spec.resolved.yaml").exists()
    assert json.loads((folder / "study.json").read_text())["study"] == "e2e"
    assert all(Path(t.user_attrs["run_dir"]).parent.parent == folder for t in trials)

    # the study is complete: a second run has nothing to do (and starts no Ray)
    again = runner(["run", spec, "--runs-dir", runs])
    assert again.wait(timeout=300) == 0
    assert "nothing to do" in again.output() and not again.seen  # it started no Ray processes
    status = subprocess.run([sys.executable, "-m", "studies", "status", str(spec), "--runs-dir", str(runs)],
                            capture_output=True, text=True, timeout=300)
    assert status.returncode == 0 and "4 of 4 trials" in status.stdout and "best: #" in status.stdout


def test_failing_trials_are_recorded_and_the_study_goes_on(runner, tiny_spec, tmp_path):
    # a grid over named variants; "broken" asks for a Hugging Face text encoder that is not there: fit raises
    spec = tiny_spec("fails", sampler={"kind": "grid"}, scheduler={"kind": "fifo"},
                     budget={"num_samples": None, "max_epochs": 1},
                     space={"variant": {"categorical": ["broken", "ok"]}},
                     variants={"ok": {}, "broken": {"text_encoder.name": "hf",
                                                    "text_encoder.path": str(tmp_path / "no-such-model")}})
    runs = tmp_path / "runs"
    r = runner(["run", spec, "--runs-dir", runs])
    assert r.wait(timeout=1200) == 0, r.output()[-5000:]
    r.assert_no_leftovers()
    trials = load(f"sqlite:///{runs / 'fails' / 'optuna.db'}", "fails").trials
    by_variant = {t.params["variant"]: t for t in trials}
    assert len(trials) == 2 and set(by_variant) == {"broken", "ok"}
    broken, ok = by_variant["broken"], by_variant["ok"]
    assert broken.state == TrialState.FAIL and broken.value is None
    assert broken.user_attrs["fail_reason"].startswith("ConfigError: text_encoder.path:")
    assert ok.state == TrialState.COMPLETE
    check_finished_trial(ok, max_epochs=1)
    status = json.loads((Path(broken.user_attrs["run_dir"]) / "trial_status.json").read_text())
    assert status["state"] == "FAIL" and "Traceback" in status["traceback"]
    assert "failed 1" in r.output()


def _wait_for(url: str, name: str, ready, r, timeout: float = 1200) -> list:
    """Poll the study until ``ready(trials)``; the runner must stay alive meanwhile (its trials are gated, so it
    cannot finish before the test lets it). The timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert r.proc.poll() is None, f"the runner ended early:\n{r.output()[-4000:]}"
        try:
            trials = load(url, name).trials
        except Exception:  # noqa: BLE001 - the study may not exist yet
            trials = []
        if ready(trials):
            return trials
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for the study:\n{r.output()[-4000:]}")


def _wait_for_gate(gate: Gate, ready, runners, timeout: float = 1200) -> dict[int, int]:
    """Wait until ``ready(gate.blocked())``: trials that reported an epoch and wait for the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in runners:
            assert r.proc.poll() is None, f"a runner ended early:\n{r.output()[-4000:]}"
        blocked = gate.blocked()
        if ready(blocked):
            return blocked
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting at the gate ({gate.waiting()}):\n{runners[0].output()[-4000:]}")


def _reported(trials, numbers) -> bool:
    """Every trial in ``numbers`` is RUNNING with its intermediate values in the study."""
    by_number = {t.number: t for t in trials}
    return all(n in by_number and by_number[n].state == TrialState.RUNNING and by_number[n].intermediate_values
               for n in numbers)


def test_ctrl_c_stops_ray_and_leaves_the_trials_resumable(runner, tiny_spec, tmp_path):
    spec = tiny_spec("ctrlc", scheduler={"kind": "fifo"}, budget={"num_samples": 4, "max_epochs": 2})
    runs = tmp_path / "runs"
    url = f"sqlite:///{runs / 'ctrlc' / 'optuna.db'}"
    gate = Gate(tmp_path / "gate")
    r = runner(["run", spec, "--runs-dir", runs, *GATED], env=gate.env())
    blocked = _wait_for_gate(gate, lambda b: len(b) >= 1, [r])  # a trial waits after its first epoch
    _wait_for(url, "ctrlc", lambda ts: _reported(ts, blocked), r=r)
    os.killpg(r.proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground process group
    assert r.wait(timeout=300) == 130, r.output()[-4000:]
    r.assert_no_leftovers()
    assert "continue with --resume" in r.output()
    trials = load(url, "ctrlc").trials
    assert {n for n in blocked} <= {t.number for t in trials if t.state == TrialState.RUNNING}  # --resume continues them


def test_kill_and_resume(runner, tiny_spec, tmp_path):
    spec = tiny_spec("resume", sampler={"kind": "random", "seed": 0}, scheduler={"kind": "fifo"},
                     budget={"num_samples": 4, "max_epochs": 3})
    runs = tmp_path / "runs"
    url = f"sqlite:///{runs / 'resume' / 'optuna.db'}"
    gate = Gate(tmp_path / "gate")
    first = runner(["run", spec, "--runs-dir", runs, *GATED], env=gate.env())

    # two trials at a time; both wait after epoch 1. Let the first of them finish; the other stays mid-way, and a
    # third one starts and waits after its epoch 1 too. Then the driver is killed.
    pair = _wait_for_gate(gate, lambda b: len(b) == 2, [first])
    done, mid = sorted(pair)
    gate.release(done)
    blocked = _wait_for_gate(gate, lambda b: len(b) == 2 and done not in b, [first])
    assert mid in blocked
    _wait_for(url, "resume", lambda ts: any(t.number == done and t.state.is_finished() for t in ts)
              and _reported(ts, blocked), r=first)
    first.kill()  # SIGKILL the driver mid-study
    first.assert_no_leftovers()  # the runner's reaper stops what Ray leaves behind (dashboard/runtime-env agents)
    left = load(url, "resume").trials
    running = [t.number for t in left if t.state == TrialState.RUNNING]
    assert sorted(running) == sorted(blocked)
    left_by = {t.number: (t.user_attrs.get("runner") or {}).get("id") or UNKNOWN_RUNNER for t in left}

    refused = runner(["run", spec, "--runs-dir", runs])
    assert refused.wait(timeout=300) == 2 and "--resume" in refused.output()

    gate.open()
    resumed = runner(["run", spec, "--runs-dir", runs, "--resume", *GATED], env=gate.env())
    assert resumed.wait(timeout=1200) == 0, resumed.output()[-5000:]
    resumed.assert_no_leftovers()
    assert "resuming 2 trial(s)" in resumed.output()
    trials = load(url, "resume").trials
    assert len(trials) == 4
    assert all(t.state == TrialState.COMPLETE for t in trials), [(t.number, t.state) for t in trials]
    for t in trials:
        check_finished_trial(t, max_epochs=3)
    configs = [json.dumps([t.params, t.user_attrs["seed"]], sort_keys=True) for t in trials]
    assert len(set(configs)) == 4  # no configuration ran twice
    assert len({t.user_attrs["fingerprint"] for t in trials}) == 4
    for n in running:  # the interrupted trials were continued as the same Optuna trials, from their last.pt
        assert trials[n].user_attrs.get("adopted_from") == left_by[n]
        assert trials[n].intermediate_values[1] == pytest.approx(left[n].intermediate_values[1])


def test_two_studies_in_one_runs_folder_never_share_trial_folders(runner, tiny_spec, tmp_path):
    """The same spec against two storages, then once more after its study was deleted from the first one."""
    spec = tiny_spec("twice", sampler={"kind": "random", "seed": 0}, scheduler={"kind": "fifo"},
                     budget={"num_samples": 1, "max_epochs": 1}, resources={"cpu": 1, "max_concurrent": 1})
    runs = tmp_path / "runs"
    (runs / "twice" / "trials" / "0").mkdir(parents=True)  # a trial folder of the old layout: left alone
    urls = [f"sqlite:///{runs / 'twice' / 'optuna.db'}", f"sqlite:///{tmp_path / 'elsewhere.db'}"]
    for url in urls:
        r = runner(["run", spec, "--runs-dir", runs, "--storage", url])
        assert r.wait(timeout=1200) == 0, r.output()[-5000:]
    dirs = [load(url, "twice").trials[0].user_attrs["run_dir"] for url in urls]
    folders = [load(url, "twice").user_attrs["run_folder"] for url in urls]
    assert dirs[0] != dirs[1] and folders[0] != folders[1]
    assert all(Path(d).is_relative_to(f) for d, f in zip(dirs, folders))
    assert Path(dirs[0]).joinpath("per_query.csv").is_file() and Path(dirs[1]).joinpath("per_query.csv").is_file()

    optuna.delete_study(study_name="twice", storage=open_storage(resolve(urls[0], ".")))
    again = runner(["run", spec, "--runs-dir", runs, "--storage", urls[0]])
    assert again.wait(timeout=1200) == 0, again.output()[-5000:]
    study = load(urls[0], "twice")
    assert len(study.trials) == 1 and study.trials[0].state == TrialState.COMPLETE
    assert study.user_attrs["run_folder"] not in folders  # a fresh folder: nothing of the deleted study is reused
    assert Path(dirs[0]).joinpath("per_query.csv").is_file()  # and nothing of it was removed


def _two_runners(runner, spec, name: str, url: str, tmp_path: Path, ready) -> list:
    """Two runners of ``spec`` (a budget of 4 one-epoch trials) share the study ``name`` at ``url``; their trials
    wait at a gate until ``ready(gate.blocked())``. Both must end cleanly with the 4 trials complete, none lost,
    none duplicated; returns the trials."""
    gate = Gate(tmp_path / "gate")
    pair = [runner(["run", spec, "--runs-dir", tmp_path / "runs", "--storage", url, *GATED], env=gate.env())
            for _ in range(2)]
    _wait_for_gate(gate, ready, pair)
    gate.open()
    for r in pair:
        assert r.wait(timeout=1200) == 0, r.output()[-5000:]
    for r in pair:
        r.assert_no_leftovers()
    trials = load(url, name).trials
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]  # none lost, none duplicated
    assert all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        check_finished_trial(t, max_epochs=1)
    return trials


def test_two_runners_with_two_concurrent_trials_each_share_a_postgresql_study(runner, tiny_spec, tmp_path,
                                                                              postgres_url):
    spec = tiny_spec("pg", sampler={"kind": "random", "seed": 0}, scheduler={"kind": "fifo"},
                     budget={"num_samples": 4, "max_epochs": 1}, resources={"cpu": 1, "max_concurrent": 2})
    # the whole budget waits at the gate at once: each runner holds two trials at the same time
    trials = _two_runners(runner, spec, "pg", postgres_url, tmp_path, ready=lambda b: len(b) == 4)
    by_runner: dict[str, list] = {}
    for t in trials:
        by_runner.setdefault(t.user_attrs["runner"]["id"], []).append(t)
    assert len(by_runner) == 2  # both runners took part
    overlapping = [(a.number, b.number) for ts in by_runner.values() for a in ts for b in ts
                   if a.number < b.number and a.datetime_start < b.datetime_complete
                   and b.datetime_start < a.datetime_complete]
    assert overlapping  # a runner trained two trials at once
    cli_url = postgres_url.replace("postgresql://", "postgresql+psycopg2://")
    listed = subprocess.run([OPTUNA_CLI, "studies", "--storage", cli_url, "-f", "json"], capture_output=True,
                            text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert "pg" in [s["name"] for s in json.loads(listed.stdout)]


@pytest.mark.slow
def test_two_runners_share_one_journal_study(runner, tiny_spec, tmp_path):
    spec = tiny_spec("two", sampler={"kind": "random", "seed": 0}, scheduler={"kind": "fifo"},
                     budget={"num_samples": 4, "max_epochs": 1}, resources={"cpu": 1, "max_concurrent": 1})
    url = f"journal:{tmp_path / 'two.journal'}"
    # one trial of each runner waits at the gate: both take part
    trials = _two_runners(runner, spec, "two", url, tmp_path, ready=lambda b: len(b) == 2)
    assert len({t.user_attrs["run_dir"] for t in trials}) == 4
    assert len({t.user_attrs["runner"]["id"] for t in trials}) == 2  # both runners took part


@pytest.mark.slow
def test_joins_an_existing_ray_cluster(runner, tiny_spec, tmp_path, postgres_url):
    from studies.reaper import cluster_processes, reap

    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must stay < 107 bytes
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    try:
        started = subprocess.run([str(Path(sys.executable).parent / "ray"), "start", "--head", f"--port={port}",
                                  f"--temp-dir={ray_tmp}", "--include-dashboard=false", "--num-cpus=2",
                                  "--disable-usage-stats"], capture_output=True, text=True, env=env, timeout=300)
        assert started.returncode == 0, started.stderr[-3000:]
        spec = tiny_spec("joined", scheduler={"kind": "fifo"}, budget={"num_samples": 2, "max_epochs": 1})
        r = runner(["run", spec, "--runs-dir", tmp_path / "runs", "--storage", postgres_url,
                    "--address", f"127.0.0.1:{port}"])
        assert r.wait(timeout=1200) == 0, r.output()[-5000:]
        r.assert_no_leftovers()  # the driver started nothing of its own; the cluster stays up
        trials = load(postgres_url, "joined").trials
        assert len(trials) == 2 and all(t.state == TrialState.COMPLETE for t in trials)
        for t in trials:
            check_finished_trial(t, max_epochs=1)
    finally:  # stop the cluster this test started, by PID (found through its unique temp dir)
        procs = cluster_processes(None, ray_tmp)
        reap(procs)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert procs and not any(_alive(p) for p in procs)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # zombies are gone
    except OSError:
        return False
