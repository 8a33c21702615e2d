"""Fine-tuning from a finished run (``train.init_from``): weights, tiny-bert vocabulary, architecture checks."""

from __future__ import annotations

import pytest
import torch

from retrieval.config import ConfigError, TrialConfig
from retrieval.train import fit


def tiny(cache_dir, **overrides):
    base = {"data.cache_dir": str(cache_dir), "train.progress": False, "train.num_threads": 1, "train.epochs": 1}
    base.update(overrides)
    return TrialConfig.load("synthcaps-tiny").with_overrides(base)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("pre") / "run"
    fit(tiny(cache_dir, **{"fusion.kind": "late"}), out)
    return out


def test_fine_tuning_starts_from_the_pretrained_weights_and_vocabulary(tmp_path, cache_dir, pretrained):
    # learning rates 0: the trainable parameters must stay exactly the pre-trained ones (batch-norm running
    # statistics are buffers and do move in training, so only parameters are compared)
    cfg = tiny(cache_dir, **{"fusion.kind": "late", "train.init_from": str(pretrained), "train.seed": 1,
                             "optim.lr_audio": 0.0, "optim.lr_text": 0.0, "optim.lr_head": 0.0})
    out = tmp_path / "ft"
    fit(cfg, out)
    src = torch.load(pretrained / "best.pt", weights_only=True)
    new = torch.load(out / "best.pt", weights_only=True)
    from retrieval.model import Retriever

    names = {n for n, _ in Retriever(cfg, text_corpus=["a b c"] * 50).named_parameters()}
    assert names and names <= set(src)
    for n in names:
        assert torch.equal(src[n], new[n]), n
    # the tokenizer (tiny-bert's vocabulary) is the pre-trained run's, byte for byte
    files = [f for f in (pretrained / "text_encoder").rglob("*") if f.is_file()]
    assert files
    for f in files:
        rel = f.relative_to(pretrained / "text_encoder")
        assert (out / "text_encoder" / rel).read_bytes() == f.read_bytes(), rel
    # a model from scratch with the same seed differs
    scratch = tmp_path / "scratch"
    fit(cfg.with_overrides({"train.init_from": None}), scratch)
    other = torch.load(scratch / "best.pt", weights_only=True)
    assert any(not torch.equal(other[n], src[n]) for n in names)


def test_init_from_refuses_another_architecture(tmp_path, cache_dir, pretrained):
    cfg = tiny(cache_dir, **{"fusion.kind": "late", "train.init_from": str(pretrained), "audio_encoder.width": 8})
    with pytest.raises(ConfigError, match=r"train.init_from: .*shape mismatch"):
        fit(cfg, tmp_path / "bad")


def test_init_from_missing_file_names_it(tmp_path, cache_dir):
    cfg = tiny(cache_dir, **{"train.init_from": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError, match=r"train.init_from: .*nowhere not found"):
        fit(cfg, tmp_path / "bad")


def test_an_old_format_run_folder_resumes_and_serves_init_from(tmp_path, cache_dir, monkeypatch):
    """Run folders written before ``audio_encoder`` had subsections hold a flat ``audio_encoder`` in config.yaml:
    ``--config RUN/config.yaml`` + resume continues them exactly, and they serve as ``train.init_from``."""
    import yaml

    from retrieval.evaluation import load_run_model

    from .test_config_compat import old_layout
    from .test_train import assert_same_run

    cfg = tiny(cache_dir, **{"train.epochs": 2, "fusion.kind": "late", "audio_encoder.width": 8})
    fit(cfg, tmp_path / "full")

    def crash(epoch, metrics):
        raise RuntimeError("simulated crash after epoch 1")

    old = tmp_path / "old"
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(cfg, old, report=crash)

    def write_old_config() -> None:
        meta = yaml.safe_load((old / "config.yaml").read_text())
        meta["config"] = old_layout(meta["config"])
        assert "width" in meta["config"]["audio_encoder"] and "cnn" not in meta["config"]["audio_encoder"]
        (old / "config.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))

    write_old_config()
    loaded = TrialConfig.load(old / "config.yaml")
    assert loaded == cfg and loaded.fingerprint() == yaml.safe_load((old / "config.yaml").read_text())["fingerprint"]
    import retrieval.train as train_mod

    trained = []
    real = train_mod.train_one_epoch
    monkeypatch.setattr(train_mod, "train_one_epoch", lambda *a, **k: trained.append(a[-1]) or real(*a, **k))
    resumed = fit(loaded, old)  # last.pt's fingerprint matches: resumed after epoch 1, not refused
    assert trained == [1] and [h["epoch"] for h in resumed.history] == [1, 2]
    monkeypatch.undo()
    assert_same_run(tmp_path / "full", old)

    write_old_config()  # a finished run of the old code
    run_cfg, model = load_run_model(old)
    assert run_cfg == cfg and model.audio_encoder.conv_block1.conv1.out_channels == 8
    ft = tiny(cache_dir, **{"fusion.kind": "late", "audio_encoder.width": 8, "train.init_from": str(old),
                            "optim.lr_audio": 0.0, "optim.lr_text": 0.0, "optim.lr_head": 0.0})
    fit(ft, tmp_path / "ft")
    src = torch.load(old / "best.pt", weights_only=True)
    new = torch.load(tmp_path / "ft" / "best.pt", weights_only=True)
    assert all(torch.equal(src[n], new[n]) for n, _ in model.named_parameters())
