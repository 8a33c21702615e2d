"""Weight averaging for evaluation (``train.weight_averaging``, :mod:`retrieval.averaging`): the EMA and SWA
averages against their formulas, BatchNorm statistics re-estimated for the averaged weights, ``best.pt`` holding the
evaluated weights, and a resumed run equal to an uninterrupted one, averaged model included."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from retrieval.averaging import WeightAveraging
from retrieval.batching import SplitData, make_audio_batch, normalise_batch
from retrieval.config import ConfigError, TrialConfig
from tests.fixtures.tiny import SAMPLE_CAPTIONS
from tests.retrieval.test_train import assert_same_run, crash_and_resume, tiny


def small(**averaging) -> TrialConfig:
    return TrialConfig.load("synthcaps-tiny").with_overrides({
        "audio_encoder.cnn.width": 4, "train.epochs": 3, "train.batch_size": 4,
        **{f"train.weight_averaging.{k}": v for k, v in averaging.items()}})


def model_and_data(cfg: TrialConfig, tmp_path):
    from retrieval.model import Retriever

    torch.manual_seed(0)
    model = Retriever(cfg, text_corpus=list(SAMPLE_CAPTIONS), artifacts_dir=tmp_path / "text_encoder")
    model.set_normalisation(-20.0, 10.0)
    rng = np.random.default_rng(0)
    feats = [rng.normal(-20.0, 10.0, size=(cfg.features.n_mels, 100 + 20 * i)).astype(np.float32) for i in range(10)]
    recs = [SimpleNamespace(captions=["c"], keywords=[], file_name=f"{i}.wav") for i in range(10)]
    return model, SplitData(SimpleNamespace(recordings=recs), feats)


def nudge(model, scale: float = 0.1) -> dict[str, torch.Tensor]:
    """A training step's stand-in: every parameter moved; returns the new parameters."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * scale)
    return {k: p.detach().clone() for k, p in model.named_parameters()}


def averaged_params(avg: WeightAveraging) -> dict[str, torch.Tensor]:
    return dict(avg.averaged.module.named_parameters())


def test_ema_is_the_exponential_moving_average_of_the_steps(tmp_path):
    cfg = small(kind="ema", decay=0.75)
    model, train = model_and_data(cfg, tmp_path)
    avg = WeightAveraging(model, cfg, train, torch.device("cpu"))
    expected = None
    for _ in range(3):
        w = nudge(model)
        avg.after_step(model)
        expected = w if expected is None else {k: 0.75 * expected[k] + 0.25 * w[k] for k in w}
    got = averaged_params(avg)
    assert all(torch.allclose(got[k], expected[k], atol=1e-6) for k in expected)
    assert avg.end_of_epoch(model, 0) is avg.averaged.module


def test_swa_averages_the_epochs_from_its_start_and_evaluates_the_model_before(tmp_path):
    cfg = small(kind="swa", last_epochs=2)  # of 3 epochs: epochs 2 and 3
    model, train = model_and_data(cfg, tmp_path)
    avg = WeightAveraging(model, cfg, train, torch.device("cpu"))
    nudge(model)
    avg.after_step(model)  # SWA ignores the steps
    assert avg.end_of_epoch(model, 0) is model
    w2 = nudge(model)
    assert avg.end_of_epoch(model, 1) is avg.averaged.module
    w3 = nudge(model)
    evaluated = avg.end_of_epoch(model, 2)
    got = dict(evaluated.named_parameters())
    assert all(torch.allclose(got[k], (w2[k] + w3[k]) / 2, atol=1e-6) for k in w2)
    assert int(avg.averaged.n_averaged) == 2


