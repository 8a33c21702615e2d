"""Easy Data Augmentation (EDA, Wei & Zou 2019) for captions, as used in the DCASE 2022 paper (Section 5).

With probability ``p_eda`` a caption is augmented: ONE of the four word-level operations is chosen uniformly
among those whose probability is > 0, then applied to each word with that operation's probability:

* synonym replacement (``p_syn``): the word is replaced by a random WordNet synonym (single- or multi-word);
  words without synonyms stay as they are;
* random swap (``p_swp``): the word is swapped with the word at another random position;
* random insertion (``p_ins``): a synonym of a random word of the sentence is inserted at a random position
  (if that word has no synonyms, or WordNet is not given, the random word itself is inserted);
* random deletion (``p_del``): the word is dropped; if every word would be dropped one random word is kept.

Words are the lowercase whitespace-separated tokens of the caption; an augmented caption is re-joined with
single spaces. Punctuation is kept simple: leading/trailing punctuation is ignored for the synonym look-up and
kept around a replaced word (the text encoder strips punctuation later). When nothing changes (no operation
active, an empty caption, or no word drawn) the original string is returned unchanged.

The training loop's :class:`TextAugment` applies, per caption and in this order: a caption variation from a file
(``augment.variations``, :mod:`retrieval.augment.variations`) with probability ``p``; the back-translation
(``augment.bt``, :mod:`retrieval.augment.backtranslate`, Apertium) with probability ``p_bt``; then EDA -- back
translation before EDA as in the DCASE 2022 paper. Each step that is switched on draws from the epoch generator for
every caption (one uniform number, plus the choice of a variation when one is swapped in); a step that is off draws
nothing, so configurations without it reproduce earlier runs exactly. The steps are the ``text`` entries of the
registry ``AUGMENTATIONS`` (:mod:`retrieval.config.catalogue`: ``variations``, ``backtranslation``, ``eda``), each
built from its config section and the run's resources (:func:`build_eda` here;
:func:`retrieval.augment.variations.build_variations`, :func:`retrieval.augment.backtranslate.build_back_translation`)
and run in their declared ``order``. With split seed streams (:mod:`retrieval.seeding`) each step draws from a
generator of its own (a mapping from the step's name), one number per caption, which seeds the step's draws on that
caption: how many numbers EDA uses depends on the caption it gets (after a variation or a back-translation), and this
keeps that from shifting its draws on the next captions. So switching one step off leaves the others' draws
unchanged.
"""

from __future__ import annotations

import string

import numpy as np

from typing import Mapping, Sequence

from retrieval.config import AUGMENTATIONS, AugmentConfig, EDAConfig, augmentation_section, augmentation_steps
from retrieval.augment.wordnet import WordNet, WordNetMissing, find_wordnet_dir, load_wordnet, wordnet_missing

__all__ = ["EDAStep", "TextAugment", "build_eda", "check_text_augment_requirements", "eda", "OPERATIONS"]

#: The EDA operations, in the order used when one is chosen (index drawn uniformly among the active ones).
OPERATIONS: tuple[str, ...] = ("syn", "swp", "ins", "del")

_PUNCT = string.punctuation


def _split_punct(token: str) -> tuple[str, str, str]:
    """``"down."`` -> ``("", "down", ".")``."""
    core = token.strip(_PUNCT)
    if not core:
        return "", token, ""
    start = token.find(core)
    return token[:start], core, token[start + len(core):]


def _synonyms(word: str, wordnet: WordNet | None) -> list[str]:
    if wordnet is None:
        return []
    core = _split_punct(word)[1]
    return wordnet.synonyms(core) if core and core.strip(_PUNCT) else []


def _synonym_replacement(words: list[str], p: float, rng: np.random.Generator, wordnet: WordNet) -> list[str]:
    out = list(words)
    for i, word in enumerate(words):
        if rng.random() < p:
            syns = _synonyms(word, wordnet)
            if syns:
                pre, _, post = _split_punct(word)
                out[i] = pre + syns[int(rng.integers(len(syns)))] + post
    return out


def _random_swap(words: list[str], p: float, rng: np.random.Generator) -> list[str]:
    out = list(words)
    n = len(out)
    if n < 2:
        return out
    for i in range(n):
        if rng.random() < p:
            j = int(rng.integers(n - 1))
            j = j + 1 if j >= i else j  # uniform over the other positions
            out[i], out[j] = out[j], out[i]
    return out


