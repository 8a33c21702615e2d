"""End-to-end training on SynthCaps tiny: the real CLI, the run directory contract, resume, report, failures."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from retrieval.config import TrialConfig
from retrieval.train import StopTrial, TrainingDiverged, fit


def tiny(cache_dir, **overrides):
    base = {"data.cache_dir": str(cache_dir), "train.progress": False, "train.num_threads": 1}
    base.update(overrides)
    return TrialConfig.load("synthcaps-tiny").with_overrides(base)


def test_cli_trains_synthcaps_tiny_end_to_end(tmp_path, cache_dir):
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "retrieval", "train", "--config", "synthcaps-tiny", "--out", str(out), "--quiet",
         "--set", f"data.cache_dir={cache_dir}", "--set", "fusion.kind=late"],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test mAP@10" in proc.stdout and str(out) in proc.stdout
    # run directory contract
    conf = TrialConfig.load(out / "config.yaml")
    assert conf.fusion.kind == "late"
    import yaml

    meta = yaml.safe_load((out / "config.yaml").read_text())
    assert meta["fingerprint"] == conf.fingerprint() and meta["seed"] == 0 and "version" in meta
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["complete"] and len(metrics["history"]) == conf.train.epochs
    for key in ("val_map10", "val_r1", "val_r5", "val_r10", "loss"):
        assert key in metrics["history"][0]
    assert 0.0 <= metrics["test"]["test_map10"] <= 1.0
    rows = list(csv.reader((out / "per_query.csv").open()))
    assert rows[0] == ["query", "target", "rank", "ap10"]
    assert len(rows) - 1 == metrics["extra"]["n_test_queries"] == 5 * metrics["extra"]["n_test"]
    # per-query AP agrees with the rank (one relevant item): 1/rank in the top 10, else 0
    for q, target, rank, ap in rows[1:]:
        assert float(ap) == pytest.approx(1 / int(rank) if int(rank) <= 10 else 0.0, abs=1e-6)
    mean_ap = sum(float(r[3]) for r in rows[1:]) / (len(rows) - 1)
    assert mean_ap == pytest.approx(metrics["test"]["test_map10"], abs=1e-5)
    state = torch.load(out / "best.pt", weights_only=True)
    assert any(k.startswith("audio_encoder.") for k in state)
    assert (out / "text_encoder").is_dir()


def test_cli_rejects_bad_config_before_work(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "retrieval", "train", "--config", "synthcaps-tiny", "--out",
                           str(tmp_path / "r"), "--set", "fusion.kind=early"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "fusion.kind" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


def crash_and_resume(cfg: TrialConfig, runs: Path, crash_after: int):
    """``cfg`` trained into ``runs/full`` without a break, and into ``runs/resumed`` with a crash after epoch
    ``crash_after`` and a resume; returns both results. Check them with :func:`assert_same_run`."""
    full = fit(cfg, runs / "full")

    def crash(epoch, metrics):
        if epoch == crash_after:
            raise RuntimeError(f"simulated crash after epoch {epoch}")

    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(cfg, runs / "resumed", report=crash)
    return full, fit(cfg, runs / "resumed")


def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, cache_dir):
    _, resumed = crash_and_resume(tiny(cache_dir, **{"train.epochs": 3}), tmp_path, crash_after=2)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert_same_run(tmp_path / "full", tmp_path / "resumed")


TIMES = ("train_time_s", "epoch_time_s")


def assert_same_run(a: Path, b: Path) -> None:
    """Two run folders hold the same results bit for bit: every metric but the times, per_query.csv, and the
    tensors of best.pt and last.pt."""
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    for ha, hb in zip(ma["history"], mb["history"], strict=True):
        assert {k: v for k, v in ha.items() if k not in TIMES} == {k: v for k, v in hb.items() if k not in TIMES}
    for key in ("fingerprint", "best_epoch", "val", "test", "epochs_trained", "stopped"):
        assert ma[key] == mb[key], key
    assert (a / "per_query.csv").read_bytes() == (b / "per_query.csv").read_bytes()
    for name in ("best.pt", "last.pt"):
        sa, sb = (torch.load(d / name, weights_only=True) for d in (a, b))
        sa, sb = (s["model"] if name == "last.pt" else s for s in (sa, sb))
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), name


def test_report_is_called_every_epoch_and_can_stop(tmp_path, cache_dir):
    seen = []

    def report(epoch, metrics):
        seen.append((epoch, metrics["val_map10"]))
        if epoch == 2:
            raise StopTrial

    res = fit(tiny(cache_dir, **{"train.epochs": 4}), tmp_path / "r", report=report)
    assert [e for e, _ in seen] == [1, 2]
    assert res.stopped == "stopped_by_report" and res.epochs_trained == 2
    assert (tmp_path / "r" / "per_query.csv").exists()


def test_nan_loss_fails_clearly(tmp_path, cache_dir, monkeypatch):
    from retrieval import model as model_mod

    monkeypatch.setattr(model_mod.Retriever, "loss", lambda self, *a, **k: torch.tensor(float("nan")))
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        fit(tiny(cache_dir), tmp_path / "nan")


def test_same_seed_same_result_and_patience(tmp_path, cache_dir):
    cfg = tiny(cache_dir, **{"train.epochs": 2, "fusion.kind": "mid"})
    a = fit(cfg, tmp_path / "a")
    b = fit(cfg, tmp_path / "b")
    assert a.history[-1]["loss"] == pytest.approx(b.history[-1]["loss"], rel=1e-6)
    assert a.test == b.test
    # a run dir of another config is refused instead of being mixed up
    from retrieval.config import ConfigError

    with pytest.raises(ConfigError, match="another configuration"):
        fit(cfg.with_overrides({"train.seed": 5}), tmp_path / "a")


def test_early_stopping_with_patience(tmp_path, cache_dir, monkeypatch):
    import retrieval.evaluation as evaluation

    real = evaluation.evaluate_split
    calls = []

    def flat_after_first(model, data, cfg, device):
        qm = real(model, data, cfg, device)
        calls.append(1)
        if len(calls) > 1:  # validation never improves after epoch 1
            import dataclasses

            qm = dataclasses.replace(qm, ap=qm.ap * 0.0)
        return qm

    monkeypatch.setattr(evaluation, "evaluate_split", flat_after_first)
    res = fit(tiny(cache_dir, **{"train.epochs": 6, "train.patience": 2}), tmp_path / "es")
    assert res.stopped == "early_stopping"
    assert res.epochs_trained == 3 and res.best_epoch == 1  # epochs 2 and 3 did not improve
    assert {"lr_audio", "lr_text", "lr_head"} <= set(res.history[0])
