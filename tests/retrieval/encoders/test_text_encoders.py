"""Contract tests for every registered text encoder, plus tiny-bert's tokenizer and the offline ``hf`` loader.

The contract tests are parametrized over ``TEXT_ENCODERS.names()``. ``hf`` is built from a small random BERT saved in
a temporary folder; any other (new) entry is built with a small ``TextEncoderConfig`` and the test corpus.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import random
from pathlib import Path

import pytest
import torch

from retrieval.config import ConfigError, TextEncoderConfig
from retrieval.encoders import TEXT_ENCODERS, build_text_encoder, preprocess_caption
from tests.fixtures.tiny import SAMPLE_CAPTIONS
from retrieval.encoders.text import SPECIAL_TOKENS, learn_wordpiece_vocab

TEXT = TEXT_ENCODERS.names()

CORPUS = list(SAMPLE_CAPTIONS) * 3



def small_cfg(**kw) -> TextEncoderConfig:
    base = dict(name="tiny-bert", hidden=32, layers=1, heads=2, vocab_size=150, max_tokens=16, dropout=0.1)
    return TextEncoderConfig(**(base | kw))


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory) -> Path:
    """A small random BERT + WordPiece tokenizer saved with save_pretrained (no network)."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("hf-bert")
    vocab = learn_wordpiece_vocab({w: 2 for c in CORPUS for w in preprocess_caption(c).split()}, 200)
    tokenizer = BertTokenizer(vocab={tok: i for i, tok in enumerate(vocab)})
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(vocab), hidden_size=24, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=48, max_position_embeddings=64))
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def build(name: str, hf_folder: Path, **kw):
    if name == "hf":
        return build_text_encoder(TextEncoderConfig(name="hf", path=str(hf_folder), max_tokens=16, **kw))
    return build_text_encoder(small_cfg(name=name, **kw), corpus=CORPUS)


# --------------------------------------------------------------------------------------------- contract
def test_registry_has_the_documented_entries():
    assert {"tiny-bert", "hf"} <= set(TEXT)
    assert TEXT_ENCODERS.names() == TEXT


@pytest.mark.parametrize("name", TEXT)
def test_forward_backward_shapes(name, hf_folder):
    torch.manual_seed(0)
    enc = build(name, hf_folder).train()
    texts = ["A dog barks.", "Rain falls on a metal roof, and birds chirp in the trees!", ""]
    batch = enc.tokenize(texts)
    assert set(batch) == {"input_ids", "attention_mask"}
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.dtype == torch.long and ids.shape == mask.shape and ids.shape[0] == 3
    assert ids.shape[1] <= enc.max_tokens
    assert mask[1].all()  # the longest caption sets the padded length
    out = enc(batch)
    assert out.shape == (3, enc.out_dim) and torch.isfinite(out).all()
    out.square().mean().backward()
    emb = enc.model.get_input_embeddings().weight
    assert emb.grad is not None and emb.grad.abs().sum() > 0
    assert enc.encode(["a dog"]).shape == (1, enc.out_dim)


@pytest.mark.parametrize("name", TEXT)
def test_frozen(name, hf_folder):
    enc = build(name, hf_folder, frozen=True)
    assert enc.frozen and not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not any(m.training for m in enc.modules())  # frozen encoders stay in eval mode (no dropout)
    out = enc.encode(["a dog barks"])
    assert not out.requires_grad
    assert torch.equal(out, enc.encode(["a dog barks"]))  # deterministic: no dropout


@pytest.mark.parametrize("name", TEXT)
def test_truncation_and_padding(name, hf_folder):
    enc = build(name, hf_folder)
    long = " ".join(["rain falls on the roof"] * 20)
    batch = enc.tokenize([long, "a dog"])
    assert batch["input_ids"].shape == (2, enc.max_tokens)
    assert batch["attention_mask"][0].all() and not batch["attention_mask"][1].all()
    assert enc(batch).shape == (2, enc.out_dim)


@pytest.mark.parametrize("name", TEXT)
def test_tokenize_preprocesses(name, hf_folder):
    enc = build(name, hf_folder)
    a = enc.tokenize(["A DOG, barks!!  (loudly)"])["input_ids"]
    b = enc.tokenize(["a dog barks loudly"])["input_ids"]
    assert torch.equal(a, b)


# --------------------------------------------------------------------------------------------- preprocessing
@pytest.mark.parametrize("raw, clean", [
    ("A dog barks.", "a dog barks"),
    ("  Rain,   falls -- on the ROOF!  ", "rain falls on the roof"),
    ("It's a bird's song; (loud) & clear?", "it s a bird s song loud clear"),
    ("snake_case\tand\nnewlines", "snake case and newlines"),
    ("Café: «naïve» — 3.5 dB", "café naïve 3 5 db"),
    ("", ""),
])
def test_preprocess_caption(raw, clean):
    assert preprocess_caption(raw) == clean