def _random_insertion(words: list[str], p: float, rng: np.random.Generator, wordnet: WordNet | None) -> list[str]:
    out = list(words)
    for _ in range(len(words)):
        if rng.random() < p:
            source = out[int(rng.integers(len(out)))]
            syns = _synonyms(source, wordnet)
            new = syns[int(rng.integers(len(syns)))] if syns else _split_punct(source)[1]
            out.insert(int(rng.integers(len(out) + 1)), new)
    return out


def _random_deletion(words: list[str], p: float, rng: np.random.Generator) -> list[str]:
    keep = [w for w in words if rng.random() >= p]
    if not keep and words:
        keep = [words[int(rng.integers(len(words)))]]
    return keep


def eda(caption: str, *, p_syn: float, p_swp: float, p_ins: float, p_del: float, rng: np.random.Generator,
        wordnet: WordNet | None) -> str:
    """Augment one caption with one EDA operation (see the module docstring). Deterministic given ``rng``.

    ``wordnet`` is required when ``p_syn > 0`` (``ValueError`` otherwise); for insertion it is optional (without
    it a random word of the sentence is inserted).
    """
    probs = {"syn": p_syn, "swp": p_swp, "ins": p_ins, "del": p_del}
    for name, value in probs.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"p_{name} must be in [0, 1], got {value}")
    active = [op for op in OPERATIONS if probs[op] > 0]
    words = caption.lower().split()
    if not active or not words:
        return caption
    if p_syn > 0 and wordnet is None:
        raise ValueError("eda: synonym replacement (p_syn > 0) needs a WordNet (see retrieval.augment.wordnet)")
    op = active[int(rng.integers(len(active)))]
    if op == "syn":
        out = _synonym_replacement(words, p_syn, rng, wordnet)  # type: ignore[arg-type]
    elif op == "swp":
        out = _random_swap(words, p_swp, rng)
    elif op == "ins":
        out = _random_insertion(words, p_ins, rng, wordnet)
    else:
        out = _random_deletion(words, p_del, rng)
    if out == words:
        return caption
    return " ".join(out)


def _needs_wordnet(cfg: EDAConfig) -> bool:
    return cfg.p_eda > 0 and (cfg.p_syn > 0 or cfg.p_ins > 0)


def _eda_enabled(c: EDAConfig) -> bool:
    return c.p_eda > 0 and (c.p_syn > 0 or c.p_swp > 0 or c.p_ins > 0 or c.p_del > 0)


class EDAStep:
    """The ``eda`` text augmentation: per caption, ``rng.random() < p_eda`` (always drawn), then :func:`eda`.
    Counted whenever it is applied. WordNet is loaded when synonyms are needed (``p_syn`` or ``p_ins > 0``); if it
    is missing the constructor raises :class:`WordNetMissing` naming the install command."""

    def __init__(self, cfg: EDAConfig):
        self.cfg = cfg
        self.wordnet: WordNet | None = None
        if _needs_wordnet(cfg):
            try:
                self.wordnet = load_wordnet(cfg.wordnet_dir)
            except WordNetMissing as exc:
                raise wordnet_missing(cfg.wordnet_dir, "EDA with synonyms (augment.eda.p_syn / p_ins > 0)") \
                    from exc

    def __call__(self, caption: str, rng: np.random.Generator, key: str | None) -> tuple[str, bool]:
        c = self.cfg
        if rng.random() < c.p_eda:
            return eda(caption, p_syn=c.p_syn, p_swp=c.p_swp, p_ins=c.p_ins, p_del=c.p_del, rng=rng,
                       wordnet=self.wordnet), True
        return caption, False


def build_eda(cfg: EDAConfig, **resources) -> EDAStep | None:
    """``eda`` (``augment.eda``): on when ``p_eda > 0`` and one of the operations has a probability > 0."""
    return EDAStep(cfg) if _eda_enabled(cfg) else None


