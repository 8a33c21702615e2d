"""Training on real-format data and combinations, text augmentation from files in `fit`, config lists, devices."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pytest
import torch

from retrieval.config import ConfigError, TrialConfig, parse_override
from tests.fixtures.tiny import write_tiny_audiocaps, write_tiny_clotho, write_tiny_wavcaps
from retrieval.train import fit


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("formats")
    return {"clotho": write_tiny_clotho(base / "clotho"), "audiocaps": write_tiny_audiocaps(base / "audiocaps"),
            "wavcaps": write_tiny_wavcaps(base / "wavcaps")}


def combo(roots, cache_dir, **overrides):
    base = {"data.dataset": "clotho", "data.root": str(roots["clotho"]),
            "data.train_on": ["clotho", "audiocaps", "wavcaps"],
            "data.audiocaps.root": str(roots["audiocaps"]), "data.wavcaps.root": str(roots["wavcaps"]),
            "data.max_train_items": 4, "data.cache_dir": str(cache_dir), "train.epochs": 1, "train.batch_size": 4,
            "train.progress": False, "train.num_threads": 1}
    base.update(overrides)
    return TrialConfig.load("synthcaps-tiny").with_overrides(base)


# ---------------------------------------------------------------------------------------------- config
def test_train_on_lists_round_trip_and_name_the_key():
    cfg = TrialConfig.from_dict({"data": {"dataset": "clotho", "root": "/c", "train_on": ["clotho", "audiocaps"],
                                          "audiocaps": {"root": "/a"}}})
    assert cfg.data.train_on == ("clotho", "audiocaps") and cfg.data.training_sets == ("clotho", "audiocaps")
    raw = cfg.to_dict()
    assert raw["data"]["train_on"] == ["clotho", "audiocaps"]  # plain lists in config.yaml
    assert TrialConfig.from_dict(raw) == cfg and TrialConfig.from_dict(raw).fingerprint() == cfg.fingerprint()
    assert cfg.fingerprint() != cfg.with_overrides({"data.train_on": ["audiocaps", "clotho"]}).fingerprint()
    key, value = parse_override("data.train_on=[clotho,audiocaps]")
    assert cfg.with_overrides({key: value}) == cfg
    assert cfg.with_overrides({"data.train_on": "clotho, audiocaps"}) == cfg  # comma-separated string
    for bad, where in [({"data.train_on": ["clotho", "nope"]}, "data.train_on[1]:"),
                       ({"data.train_on": 3}, "data.train_on:"),
                       ({"data.train_on": ["clotho", "clotho"]}, "data.train_on:"),
                       ({"data.train_on": ["clotho", "wavcaps"]}, "data.wavcaps.root:"),
                       ({"data.dataset": "wavcaps"}, "data.dataset:")]:
        with pytest.raises(ConfigError) as err:
            cfg.with_overrides(bad)
        assert str(err.value).startswith(where), str(err.value)


def test_study_spec_accepts_a_train_on_override(roots):
    from studies.spec import load_spec

    spec = {"name": "t", "base": "synthcaps-tiny", "space": {"optim.lr_audio": {"loguniform": [1e-4, 1e-2]}},
            "budget": {"num_samples": 2, "max_epochs": 1}}
    sets = [f"base.data.dataset=clotho", f"base.data.root={roots['clotho']}",
            f"base.data.audiocaps.root={roots['audiocaps']}", "base.data.train_on=[clotho,audiocaps]"]
    loaded = load_spec(spec, sets)
    assert loaded.base.data.train_on == ("clotho", "audiocaps")
    cfg = loaded.trial_config({"optim.lr_audio": 1e-3}, 0)
    assert cfg.data.train_on == ("clotho", "audiocaps")


# ---------------------------------------------------------------------------------------------- fit
def test_fit_on_a_combination_evaluates_every_benchmark(tmp_path, roots, cache_dir):
    res = fit(combo(roots, cache_dir), tmp_path / "run")
    # 4 clips of each training set (max_train_items per data set); WavCaps has no test split
    assert res.extra["n_train_per_dataset"] == {"clotho": 4, "audiocaps": 4, "wavcaps": 4}
    assert res.extra["n_test_per_dataset"] == {"clotho": 3, "audiocaps": 2}
    for name in ("clotho", "audiocaps"):
        for m in ("map10", "r1", "r5", "r10"):
            assert 0.0 <= res.test[f"test_{name}_{m}"] <= 1.0
    assert not any(k.startswith("test_wavcaps") for k in res.test)
    assert res.test["test_clotho_map10"] == res.test["test_map10"]  # the primary data set
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["test_audiocaps_map10"] == res.test["test_audiocaps_map10"]
    # per_query.csv stays the primary test split; per_query_audiocaps.csv holds AudioCaps' 2 x 5 captions
    rows = list(csv.reader((tmp_path / "run" / "per_query.csv").open()))
    assert len(rows) - 1 == 15 and rows[1][1] == "Bird's song at dawn.wav"
    ac = list(csv.reader((tmp_path / "run" / "per_query_audiocaps.csv").open()))
    assert ac[0] == ["query", "target", "rank", "ap10"] and len(ac) - 1 == 10
    assert ac[1][1].startswith("audio/test/")
    mean_ap = sum(float(r[3]) for r in ac[1:]) / 10
    assert mean_ap == pytest.approx(res.test["test_audiocaps_map10"], abs=1e-5)
    assert not (tmp_path / "run" / "per_query_wavcaps.csv").exists()


def test_fit_with_audiocaps_as_primary_uses_its_split_names(tmp_path, roots, cache_dir):
    cfg = combo(roots, cache_dir, **{"data.dataset": "audiocaps", "data.root": str(roots["audiocaps"]),
                                     "data.train_on": []})
    res = fit(cfg, tmp_path / "run")
    assert res.extra["n_train"] == 4 and res.extra["n_val"] == 2 and res.extra["n_test"] == 2
    assert not (tmp_path / "run" / "per_query_audiocaps.csv").exists()
    assert "test_audiocaps_map10" not in res.test  # single data set: the contract keys only


def test_missing_root_of_a_training_set_fails_before_work(tmp_path, roots, cache_dir):
    cfg = combo(roots, cache_dir, **{"data.wavcaps.root": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError, match=r"data.wavcaps.root: .*nowhere.* is not a folder"):
        fit(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is not installed")
def test_resume_is_bit_identical_with_text_augmentation_from_files(tmp_path, roots, cache_dir):
    names = ["Bird&#39;s song at dawn.wav", "café crème.wav", "rain on a tin roof.wav", "development_00.wav"]
    var = tmp_path / "variations.json"
    var.write_text(json.dumps({n: [f"variation {i} of {n}" for i in range(3)] for n in names}))
    cfg = combo(roots, cache_dir, **{"train.epochs": 3, "augment.bt.p_bt": 0.5, "augment.variations.file": str(var),
                                     "augment.variations.p": 0.5, "data.train_on": ["clotho", "audiocaps"]})
    from .test_train import assert_same_run, crash_and_resume

    full, _ = crash_and_resume(cfg, tmp_path, crash_after=2)
    stats = full.extra["text_augment"]
    assert stats["variation"] > 0 and stats["back_translation"] > 0
    assert list((cache_dir / "backtranslation").glob("apertium-eng-spa-eng-*.json"))
    assert_same_run(tmp_path / "full", tmp_path / "resumed")
    # the augmentation is really in the loop: without it the first epoch's loss differs
    plain = fit(combo(roots, cache_dir, **{"data.train_on": ["clotho", "audiocaps"]}), tmp_path / "plain")
    assert plain.history[0]["loss"] != full.history[0]["loss"]


# ---------------------------------------------------------------------------------------------- devices
def test_cli_device_flag(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "retrieval", "train", "--config", "synthcaps-tiny", "--out",
                           str(tmp_path / "r"), "--device", "tpu"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--device" in proc.stderr
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the error path cannot be checked")
    proc = subprocess.run([sys.executable, "-m", "retrieval", "train", "--config", "synthcaps-tiny", "--out",
                           str(tmp_path / "r"), "--device", "cuda", "--quiet"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and "train.device" in proc.stderr and "CUDA" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "retrieval", "evaluate", "--run", str(tmp_path / "r"),
                           "--submission", str(tmp_path / "s.csv"), "--device", "cuda"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr


def test_amp_is_a_config_key_and_ignored_on_cpu():
    cfg = TrialConfig.load("synthcaps-tiny")
    assert cfg.train.amp is True and cfg.train.device == "cpu"
    assert cfg.with_overrides({"train.amp": False}).fingerprint() != cfg.fingerprint()
    with pytest.raises(ConfigError, match="train.amp"):
        cfg.with_overrides({"train.amp": "yes"})