# --------------------------------------------------------------------------------------------- tiny-bert
def test_tiny_bert_tokenizer_is_deterministic():
    a = build_text_encoder(small_cfg(), corpus=CORPUS).tokenizer.get_vocab()
    shuffled = CORPUS[:]
    random.Random(1).shuffle(shuffled)
    b = build_text_encoder(small_cfg(), corpus=shuffled).tokenizer.get_vocab()
    assert a == b  # same pieces, same ids (the word multiset is all that matters)
    assert [t for t, i in sorted(a.items(), key=lambda kv: kv[1])][:5] == list(SPECIAL_TOKENS)
    assert len(a) <= 150


def test_tiny_bert_vocabulary_learns_subwords():
    enc = build_text_encoder(small_cfg(vocab_size=400), corpus=CORPUS)
    vocab = enc.tokenizer.get_vocab()
    assert {"rain", "roof", "a"} <= set(vocab)  # frequent words become whole pieces
    tokens = enc.tokenizer.encode("a dog barks").tokens
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert "[UNK]" not in enc.tokenizer.encode("zebra xylophone").tokens  # the a-z alphabet is always present


def test_tiny_bert_artifacts_roundtrip(tmp_path):
    texts = ["A dog barks loudly.", "Unseen words: xylophone zebra!", "rain rain rain"]
    enc = build_text_encoder(small_cfg(), corpus=CORPUS, artifacts_dir=tmp_path / "run")
    assert (tmp_path / "run" / "tokenizer" / "tokenizer.json").is_file()  # saved when artifacts_dir is given
    enc.save_artifacts(tmp_path / "copy")
    for folder in (tmp_path / "run", tmp_path / "copy"):
        again = build_text_encoder(small_cfg(), corpus=None, artifacts_dir=folder)  # no corpus needed now
        for key in ("input_ids", "attention_mask"):
            assert torch.equal(enc.tokenize(texts)[key], again.tokenize(texts)[key])
        assert again.model.config.vocab_size == enc.model.config.vocab_size
    # the saved tokenizer wins over the corpus: a different corpus does not change the vocabulary
    other = build_text_encoder(small_cfg(), corpus=["totally different words here"], artifacts_dir=tmp_path / "run")
    assert other.tokenizer.get_vocab() == enc.tokenizer.get_vocab()
    # weights round-trip through the caller's state dict
    other.load_state_dict(enc.state_dict())


def test_tiny_bert_model_config():
    enc = build_text_encoder(small_cfg(dropout=0.2, max_tokens=20), corpus=CORPUS)
    cfg = enc.model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size) == (32, 1, 2, 128)
    assert cfg.vocab_size == enc.tokenizer.get_vocab_size()
    assert cfg.hidden_dropout_prob == cfg.attention_probs_dropout_prob == 0.2
    assert cfg.max_position_embeddings >= 20 + 2
    assert enc.model.pooler is None


def test_tiny_bert_needs_a_corpus(tmp_path):
    with pytest.raises(ConfigError, match="corpus"):
        build_text_encoder(small_cfg())
    with pytest.raises(ConfigError, match="tokenizer.json"):
        build_text_encoder(small_cfg(), artifacts_dir=tmp_path / "empty")


# --------------------------------------------------------------------------------------------- hf
def test_hf_loads_a_local_folder(hf_folder, tmp_path):
    enc = build_text_encoder(TextEncoderConfig(name="hf", path=str(hf_folder), max_tokens=8))
    assert enc.out_dim == 24
    batch = enc.tokenize(["A dog barks.", "rain " * 30])
    assert batch["input_ids"].shape == (2, 8)
    assert enc(batch).shape == (2, 24)
    enc.save_artifacts(tmp_path / "art")
    saved = tmp_path / "art" / "hf"
    assert (saved / "config.json").is_file() and (saved / "tokenizer.json").is_file()
    assert str(hf_folder) in (saved / "source.json").read_text()


def test_hf_missing_folder_fails_fast(tmp_path, monkeypatch):
    from transformers.utils import hub

    def no_network(*a, **k):  # pragma: no cover - reached only if the loader tried to download
        raise AssertionError("tried to reach the network")

    monkeypatch.setattr(hub, "cached_file", no_network, raising=False)  # failing fast = not even trying the hub
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError) as err:
        build_text_encoder(TextEncoderConfig(name="hf", path=str(missing)))
    msg = str(err.value)
    assert msg.startswith("text_encoder.path:") and str(missing) in msg and "save_pretrained" in msg