class TextAugment:
    """Text augmentation of a batch of captions: caption variations, back-translation, EDA (see the module
    docstring), configured by :class:`retrieval.config.AugmentConfig` (an :class:`EDAConfig` alone: EDA only).

    ``back_translations`` (``{caption: translation}``, :func:`retrieval.augment.backtranslate.back_translation_table`)
    and ``variations`` (:func:`retrieval.augment.variations.load_variations`) are prepared once per run; without
    them the corresponding step is off whatever its probability.

    WordNet is loaded (lazily; see :func:`retrieval.augment.wordnet.load_wordnet`) only when EDA is switched on
    (``p_eda > 0``) and synonyms are needed (``p_syn > 0`` or ``p_ins > 0``); if it is missing the constructor
    raises :class:`WordNetMissing` naming the install command.
    """

    def __init__(self, cfg: EDAConfig | AugmentConfig, *, back_translations: Mapping[str, str] | None = None,
                 variations=None):
        augment = cfg if isinstance(cfg, AugmentConfig) else AugmentConfig(eda=cfg)  # an EDAConfig alone: EDA only
        self.cfg = augment.eda
        resources = {"back_translations": back_translations, "variations": variations}
        entries = augmentation_steps("text")
        self.counts = {"captions": 0, **{e.meta["counter"]: 0 for e in entries}}
        self.steps = [(e.name, e.meta["counter"], step) for e in entries
                      if (step := AUGMENTATIONS.get(e.name)(augmentation_section(augment, e), **resources))
                      is not None]
        built = {name: step for name, _, step in self.steps}
        bt, var, eda_step = built.get("backtranslation"), built.get("variations"), built.get("eda")
        self.back_translations = bt.table if bt is not None else None
        self.p_bt = bt.p if bt is not None else 0.0
        self.variations = var.variations if var is not None else None
        self.p_var = var.p if var is not None else 0.0
        self.wordnet: WordNet | None = eda_step.wordnet if eda_step is not None else None

    @property
    def eda_enabled(self) -> bool:
        return _eda_enabled(self.cfg)

    @property
    def enabled(self) -> bool:
        return bool(self.steps)

    def __call__(self, captions: list[str], rng: np.random.Generator | Mapping[str, np.random.Generator],
                 keys: Sequence[str | None] | None = None) -> list[str]:
        """Augment each caption; ``keys`` are the recordings' variation keys (``CaptionVariations.match``).

        Per caption, for each step that is on: variations draw ``rng.random() < p`` (and the variation with
        ``rng.integers``), back-translation ``rng.random() < p_bt``, EDA ``rng.random() < p_eda`` as before.
        ``rng``: one generator for every step, or a mapping from each step's name (``variations``,
        ``backtranslation``, ``eda``) to its own, of which a step draws one seed per caption for its draws there.
        """
        if not self.enabled:
            return list(captions)
        if self.p_var > 0 and keys is not None and len(keys) != len(captions):
            raise ValueError(f"{len(keys)} variation keys for {len(captions)} captions")
        per_step = isinstance(rng, Mapping)
        out = []
        for j, caption in enumerate(captions):
            self.counts["captions"] += 1
            key = keys[j] if keys is not None else None
            for name, counter, step in self.steps:
                own = np.random.default_rng(int(rng[name].integers(2**63))) if per_step else rng
                caption, counted = step(caption, own, key)
                self.counts[counter] += counted
            out.append(caption)
        return out

    def stats(self) -> dict[str, int]:
        """How many captions went through the augmentation and how many each step changed (this process)."""
        return dict(self.counts)

    def __repr__(self) -> str:
        c = self.cfg
        return (f"TextAugment(p_eda={c.p_eda}, p_syn={c.p_syn}, p_swp={c.p_swp}, p_ins={c.p_ins}, "
                f"p_del={c.p_del}, wordnet={self.wordnet!r})")


def check_text_augment_requirements(cfg: AugmentConfig) -> None:
    """Fail early (config-validation time) if the EDA settings need WordNet and it is not installed.

    Raises :class:`WordNetMissing` (message names the searched directories and the install command). Cheap: only
    checks that the database files exist, nothing is parsed.
    """
    eda_cfg = cfg.eda if isinstance(cfg, AugmentConfig) else cfg
    if _needs_wordnet(eda_cfg) and find_wordnet_dir(eda_cfg.wordnet_dir) is None:
        raise wordnet_missing(eda_cfg.wordnet_dir, "EDA with synonyms (augment.eda.p_syn / p_ins > 0)")
    if not isinstance(cfg, AugmentConfig):
        return
    if cfg.bt.p_bt > 0:
        from retrieval.augment.backtranslate import check_apertium

        check_apertium()  # ApertiumMissing (a ConfigError) names the apt command
    if cfg.variations.p > 0:
        from pathlib import Path

        from retrieval.augment.variations import SYNTHCAPS_VARIATIONS
        from retrieval.config import ConfigError

        if cfg.variations.file == SYNTHCAPS_VARIATIONS:  # written with the data set, checked when it is loaded
            return
        if not Path(cfg.variations.file or "").expanduser().is_file():
            raise ConfigError(f"augment.variations.file: {cfg.variations.file!r} is not a file (a JSON file mapping "
                              "file names to lists of captions, or the released clotho_gpt/variations.json list)")
