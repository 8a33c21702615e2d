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
