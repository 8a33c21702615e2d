"""Text encoders: captions → one embedding per caption (the output at the first, ``[CLS]``, token).

Every encoder preprocesses captions with :func:`preprocess_caption` (lowercase, punctuation → space, collapsed
whitespace), tokenizes them, pads to the longest caption in the batch and truncates to ``cfg.max_tokens`` tokens
(special tokens included).

Registered encoders (the entries of ``TEXT_ENCODERS``, :mod:`retrieval.config.catalogue`):

* ``tiny-bert``: a small randomly initialised ``transformers.BertModel`` (no pooler) with a WordPiece vocabulary
  learnt from the training captions (``corpus``). The vocabulary is learnt by :func:`learn_wordpiece_vocab`, a small
  deterministic re-implementation of the ``tokenizers`` WordPiece trainer (BPE merges with ``##`` continuation
  pieces, ties broken by the pieces' text), because ``tokenizers.trainers.WordPieceTrainer`` is not reproducible
  across processes (both the ids and the learnt pieces change from run to run). The tokenizer itself is a
  ``tokenizers.Tokenizer`` (BertNormalizer, BertPreTokenizer, WordPiece model, ``[CLS] … [SEP]`` post-processor).
  Besides the pieces seen in the corpus, ``a-z`` and ``0-9`` (and their ``##`` forms) are always in the vocabulary;
  the model's ``vocab_size`` is the tokenizer's (at most ``cfg.vocab_size`` unless the alphabet alone is larger)
  and ``max_position_embeddings = max(cfg.max_tokens + 2, 64)``.
  ``save_artifacts(dir)`` writes ``dir/tokenizer/tokenizer.json``; building with ``artifacts_dir=dir`` loads it
  instead of learning a new vocabulary.
* ``hf``: any local Hugging Face encoder folder saved with ``save_pretrained`` (``cfg.path``), loaded with
  ``local_files_only=True`` and ``HF_HUB_OFFLINE=1`` (never downloads). ``cfg.path`` may also be a model name
  (``bert-base-uncased``, ``roberta-large``, ``FacebookAI/roberta-base``) that is not a folder: it is then looked up
  in the offline Hugging Face cache (:func:`resolve_hf_path`: ``$HF_HUB_CACHE``, ``$HF_HOME/hub``,
  ``~/.cache/huggingface/hub``; ``models--{org}--{name}/snapshots/{revision}/``, the revision named by
  ``refs/main``); when it is absent the build fails at once naming the folders looked at. BERT and RoBERTa both
  work: the tokenizer's own special tokens are used (``[CLS] … [SEP]`` or ``<s> … </s>``), and only
  ``input_ids`` and ``attention_mask`` are passed (RoBERTa has no token types). ``save_artifacts(dir)`` writes
  the tokenizer, the model config and the source path to ``dir/hf/``.

Frozen encoders (``cfg.frozen``) have no trainable parameters and stay in eval mode (no dropout).

``transformers`` is imported lazily, inside the builders.

Example::

    >>> from retrieval.config import TextEncoderConfig
    >>> enc = build_text_encoder(TextEncoderConfig(hidden=32, heads=2, layers=1, vocab_size=100),
    ...                          corpus=["A dog barks.", "Rain falls on a roof."])
    >>> tuple(enc.encode(["a dog"]).shape)
    (1, 32)
"""

from __future__ import annotations

import heapq
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from retrieval.config import TEXT_ENCODERS, ConfigError, TextEncoderConfig

__all__ = [
    "SPECIAL_TOKENS",
    "HFTextEncoder",
    "TextEncoder",
    "TinyBertTextEncoder",
    "build_hf",
    "build_text_encoder",
    "build_tiny_bert",
    "check_hf_folder",
    "learn_wordpiece_vocab",
    "hf_cache_dirs",
    "preprocess_caption",
    "resolve_hf_path",
    "train_wordpiece_tokenizer",
]

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TOKENIZER_FILE = Path("tokenizer") / "tokenizer.json"
_BASE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
_PUNCT = re.compile(r"[^\w\s]|_")
_SPACE = re.compile(r"\s+")


