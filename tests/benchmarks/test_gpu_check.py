"""``python -m benchmarks gpu_check``: the CPU short version runs (what CI keeps working), the comparison can fail,
and ``--device cuda`` without CUDA is one ``error:`` line."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import gpu_check


def _run_fields(r: dict) -> dict:
    return {k: r[k] for k in ("first_epoch_loss", "val_map10", "test_map10", "train_s_per_epoch", "losses")}


def test_cpu_quick_check_runs_and_records_every_field(tmp_path, cache_dir):
    payload = gpu_check.run("cpu", quick=True, cache_dir=str(cache_dir), out_dir=tmp_path, study=False, threads=1,
                            progress=False)
    saved = json.loads((tmp_path / "gpu_check_cpu_quick.json").read_text())
    assert saved["ok"] is True and payload["ok"] is True
    assert saved["device"] == "cpu" and saved["device_name"] == gpu_check.cpu_model() and saved["device_name"]
    assert saved["quick"] is True and saved["epochs"] == 1 and saved["amp_active"] is False
    assert saved["tolerance"] == gpu_check.CPU_TOLERANCE and saved["study"] is None
    assert [r["name"] for r in saved["runs"]] == [r.name for r in gpu_check.QUICK_RUNS]
    covered = {(r["audio_encoder"], r["text_encoder"], r["fusion"]) for r in saved["runs"]}
    assert covered == {(r.audio, r.text, r.fusion) for r in gpu_check.QUICK_RUNS}
    for r in saved["runs"]:
        dev, ref, cmp_ = r["device_run"], r["reference_run"], r["comparison"]
        # fit's own record of where it trained, and the probe of the training loop's autocast context
        assert dev["device"] == ref["device"] == "cpu" and dev["amp"] is False and dev["autocast_dtype"] == "float32"
        assert dev["peak_memory_bytes"] is None and dev["epochs"] == 1 and len(dev["train_s"]) == 1
        # the CPU is bit-reproducible: the determinism check holds exactly
        assert {k: v for k, v in _run_fields(dev).items() if k != "train_s_per_epoch"} == \
            {k: v for k, v in _run_fields(ref).items() if k != "train_s_per_epoch"}
        assert cmp_["first_epoch_loss_rel"] == cmp_["val_map10_abs"] == cmp_["test_map10_abs"] == 0.0
        assert cmp_["within_tolerance"] is True and cmp_["speed_ratio"] > 0
        assert 0.0 <= dev["val_map10"] <= 1.0 and dev["first_epoch_loss"] > 0
    md = (tmp_path / "gpu_check_cpu_quick.md").read_text()
    assert md.startswith(f"# gpu_check: {saved['device_name']} (cpu)") and "**OK**" in md
    assert all(r.name in md for r in gpu_check.QUICK_RUNS)
    header = next(line for line in md.splitlines() if line.startswith("| run |"))
    assert "| 1st-epoch loss, cpu | cpu again |" in header and "{" not in header


def _fake_run(loss: float, val: float, test: float, seconds: float = 1.0) -> dict:
    return {"first_epoch_loss": loss, "val_map10": val, "test_map10": test, "train_s_per_epoch": seconds,
            "losses": [loss]}


def test_comparison_flags_a_run_outside_the_gpu_tolerance():
    ref = _fake_run(3.0, 0.20, 0.18, seconds=10.0)
    within = gpu_check.compare(_fake_run(3.03, 0.23, 0.16, seconds=2.0), ref, gpu_check.GPU_TOLERANCE)
    assert within["within_tolerance"] is True and within["speed_ratio"] == pytest.approx(5.0)
    assert within["first_epoch_loss_rel"] == pytest.approx(0.01)
    assert not gpu_check.compare(_fake_run(3.09, 0.20, 0.18), ref, gpu_check.GPU_TOLERANCE)["within_tolerance"]
    assert not gpu_check.compare(_fake_run(3.0, 0.27, 0.18), ref, gpu_check.GPU_TOLERANCE)["within_tolerance"]
    assert not gpu_check.compare(_fake_run(3.0, 0.20, 0.10), ref, gpu_check.GPU_TOLERANCE)["within_tolerance"]
    nan = _fake_run(3.0, 0.20, 0.18) | {"losses": [3.0, float("nan")]}
    assert not gpu_check.compare(nan, ref, gpu_check.GPU_TOLERANCE)["within_tolerance"]
    # on the CPU any difference at all is a failure
    assert not gpu_check.compare(_fake_run(3.0 + 1e-9, 0.20, 0.18), ref, gpu_check.CPU_TOLERANCE)["within_tolerance"]


def test_cuda_without_a_cuda_device_is_one_error_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = gpu_check.main(["--device", "cuda", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: --device cuda: no CUDA device is available")
    assert not list(tmp_path.iterdir())  # nothing written


def test_bad_options_are_one_error_line(capsys, tmp_path):
    assert gpu_check.main(["--device", "cpu", "--epochs", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "error: --epochs: must be >= 1, got 0\n"


@pytest.mark.slow
def test_cpu_quick_check_with_the_study(tmp_path, cache_dir):
    """The whole CPU short version, with the 2-trial study through the real runner (Ray Tune + Optuna)."""
    payload = gpu_check.run("cpu", quick=True, cache_dir=str(cache_dir), out_dir=tmp_path, threads=1, progress=False)
    study = payload["study"]
    assert payload["ok"] is True and study["ok"] is True
    assert study["resources"] == {"cpu": 1, "gpu": 0, "max_concurrent": 2} and study["complete"] == 2
    assert sorted(t["params"]["fusion.kind"] for t in study["trials"]) == ["late", "none"]
    assert all(t["state"] == "COMPLETE" and t["device"] == "cpu" and t["amp"] is False
               and 0.0 <= t["value"] <= 1.0 for t in study["trials"])
    assert "## Study" in (tmp_path / "gpu_check_cpu_quick.md").read_text()
