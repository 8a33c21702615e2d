"""Frozen-encoder output caches: equality with the encoder itself, keys, window crops, text tables, config
validation, and ``fit`` on a tiny ClothoV2-format copy with a frozen tiny PaSST (misses first, hits next)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from retrieval.config import AudioEncoderConfig, ConfigError, TextEncoderConfig, TrialConfig
from retrieval.encoders.audio import build_audio_encoder
from retrieval.encoders.cache import EncodedAudioStore, TextEmbeddingCache, state_digest
from retrieval.encoders.text import build_text_encoder

TINY = dict(name="passt", dim=32, depth=1, heads=2, max_time_patches=12, dropout=0.0)


def frozen_passt(segment_seconds: float | None = 1.0, seed: int = 0):
    torch.manual_seed(seed)
    cfg = AudioEncoderConfig.from_dict(TINY | {"frozen": True, "segment_seconds": segment_seconds})
    return build_audio_encoder(cfg, 40, frame_rate=100)


def features(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(-30, 10, size=(40, n)).astype(np.float32) for n in (250, 100, 60, 330)]


def store(tmp_path, enc, with_sequence=True, mean=-30.0, std=10.0) -> EncodedAudioStore:
    return EncodedAudioStore(tmp_path, enc, frontend_key="fe", normalisation=(mean, std),
                             with_sequence=with_sequence)


def test_evaluation_view_equals_the_encoder_and_is_cached(tmp_path):
    from retrieval.batching import make_audio_batch

    enc, feats = frozen_passt(), features()
    s = store(tmp_path, enc)
    split = s.encode(feats, eval_frames=300, train_frames=200, batch_size=3)
    assert (s.stats.hits, s.stats.misses) == (0, 4)
    # reference: what evaluation feeds the encoder (centre crop / zero padding, standardised, padding = 0)
    x, lengths = make_audio_batch(feats, 300, -30.0, None)
    with torch.no_grad():
        ref = enc((x + 30.0) / 10.0, lengths)
    out = split.eval_batch(0, 4)
    torch.testing.assert_close(out.pooled, ref.pooled, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.sequence[out.mask], ref.sequence[ref.mask], rtol=1e-5, atol=1e-5)
    assert torch.equal(out.mask, ref.mask)

    again = store(tmp_path, frozen_passt())  # a new process: same weights, same key
    split2 = again.encode(feats, eval_frames=300, train_frames=200, batch_size=3)
    assert (again.stats.hits, again.stats.misses) == (4, 0) and again.key == s.key
    assert torch.equal(split2.eval_pooled, split.eval_pooled) and torch.equal(split2.win_pooled, split.win_pooled)


def test_keys_follow_weights_normalisation_and_views(tmp_path):
    feats = features()
    base = store(tmp_path, frozen_passt())
    assert store(tmp_path, frozen_passt(seed=1)).key != base.key  # other weights
    assert store(tmp_path, frozen_passt(), mean=0.0, std=1.0).key != base.key  # other encoder input
    assert state_digest(frozen_passt()) == state_digest(frozen_passt())
    cnn = build_audio_encoder(AudioEncoderConfig.from_dict({"name": "cnn-small", "cnn": {"width": 4}}), 40)
    # (0-dim BN counters too)
    digest = state_digest(cnn)
    cnn.conv_block1.bn1.num_batches_tracked += 1
    assert state_digest(cnn) != digest
    base.encode(feats, eval_frames=300, train_frames=200, batch_size=8)
    other_view = store(tmp_path, frozen_passt())
    other_view.encode(feats, eval_frames=200, train_frames=200, batch_size=8)
    assert other_view.stats.misses == 4  # another evaluation crop is another entry
    pooled_only = store(tmp_path, frozen_passt(), with_sequence=False)
    pooled_only.encode(feats, eval_frames=300, train_frames=200, batch_size=8)
    assert pooled_only.stats.hits == 4  # entries with sequences serve pooled-only requests


def test_corrupt_entries_are_recomputed(tmp_path):
    feats = features()[:1]
    s = store(tmp_path, frozen_passt())
    s.encode(feats, eval_frames=300, train_frames=200, batch_size=8)
    entry = next(s.dir.rglob("*.npz"))
    entry.write_bytes(b"garbage")
    s2 = store(tmp_path, frozen_passt())
    s2.encode(feats, eval_frames=300, train_frames=200, batch_size=8)
    assert s2.stats.misses == 1 and np.load(entry)["eval_pooled"].shape == (32,)


def test_training_crops_average_consecutive_windows(tmp_path):
    enc, feats = frozen_passt(), features()
    split = store(tmp_path, enc).encode(feats, eval_frames=300, train_frames=200, batch_size=8)
    # 100-frame windows: 250 -> 3 (the last holds 50 frames), 100 -> 1, 60 -> 1, 330 -> 4 (30 >= 16 frames)
    assert split.n_windows.tolist() == [3, 1, 1, 4] and split.windows_per_crop == 2
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    starts = split.crop_starts([0, 1, 3], rng_a)
    out = split.train_batch([0, 1, 3], rng_b)
    x3 = torch.from_numpy(feats[3])
    padded = torch.nn.functional.pad((x3 + 30.0) / 10.0, (0, 70))  # 400 frames, zeros after the clip
    with torch.no_grad():  # naive reference for recording 3: its two windows through the bare encoder
        s3 = int(starts[2])
        ref = torch.stack([enc.inner(padded[None, :, k * 100:(k + 1) * 100],
                                     torch.tensor([min(100, 330 - k * 100)])).pooled[0]
                           for k in (s3, s3 + 1)]).mean(0)
    torch.testing.assert_close(out.pooled[2], ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.pooled[1], split.win_pooled[1, 0])  # one window: nothing to average
    assert 0 <= starts[0] <= 1 and starts[1] == 0 and 0 <= starts[2] <= 2
    assert out.mask[1, out.mask.shape[1] // 2:].sum() == 0  # the missing second window is masked out
    draws = {int(split.crop_starts([3], np.random.default_rng(s))[0]) for s in range(40)}
    assert draws == {0, 1, 2}  # every start window of recording 3 is reachable


def test_text_table_equals_the_encoder_and_is_cached(tmp_path):
    corpus = ["a dog barks", "rain falls on a roof", "birds sing", "a car passes by"] * 3
    cfg = TextEncoderConfig(hidden=32, layers=1, heads=2, vocab_size=120, frozen=True)
    torch.manual_seed(0)
    enc = build_text_encoder(cfg, corpus=corpus)
    cache = TextEmbeddingCache(tmp_path, enc)
    table = cache.table(corpus)
    assert set(table) == set(corpus) and (cache.stats.hits, cache.stats.misses) == (0, 1)
    with torch.no_grad():
        ref = enc.encode(["birds sing"])[0]
    torch.testing.assert_close(table["birds sing"], ref, rtol=1e-5, atol=1e-5)
    again = TextEmbeddingCache(tmp_path, enc)
    table2 = again.table(reversed(corpus))
    assert (again.stats.hits, again.stats.misses) == (1, 0) and torch.equal(table2["a dog barks"],
                                                                         table["a dog barks"])


def test_retriever_uses_the_table_and_embeds_unknown_texts_on_the_fly():
    from retrieval.model import Retriever

    cfg = TrialConfig.load("synthcaps-tiny").with_overrides({"text_encoder.frozen": True})
    torch.manual_seed(0)
    model = Retriever(cfg, text_corpus=["a dog barks", "rain falls"] * 5).eval()
    marker = torch.full((model.text_encoder.out_dim,), 0.5)
    model.set_text_table({"a dog barks": marker})
    emb = model.embed_texts(["a dog barks", "a dog barks loudly"])  # the second: an augmented caption
    assert torch.equal(emb[0], marker)
    with torch.no_grad():
        torch.testing.assert_close(emb[1], model.text_encoder.encode(["a dog barks loudly"])[0])
    trainable = Retriever(TrialConfig.load("synthcaps-tiny"), text_corpus=["a b"] * 5)
    with pytest.raises(ValueError, match="frozen"):
        trainable.set_text_table({"a": marker})


@pytest.mark.parametrize("key, value", [("augment.gain.g_max", 3.0), ("augment.spec.n_t", 2),
                                        ("augment.mixstyle.p", 0.5)])
def test_input_augmentations_are_refused_with_a_cached_frozen_encoder(key, value):
    cfg = TrialConfig.load("synthcaps-tiny")
    with pytest.raises(ConfigError) as err:
        cfg.with_overrides({"audio_encoder.frozen": True, key: value})
    assert str(err.value).startswith(key) and "audio_encoder.cache=false" in str(err.value)
    cfg.with_overrides({"audio_encoder.frozen": True, "audio_encoder.cache": False, key: value})  # allowed
    cfg.with_overrides({key: value})  # a trainable encoder: allowed


# --------------------------------------------------------------------------------------------- fit, end to end
@pytest.fixture(scope="module")
def clotho_copy(tmp_path_factory) -> Path:
    """A tiny ClothoV2-format folder (SynthCaps tiny writes exactly that layout), read with the Clotho loader."""
    from retrieval.data.loading import resolve_data_root

    cache = tmp_path_factory.mktemp("synth")
    return resolve_data_root(TrialConfig.load("synthcaps-tiny").with_overrides({"data.cache_dir": str(cache)}))


def frozen_passt_config(root: Path, cache: Path, checkpoint: Path, **extra) -> TrialConfig:
    return TrialConfig.load("synthcaps-tiny").with_overrides({
        "data.dataset": "clotho", "data.root": str(root), "data.cache_dir": str(cache), "train.progress": False,
        "train.epochs": 2, "features.kind": "passt", "features.sample_rate": 16000, "features.n_fft": 512,
        "features.win_length": 400, "features.hop_length": 320, "features.n_mels": 32, "features.f_max": 7500.0,
        "features.train_seconds": 4.0, "features.eval_seconds": 6.0,
        "audio_encoder.name": "passt", "audio_encoder.dim": 32, "audio_encoder.depth": 1, "audio_encoder.heads": 2,
        "audio_encoder.max_time_patches": 9, "audio_encoder.segment_seconds": 2.0, "audio_encoder.frozen": True,
        "audio_encoder.checkpoint": str(checkpoint), "text_encoder.frozen": True, **extra})


@pytest.fixture(scope="module")
def passt_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(42)
    enc = build_audio_encoder(AudioEncoderConfig.from_dict(TINY | {"max_time_patches": 9}), 32)
    path = tmp_path_factory.mktemp("weights") / "tiny-passt.pt"
    torch.save(enc.state_dict(), path)
    return path


def test_fit_with_a_frozen_passt_fills_the_cache_then_hits_it(clotho_copy, passt_checkpoint, tmp_path):
    from retrieval.evaluation import evaluate_split, load_run_model
    from retrieval.data.loading import feature_cache, load_split

    cfg = frozen_passt_config(clotho_copy, tmp_path / "cache", passt_checkpoint)
    first = fit_run(cfg, tmp_path / "run1")
    enc = first.extra["encoder_cache"]
    n_rec = first.extra["n_train"] + first.extra["n_val"] + first.extra["n_test"]
    assert enc["audio"]["misses"] == n_rec and enc["audio"]["hits"] == 0
    assert enc["text"] == {**enc["text"], "hits": 0, "misses": 1}
    second = fit_run(cfg.with_overrides({"optim.lr_head": 1e-3}), tmp_path / "run2")  # the next trial
    enc2 = second.extra["encoder_cache"]
    assert enc2["audio"]["hits"] == n_rec and enc2["audio"]["misses"] == 0 and enc2["text"]["hits"] == 1
    stored = json.loads((tmp_path / "run2" / "metrics.json").read_text())
    assert stored["extra"]["encoder_cache"]["audio"]["hits"] == n_rec
    assert all(p.requires_grad is False for n, p in _model_params(tmp_path / "run2") if "encoder" in n)

    # evaluation from the cache equals evaluation through the encoder (the run's best checkpoint, no cache)
    run_cfg, model = load_run_model(tmp_path / "run2")
    model.set_normalisation(0.0, 1.0)
    val = load_split(run_cfg, clotho_copy, run_cfg.data.val_split, feature_cache(run_cfg))
    uncached = evaluate_split(model, val, run_cfg, torch.device("cpu")).summary()
    assert uncached["map10"] == pytest.approx(second.val["val_map10"], abs=1e-6)


def _model_params(run_dir: Path):
    from retrieval.evaluation import load_run_model

    _, model = load_run_model(run_dir)
    return list(model.named_parameters())


def fit_run(cfg: TrialConfig, run_dir: Path):
    from retrieval.train import fit

    torch.set_num_threads(1)
    return fit(cfg, run_dir)


@pytest.mark.slow  # four short fit runs, about 30 s
def test_frozen_cache_speed_reports_every_variant(clotho_copy, passt_checkpoint, tmp_path):
    from benchmarks.train_speed import frozen_cache_speed, frozen_markdown

    cfg = frozen_passt_config(clotho_copy, tmp_path / "unused", passt_checkpoint)
    res = frozen_cache_speed(cfg, epochs=1, work_dir=tmp_path / "bench")
    v = res["variants"]
    assert set(v) == {"trainable", "frozen", "frozen_cached_cold", "frozen_cached_warm"}
    assert v["frozen_cached_cold"]["encoder_cache"]["audio"]["misses"] > 0
    assert v["frozen_cached_warm"]["encoder_cache"]["audio"]["misses"] == 0
    assert "audio" not in v["frozen"]["encoder_cache"] and all(x["epoch_s"] > 0 for x in v.values())
    assert res["speedup_cached_vs_uncached"] > 0 and "frozen + cached vs frozen" in frozen_markdown(res)