def preprocess_caption(text: str) -> str:
    """Lowercase, replace punctuation with a space, collapse whitespace, strip.

    >>> preprocess_caption("  A dog's bark -- LOUD!  ")
    'a dog s bark loud'
    """
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


# --------------------------------------------------------------------------------------------- base class
class TextEncoder(nn.Module):
    """Base class: ``tokenize`` (strings → padded id tensors), ``forward`` (ids → ``[B, out_dim]``)."""

    out_dim: int
    max_tokens: int
    frozen: bool = False

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Tokenize and embed, on the device of the encoder's parameters."""
        device = next(self.parameters()).device
        batch = {k: v.to(device) for k, v in self.tokenize(texts).items()}
        return self(batch)

    def save_artifacts(self, directory: Path) -> None:  # pragma: no cover
        raise NotImplementedError

    def train(self, mode: bool = True) -> "TextEncoder":
        return super().train(mode and not self.frozen)

    def freeze(self) -> None:
        for p in self.parameters():
            p.requires_grad_(False)
        self.frozen = True
        self.eval()


# --------------------------------------------------------------------------------------------- WordPiece
def _pretokenizer_pipeline():
    from tokenizers import normalizers, pre_tokenizers

    return (normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                       lowercase=True),
            pre_tokenizers.BertPreTokenizer())


def learn_wordpiece_vocab(word_counts: dict[str, int], vocab_size: int, *,
                          special_tokens: Sequence[str] = SPECIAL_TOKENS, min_frequency: int = 2,
                          prefix: str = "##", base_chars: str = _BASE_CHARS,
                          max_word_chars: int = 100) -> list[str]:
    """A WordPiece vocabulary (list of pieces, index = id) learnt with BPE merges, deterministically.

    Words start as characters (``c``, then ``##c`` for the following ones). The most frequent adjacent pair is
    merged repeatedly (ties: the lexicographically smallest pair) until the vocabulary has ``vocab_size`` pieces or
    no pair occurs ``min_frequency`` times. Order: special tokens, the alphabet (sorted), merged pieces in merge
    order. The alphabet is always complete, even beyond ``vocab_size``. The result depends only on the multiset of
    words, not on their order or on hash seeds.
    """
    words: list[list[str]] = []
    counts: list[int] = []
    alphabet: set[str] = set()
    for c in base_chars:
        alphabet.update((c, prefix + c))
    for word, n in sorted(word_counts.items()):
        if not word or len(word) > max_word_chars or n <= 0:
            continue
        syms = [word[0]] + [prefix + c for c in word[1:]]
        alphabet.update(syms)
        words.append(syms)
        counts.append(n)
    vocab = list(dict.fromkeys(special_tokens))
    vocab += sorted(alphabet - set(vocab))
    seen = set(vocab)

    pair_counts: dict[tuple[str, str], int] = defaultdict(int)
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, syms in enumerate(words):
        for pair in zip(syms, syms[1:]):
            pair_counts[pair] += counts[i]
            where[pair].add(i)
    heap = [(-n, a, b) for (a, b), n in pair_counts.items()]
    heapq.heapify(heap)
    cut = len(prefix)
    while len(vocab) < vocab_size and heap:
        neg, a, b = heapq.heappop(heap)
        n = pair_counts.get((a, b), 0)
        if n != -neg:
            continue  # stale heap entry; the current count was pushed when it changed
        if n < max(min_frequency, 1):
            break
        merged = a + b[cut:]
        changed: set[tuple[str, str]] = set()
        for i in sorted(where.pop((a, b), ())):
            syms = words[i]
            out: list[str] = []
            j = 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == a and syms[j + 1] == b:
                    out.append(merged)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            if len(out) == len(syms):
                continue
            for pair in zip(syms, syms[1:]):
                pair_counts[pair] -= counts[i]
                changed.add(pair)
            for pair in zip(out, out[1:]):
                pair_counts[pair] += counts[i]
                where[pair].add(i)
                changed.add(pair)
            words[i] = out
        pair_counts.pop((a, b), None)
        for pair in changed:
            c = pair_counts.get(pair, 0)
            if c > 0:
                heapq.heappush(heap, (-c, *pair))
            else:
                pair_counts.pop(pair, None)
        if merged not in seen:
            seen.add(merged)
            vocab.append(merged)
    return vocab


