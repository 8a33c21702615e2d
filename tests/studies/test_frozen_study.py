"""A real study (Ray Tune + Optuna) on a tiny ClothoV2-format copy with a frozen, pre-trained (saved) PaSST: the first
trial computes the encoder outputs into the cache, the next one only reads them (issue: frozen-encoder caching)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import torch
import yaml

from retrieval.config import AudioEncoderConfig, TrialConfig
from retrieval.encoders.audio import build_audio_encoder

PASST = dict(name="passt", dim=32, depth=1, heads=2, max_time_patches=9, dropout=0.0)


def test_a_study_with_a_frozen_passt_reuses_the_cached_encoder_outputs(runner, tmp_path, cache_dir):
    from retrieval.data.loading import resolve_data_root

    # a ClothoV2-format folder (SynthCaps tiny is written in exactly that layout), read with the Clotho loader
    root = resolve_data_root(TrialConfig.load("synthcaps-tiny").with_overrides({"data.cache_dir": str(cache_dir)}))
    torch.manual_seed(0)
    checkpoint = tmp_path / "tiny-passt.pt"
    torch.save(build_audio_encoder(AudioEncoderConfig.from_dict(PASST), 32).state_dict(), checkpoint)
    feature_cache = tmp_path / "cache"
    spec = {
        "name": "frozen",
        "base": {"extends": "synthcaps-tiny",
                 "data": {"dataset": "clotho", "root": str(root), "cache_dir": str(feature_cache)},
                 "features": {"kind": "passt", "sample_rate": 16000, "n_fft": 512, "win_length": 400,
                              "hop_length": 320, "n_mels": 32, "f_max": 7500.0, "train_seconds": 4.0,
                              "eval_seconds": 6.0},
                 "audio_encoder": {**PASST, "segment_seconds": 2.0, "frozen": True, "checkpoint": str(checkpoint)},
                 "text_encoder": {"frozen": True}},
        "space": {"optim.lr_head": {"categorical": [0.001, 0.003]}},
        "sampler": {"kind": "grid"},
        "scheduler": {"kind": "fifo"},
        "budget": {"num_samples": None, "max_epochs": 2},
        "resources": {"cpu": 1, "max_concurrent": 1},  # one after the other: the second trial finds the cache
    }
    path = tmp_path / "frozen.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    runs = tmp_path / "runs"
    r = runner(["run", path, "--runs-dir", runs])
    assert r.wait(timeout=1200) == 0, r.output()[-5000:]
    r.assert_no_leftovers()

    study = optuna.load_study(study_name="frozen", storage=f"sqlite:///{runs / 'frozen' / 'optuna.db'}")
    trials = sorted(study.trials, key=lambda t: t.number)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    caches = []
    for t in trials:
        metrics = json.loads((Path(t.user_attrs["run_dir"]) / "metrics.json").read_text())
        assert metrics["complete"] and len(metrics["history"]) == 2
        caches.append((metrics["extra"]["encoder_cache"],
                       metrics["extra"]["n_train"] + metrics["extra"]["n_val"] + metrics["extra"]["n_test"]))
    (first, n), (second, n2) = caches
    assert n == n2 > 0
    assert first["audio"]["misses"] == n and first["audio"]["hits"] == 0      # computed once ...
    assert second["audio"]["hits"] == n and second["audio"]["misses"] == 0    # ... then only read
    assert second["text"]["hits"] >= 1 and second["text"]["misses"] == 0
    # the study learnt something with the encoder frozen: both trials have a finite objective
    assert all(0.0 <= t.value <= 1.0 for t in trials)