def test_batch_norm_statistics_are_those_of_the_averaged_weights(tmp_path):
    """``update_bn`` on the training recordings' centred crops: the first BatchNorm (``bn0``, over the mel bins of
    the standardised input) holds the average of the batches' means; the trained model's statistics are left as
    they were."""
    cfg = small(kind="ema", decay=0.5)
    model, train = model_and_data(cfg, tmp_path)
    before = model.audio_encoder.bn0.running_mean.clone()
    avg = WeightAveraging(model, cfg, train, torch.device("cpu"))
    nudge(model)
    avg.after_step(model)
    evaluated = avg.end_of_epoch(model, 0)
    means = []
    for start in range(0, len(train.features), cfg.train.batch_size):
        x, lengths = make_audio_batch(train.features[start:start + cfg.train.batch_size], 125, -20.0, None)
        means.append(normalise_batch(x, lengths, -20.0, 10.0).mean(dim=(0, 2)))
    assert torch.allclose(evaluated.audio_encoder.bn0.running_mean, torch.stack(means).mean(0), atol=1e-6)
    assert torch.equal(model.audio_encoder.bn0.running_mean, before)


def test_weight_averaging_config():
    base = TrialConfig.load("synthcaps-small")
    # none (the default) keeps every fingerprint, whatever its unused settings say
    assert base.with_overrides({"train.weight_averaging.decay": 0.9}).fingerprint() == base.fingerprint()
    ema = base.with_overrides({"train.weight_averaging.kind": "ema"})
    assert ema.fingerprint() != base.fingerprint()
    assert ema.with_overrides({"train.weight_averaging.decay": 0.9}).fingerprint() != ema.fingerprint()
    with pytest.raises(ConfigError, match="train.weight_averaging.decay: must be in"):
        base.with_overrides({"train.weight_averaging.kind": "ema", "train.weight_averaging.decay": 1.0})
    with pytest.raises(ConfigError, match="exactly one of"):
        base.with_overrides({"train.weight_averaging.kind": "swa"})
    with pytest.raises(ConfigError, match="exactly one of"):
        base.with_overrides({"train.weight_averaging.kind": "swa", "train.weight_averaging.start_epoch": 3,
                             "train.weight_averaging.last_epochs": 2})
    with pytest.raises(ConfigError, match="train.weight_averaging.last_epochs: must be <= train.epochs"):
        base.with_overrides({"train.weight_averaging.kind": "swa", "train.weight_averaging.last_epochs": 99})
    swa = base.with_overrides({"train.weight_averaging.kind": "swa", "train.weight_averaging.last_epochs": 5})
    assert swa.train.weight_averaging.swa_start(swa.train.epochs) == swa.train.epochs - 4


def assert_same_average(a, b) -> None:
    sa, sb = (torch.load(d / "last.pt", weights_only=True)["averaged"] for d in (a, b))
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("overrides", [
    {"train.weight_averaging.kind": "ema", "train.weight_averaging.decay": 0.7, "train.seed_streams.mode": "split"},
    {"train.weight_averaging.kind": "swa", "train.weight_averaging.start_epoch": 1},
], ids=["ema-split-streams", "swa"])
def test_a_resumed_run_with_weight_averaging_equals_an_uninterrupted_one(tmp_path, cache_dir, overrides):
    """Crash after epoch 2 of 3 and resume: the history, best.pt, last.pt (the averaged model too) and the test
    results are bit for bit those of the run without a break. best.pt holds the evaluated (averaged) weights: the
    final validation of it repeats the best epoch's."""
    cfg = tiny(cache_dir, **{"train.epochs": 3, "augment.spec.n_t": 1, "augment.gain.g_max": 3.0, **overrides})
    full, resumed = crash_and_resume(cfg, tmp_path, crash_after=2)
    assert_same_run(tmp_path / "full", tmp_path / "resumed")
    assert_same_average(tmp_path / "full", tmp_path / "resumed")
    if full.best_epoch == 3:  # best.pt is the average of the last epoch, not the weights as trained
        best = torch.load(tmp_path / "full" / "best.pt", weights_only=True)
        last = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
        average = {k.removeprefix("module."): v for k, v in last["averaged"].items() if k.startswith("module.")}
        assert all(torch.equal(best[k], average[k]) for k in best)
        assert any(not torch.equal(best[k], last["model"][k]) for k in best)
    evaluated = full.history[full.best_epoch - 1]
    assert all(full.val[k] == evaluated[k] for k in full.val)