def _make_tokenizer(vocab: Sequence[str]):
    from tokenizers import Tokenizer, decoders, models, processors

    ids = {piece: i for i, piece in enumerate(vocab)}
    tok = Tokenizer(models.WordPiece(vocab=ids, unk_token="[UNK]", continuing_subword_prefix="##",
                                     max_input_chars_per_word=100))
    tok.normalizer, tok.pre_tokenizer = _pretokenizer_pipeline()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    return tok


def train_wordpiece_tokenizer(corpus: Iterable[str], vocab_size: int, *, min_frequency: int = 2):
    """A ``tokenizers.Tokenizer`` with a WordPiece vocabulary learnt from the preprocessed ``corpus``."""
    normalizer, pre_tokenizer = _pretokenizer_pipeline()
    # Normalisation and pre-tokenisation act within whitespace-separated words, so run them once per distinct word.
    raw_counts: Counter[str] = Counter()
    for text in corpus:
        raw_counts.update(preprocess_caption(text).split())
    word_counts: Counter[str] = Counter()
    for raw, n in raw_counts.items():
        for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(raw)):
            word_counts[w] += n
    if not word_counts:
        raise ConfigError("text_encoder: the corpus for the tiny-bert WordPiece vocabulary holds no words")
    vocab = learn_wordpiece_vocab(dict(word_counts), vocab_size, min_frequency=min_frequency)
    return _make_tokenizer(vocab)