def test_hf_incomplete_folder(tmp_path, hf_folder):
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "config.json").write_text((hf_folder / "config.json").read_text())
    with pytest.raises(ConfigError) as err:
        build_text_encoder(TextEncoderConfig(name="hf", path=str(folder)))
    lacks = str(err.value).split("; expected")[0]
    assert str(folder) in lacks and "model weights" in lacks and "tokenizer files" in lacks
    assert "config.json" not in lacks


def test_hf_requires_a_path():
    with pytest.raises(ConfigError, match="text_encoder.path"):
        build_text_encoder(TextEncoderConfig(name="hf", path=None))


def test_unknown_text_encoder():
    with pytest.raises(ConfigError) as err:
        build_text_encoder(TextEncoderConfig(name="gpt-17"))
    assert err.value.args[0].startswith("text_encoder.name:") and all(n in str(err.value) for n in TEXT)


# --------------------------------------------------------------------------------------------- RoBERTa, HF cache
@pytest.fixture(scope="module")
def roberta_folder(tmp_path_factory) -> Path:
    """A small random RoBERTa with a byte-level BPE tokenizer (vocab.json + merges.txt), saved with
    save_pretrained (no network)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    folder = tmp_path_factory.mktemp("hf-roberta")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([preprocess_caption(c) for c in CORPUS], vocab_size=300, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    raw = tmp_path_factory.mktemp("bpe")
    bpe.save_model(str(raw))
    tokenizer = RobertaTokenizerFast(vocab_file=str(raw / "vocab.json"), merges_file=str(raw / "merges.txt"))
    torch.manual_seed(0)
    model = RobertaModel(RobertaConfig(vocab_size=len(tokenizer), hidden_size=24, num_hidden_layers=1,
                                       num_attention_heads=2, intermediate_size=48, max_position_embeddings=80,
                                       pad_token_id=tokenizer.pad_token_id, type_vocab_size=1),
                         add_pooling_layer=False)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def test_hf_roberta_uses_s_as_cls_and_no_token_types(roberta_folder):
    enc = build_text_encoder(TextEncoderConfig(name="hf", path=str(roberta_folder), max_tokens=16)).eval()
    batch = enc.tokenize(["A dog barks.", "Rain falls on a metal roof while birds sing"])
    assert set(batch) == {"input_ids", "attention_mask"}  # RoBERTa has no token_type_ids
    assert (batch["input_ids"][:, 0] == enc.tokenizer.convert_tokens_to_ids("<s>")).all()
    assert batch["input_ids"][0, batch["attention_mask"][0].sum() - 1] == enc.tokenizer.convert_tokens_to_ids("</s>")
    with torch.no_grad():
        emb = enc(batch)
        # the class-token embedding, checked against the model called directly on the first caption alone
        alone = enc.tokenize(["A dog barks."])
        direct = enc.model(**alone).last_hidden_state[:, 0]
    assert emb.shape == (2, 24)
    torch.testing.assert_close(emb[:1], direct, rtol=1e-5, atol=1e-5)


def _fake_hub_cache(root: Path, repo: str, source: Path, revision: str = "0123abcd" * 5) -> Path:
    """The layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<rev>/...}."""
    repo_dir = root / ("models--" + repo.replace("/", "--"))
    snap = repo_dir / "snapshots" / revision
    snap.mkdir(parents=True)
    for f in source.iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(revision)
    return snap


def test_hf_model_name_resolves_from_the_offline_cache(roberta_folder, tmp_path, monkeypatch):
    from retrieval.encoders.text import resolve_hf_path

    cache = tmp_path / "hub"
    snap = _fake_hub_cache(cache, "FacebookAI/roberta-base", roberta_folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)  # no folder named like the model here
    assert resolve_hf_path("FacebookAI/roberta-base") == snap
    assert resolve_hf_path("roberta-base") == snap  # a bare name matches a single models--*--roberta-base
    enc = build_text_encoder(TextEncoderConfig(name="hf", path="roberta-base", max_tokens=16))
    assert enc.source == str(snap) and enc.encode(["a dog"]).shape == (1, 24)


def test_hf_model_name_absent_from_the_cache_fails_at_once(tmp_path, monkeypatch):
    from transformers.utils import hub

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.chdir(tmp_path)

    def no_network(*a, **k):  # pragma: no cover - reached only if the loader tried to download
        raise AssertionError("tried to reach the network")

    monkeypatch.setattr(hub, "cached_file", no_network, raising=False)
    with pytest.raises(ConfigError) as err:
        build_text_encoder(TextEncoderConfig(name="hf", path="roberta-large"))
    msg = str(err.value)
    assert msg.startswith("text_encoder.path:") and "models--roberta-large" in msg and "empty-hub" in msg
    assert "huggingface-cli download roberta-large" in msg