# --------------------------------------------------------------------------------------------- tiny-bert
def pool_hidden(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Sentence embedding from token states: ``cls`` = the first token's output; ``mean`` = the average over the
    real (unpadded) tokens, ``sum_t m_t h_t / sum_t m_t``."""
    if pooling == "cls":
        return hidden[:, 0]
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class TinyBertTextEncoder(TextEncoder):
    """A small random ``BertModel`` (no pooler) over a WordPiece ``tokenizers.Tokenizer``."""

    def __init__(self, cfg: TextEncoderConfig, tokenizer) -> None:
        super().__init__()
        from transformers import BertConfig, BertModel

        self.max_tokens = cfg.max_tokens
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.token_to_id("[PAD]")
        if self.pad_id is None or tokenizer.token_to_id("[CLS]") is None:
            raise ConfigError("text_encoder: the tiny-bert tokenizer lacks the [PAD]/[CLS] tokens")
        tokenizer.enable_truncation(max_length=cfg.max_tokens)
        tokenizer.enable_padding(pad_id=self.pad_id, pad_token="[PAD]")  # to the longest in the batch
        config = BertConfig(
            vocab_size=tokenizer.get_vocab_size(), hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
            num_attention_heads=cfg.heads, intermediate_size=4 * cfg.hidden,
            max_position_embeddings=max(cfg.max_tokens + 2, 64), hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout, pad_token_id=self.pad_id)
        self.model = BertModel(config, add_pooling_layer=False)
        self.out_dim = cfg.hidden
        self.pooling = cfg.pooling

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        if isinstance(texts, str):
            texts = [texts]
        encodings = self.tokenizer.encode_batch([preprocess_caption(t) for t in texts])
        return {"input_ids": torch.tensor([e.ids for e in encodings], dtype=torch.long),
                "attention_mask": torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)}

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return pool_hidden(out.last_hidden_state, batch["attention_mask"], self.pooling)

    def save_artifacts(self, directory: Path) -> None:
        path = Path(directory) / TOKENIZER_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(str(path))


# --------------------------------------------------------------------------------------------- hf
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                 "pytorch_model.bin.index.json")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model",
                    "sentencepiece.bpe.model")
_HF_EXPECTED = ("a local folder saved with save_pretrained (config.json, model weights such as model.safetensors "
                "or pytorch_model.bin, and tokenizer files such as tokenizer.json or vocab.txt), e.g. a copy of "
                "bert-base-uncased or roberta-base")


class HFTextEncoder(TextEncoder):
    """A local Hugging Face encoder; the embedding is the output at the first token (``pooling: cls``, the
    default, as in the papers) or the mean over tokens."""

    def __init__(self, model: nn.Module, tokenizer, max_tokens: int, source: str, pooling: str = "cls") -> None:
        super().__init__()
        self.pooling = pooling
        self.model = model
        self.tokenizer = tokenizer
        limit = getattr(tokenizer, "model_max_length", None)
        self.max_tokens = min(max_tokens, limit) if isinstance(limit, int) and limit > 0 else max_tokens
        self.source = source
        self.out_dim = int(model.config.hidden_size)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        if isinstance(texts, str):
            texts = [texts]
        enc = self.tokenizer([preprocess_caption(t) for t in texts], padding="longest", truncation=True,
                             max_length=self.max_tokens, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return pool_hidden(out.last_hidden_state, batch["attention_mask"], self.pooling)

    def save_artifacts(self, directory: Path) -> None:
        out = Path(directory) / "hf"
        out.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(out))
        self.model.config.save_pretrained(str(out))
        (out / "source.json").write_text(json.dumps({"path": self.source}, indent=2) + "\n")


def hf_cache_dirs() -> list[Path]:
    """The offline Hugging Face hub caches looked at, in order: ``$HF_HUB_CACHE``, ``$HF_HOME/hub``,
    ``~/.cache/huggingface/hub`` (duplicates removed)."""
    dirs = []
    if os.environ.get("HF_HUB_CACHE"):
        dirs.append(Path(os.environ["HF_HUB_CACHE"]).expanduser())
    if os.environ.get("HF_HOME"):
        dirs.append(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    dirs.append(Path("~/.cache/huggingface/hub").expanduser())
    return list(dict.fromkeys(dirs))


def _looks_like_model_name(path: str) -> bool:
    return bool(re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", path)) and not path.startswith((".", "~"))


def _snapshot(repo_dir: Path) -> Path | None:
    """The snapshot folder of a cached repository: the revision in ``refs/main``, else the only (or newest)
    snapshot."""
    ref = repo_dir / "refs" / "main"
    if ref.is_file():
        snap = repo_dir / "snapshots" / ref.read_text().strip()
        if snap.is_dir():
            return snap
    snaps = sorted((d for d in (repo_dir / "snapshots").glob("*") if d.is_dir()), key=lambda d: d.stat().st_mtime)
    return snaps[-1] if snaps else None


def resolve_hf_path(path: str | None) -> Path:
    """The local folder of ``text_encoder.path``: the folder itself when it exists, else the snapshot of a model
    name in the offline Hugging Face cache (``models--org--name``; a bare ``name`` also matches a single
    ``models--{org}--name``). Never touches the network; raises ConfigError naming what was expected."""
    if not path:
        raise ConfigError("text_encoder.path: is required for the 'hf' text encoder: " + _HF_EXPECTED)
    folder = Path(path).expanduser()
    if folder.is_dir() or not _looks_like_model_name(path):
        return folder
    repo = "models--" + path.replace("/", "--")
    looked = []
    for cache in hf_cache_dirs():
        candidates = [cache / repo]
        if "/" not in path and not (cache / repo).is_dir():
            candidates += sorted(cache.glob(f"models--*--{path}"))
        for cand in candidates:
            looked.append(str(cand))
            if cand.is_dir():
                snap = _snapshot(cand)
                if snap is not None:
                    return snap
    raise ConfigError(
        f"text_encoder.path: {path!r} is neither a folder nor a model in the offline Hugging Face cache (looked for "
        f"a snapshot in: {', '.join(looked[:4])}); nothing is downloaded here: on a connected machine run "
        f"`huggingface-cli download {path}` and copy the cache folder (or set HF_HUB_CACHE to it), or give "
        f"{_HF_EXPECTED}")


def _check_hf_folder(path: str | None) -> Path:
    folder = resolve_hf_path(path)
    if not folder.is_dir():
        raise ConfigError(f"text_encoder.path: {folder} is not an existing directory; expected {_HF_EXPECTED}")
    lacking = []
    if not (folder / "config.json").is_file():
        lacking.append("config.json")
    if not any((folder / f).is_file() for f in _WEIGHT_FILES):
        lacking.append("model weights (" + " / ".join(_WEIGHT_FILES) + ")")
    if not any((folder / f).is_file() for f in _TOKENIZER_FILES):
        lacking.append("tokenizer files (" + " / ".join(_TOKENIZER_FILES) + ")")
    if lacking:
        raise ConfigError(f"text_encoder.path: {folder} lacks {', '.join(lacking)}; expected {_HF_EXPECTED}")
    return folder


# --------------------------------------------------------------------------------------------- registry
TextEncoderFactory = Callable[..., TextEncoder]


def build_tiny_bert(cfg: TextEncoderConfig, *, corpus: Sequence[str] | None = None,
               artifacts_dir: Path | None = None) -> TextEncoder:
    from tokenizers import Tokenizer

    saved = Path(artifacts_dir) / TOKENIZER_FILE if artifacts_dir is not None else None
    if saved is not None and saved.is_file():
        try:
            tokenizer = Tokenizer.from_file(str(saved))
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(f"text_encoder: cannot read the tiny-bert tokenizer {saved}: {exc}") from None
    else:
        if corpus is None:
            where = f" (no {saved})" if saved is not None else ""
            raise ConfigError("text_encoder: tiny-bert learns its WordPiece vocabulary from the training captions: "
                              f"pass corpus=..., or artifacts_dir holding {TOKENIZER_FILE}{where}")
        tokenizer = train_wordpiece_tokenizer(corpus, cfg.vocab_size)
        if saved is not None:
            saved.parent.mkdir(parents=True, exist_ok=True)
            tokenizer.save(str(saved))
    return TinyBertTextEncoder(cfg, tokenizer)


def build_hf(cfg: TextEncoderConfig, *, corpus: Sequence[str] | None = None,
        artifacts_dir: Path | None = None) -> TextEncoder:
    folder = _check_hf_folder(cfg.path)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModel.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"text_encoder.path: cannot load {folder} offline "
                          f"({type(exc).__name__}: {exc}); expected {_HF_EXPECTED}") from None
    return HFTextEncoder(model, tokenizer, cfg.max_tokens, str(folder), cfg.pooling)


def check_hf_folder(cfg: TextEncoderConfig) -> None:
    """Refuse, before any work, an ``hf`` encoder whose ``text_encoder.path`` is neither a folder nor a model name in
    the offline Hugging Face cache (the ``check`` of its registry entry)."""
    if not resolve_hf_path(cfg.path).is_dir():
        raise ConfigError(f"text_encoder.path: {cfg.path!r} is not a folder; give a local Hugging "
                          "Face model folder (saved with save_pretrained, e.g. bert-base-uncased) or a model "
                          "name in the offline Hugging Face cache; nothing is downloaded")


def build_text_encoder(cfg: TextEncoderConfig, *, corpus: Sequence[str] | None = None,
                       artifacts_dir: Path | None = None) -> TextEncoder:
    """Build ``cfg.name``; ``corpus`` (training captions) and ``artifacts_dir`` are used by encoders that learn or
    load a tokenizer (tiny-bert). Freezes the encoder when ``cfg.frozen``."""
    factory = TEXT_ENCODERS.get(cfg.name, key="text_encoder.name")
    encoder = factory(cfg, corpus=corpus, artifacts_dir=artifacts_dir)
    encoder.name = cfg.name
    if cfg.frozen:
        encoder.freeze()
    return encoder
