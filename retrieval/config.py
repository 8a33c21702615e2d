"""Typed, frozen trial configuration.

A :class:`TrialConfig` is a tree of frozen dataclasses, one per section (``data``, ``features``,
``audio_encoder``, ``text_encoder``, ``fusion``, ``loss``, ``augment``, ``optim``, ``train``).
Every value is checked when the config is built: an unknown key, a value of the wrong type or a value out of
range raises :class:`ConfigError` naming the dotted key, before any work starts.

``audio_encoder`` has one subsection per encoder family (``audio_encoder.cnn``, ``audio_encoder.passt``). The flat
spellings their keys had before (``audio_encoder.width``, ``audio_encoder.dim`` ...; :data:`KEY_ALIASES`) are
accepted wherever a key is (files, old run folders, overrides, study spaces) and mean the same key; the
fingerprint hashes them under the flat spelling, so no fingerprint changed with the subsections.

Example::

    >>> cfg = TrialConfig.from_dict({"fusion": {"kind": "late"}})
    >>> cfg.with_overrides({"optim.lr_audio": 1e-3}).optim.lr_audio
    0.001
    >>> len(cfg.fingerprint())
    16
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping

import yaml

from retrieval.registry import Registry

from .errors import HarnessError

CONFIG_DIR = Path(__file__).parent / "configs"
NON_SEMANTIC_KEYS = ("train.progress", "data.cache_dir")
#: Keys added after fingerprints were published, left out of the fingerprint while they hold the value that means
#: what configurations meant before the key existed (so every earlier fingerprint stays the same).
LATER_KEYS: dict[str, Any] = {"text_encoder.vocab_augment_passes": 0}
#: The SynthCaps generator version of a configuration that names none (``data.synth_version``): the generator before
#: versions existed. It is left out of the fingerprint, so those configurations keep theirs.
LEGACY_SYNTH_VERSION = "1.1.0"


class ConfigError(HarnessError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range. The message names the key."""


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


# --------------------------------------------------------------------------------------------- plug-in registries
# Every plug-in kind a config names is a registry (:class:`retrieval.registry.Registry`). They are declared here,
# next to the keys whose values name their entries, because the config checks those names when it is built: a
# built-in entry is declared with the module and object that implement it ("module:object", imported only when
# the entry is built), so checking a name imports nothing heavy, and an entry registered at run time (a plug-in,
# a test's toy fusion: ``@FUSIONS.register("toy")``) is accepted by the config, the study specs and the trainer at
# once. Adding one is one module plus one entry. ``example``: the overrides that select the entry with small
# settings (what the shared contract tests in tests/contract build); the other keywords are static facts of the
# kind (``Entry.meta``). The study samplers and schedulers are declared the same way in ``studies.spec``.

#: ``audio_encoder.name``: ``(cfg: AudioEncoderConfig, n_mels) -> AudioEncoder`` (``retrieval.encoders.audio``).
AUDIO_ENCODERS = Registry("audio encoder", key="audio_encoder.name", error=ConfigError)
AUDIO_ENCODERS.declare("cnn-small", "retrieval.encoders.cnn:build_cnn_small",
                       "CNN10-style CNN, audio_encoder.cnn.width channels in the first block (doubled per block)",
                       example={"audio_encoder.cnn.width": 4})
AUDIO_ENCODERS.declare("cnn10", "retrieval.encoders.cnn:build_cnn10", "PANNs CNN10 (the released key layout)")
AUDIO_ENCODERS.declare("cnn14", "retrieval.encoders.cnn:build_cnn14", "PANNs CNN14 (the released key layout)")
AUDIO_ENCODERS.declare("passt", "retrieval.encoders.passt:build_passt",
                       "PaSST: ViT with frequency/time positions and structured patchout (audio_encoder.passt.*)",
                       example={"audio_encoder.passt.dim": 32, "audio_encoder.passt.depth": 1,
                                "audio_encoder.passt.heads": 2})

#: ``text_encoder.name``: ``(cfg: TextEncoderConfig, *, corpus, artifacts_dir) -> TextEncoder``
#: (``retrieval.encoders.text``). ``needs``: what an example build needs besides its overrides.
TEXT_ENCODERS = Registry("text encoder", key="text_encoder.name", error=ConfigError)
TEXT_ENCODERS.declare("tiny-bert", "retrieval.encoders.text:build_tiny_bert",
                      "a random BERT with a WordPiece vocabulary learnt from the training captions",
                      example={"text_encoder.hidden": 32, "text_encoder.layers": 1, "text_encoder.heads": 2,
                               "text_encoder.vocab_size": 150, "text_encoder.max_tokens": 16}, needs=("corpus",))
TEXT_ENCODERS.declare("hf", "retrieval.encoders.text:build_hf",
                      "a local Hugging Face model folder (text_encoder.path; BERT, RoBERTa), loaded offline",
                      example={"text_encoder.max_tokens": 16}, needs=("hf_model",))

#: ``fusion.kind``: ``(cfg: FusionConfig, audio_dim, audio_seq_dim, text_dim) -> FusionHead`` (``retrieval.fusion``).
FUSIONS = Registry("fusion", key="fusion.kind", error=ConfigError)
FUSIONS.declare("none", "retrieval.fusion:NoFusion", "content only: the pooled audio embedding")
FUSIONS.declare("late", "retrieval.fusion:LateFusion", "the audio embedding plus the embedded metadata keywords")
FUSIONS.declare("mid", "retrieval.fusion:MidFusion",
                "a transformer over the audio frames and the metadata token (two item parts, weighted queries)",
                example={"fusion.mid.layers": 1, "fusion.mid.heads": 2})

#: ``data.dataset``, ``data.train_on``, ``augment.variations.dataset``: a
#: :class:`retrieval.data.datasets.DataSetLoader`. ``roles``: role (train / val / test) -> split name;
#: ``strict``: a missing audio file is an error; ``generated``: no folder needed, made on first use; ``tiny``:
#: a writer of a tiny format-exact copy ``(root) -> root`` (tests).
_CLOTHO_ROLES = {"train": "development", "val": "validation", "test": "evaluation"}
DATASETS = Registry("data set", key="data.dataset", error=ConfigError)
DATASETS.declare("clotho", "retrieval.data.datasets:CLOTHO", "ClothoV2.1: captions + metadata CSVs and audio folders",
                 example={"data.root": "/data/clotho"}, roles=_CLOTHO_ROLES, strict=True, generated=False,
                 tiny="retrieval.data.tiny:write_tiny_clotho")
DATASETS.declare("synthcaps", "retrieval.data.datasets:SYNTHCAPS",
                 "the built-in benchmark, generated in the ClothoV2 layout on first use",
                 example={"data.synth_size": "tiny"}, roles=_CLOTHO_ROLES, strict=True, generated=True,
                 tiny="retrieval.data.tiny:write_tiny_synthcaps")
DATASETS.declare("audiocaps", "retrieval.data.datasets:AUDIOCAPS",
                 "AudioCaps: a CSV per split, AudioSet labels as keywords, missing audio counted",
                 example={"data.root": "/data/audiocaps"}, roles={"train": "train", "val": "val", "test": "test"},
                 strict=False, generated=False, tiny="retrieval.data.tiny:write_tiny_audiocaps")
DATASETS.declare("wavcaps", "retrieval.data.datasets:WAVCAPS",
                 "WavCaps: four source JSONs (pre-training only: one split, train)",
                 example={"data.dataset": "clotho", "data.root": "/data/clotho",
                          "data.train_on": ["clotho", "wavcaps"], "data.wavcaps.root": "/data/wavcaps"},
                 roles={"train": "train"}, strict=False, generated=False, tiny="retrieval.data.tiny:write_tiny_wavcaps")

#: ``features.kind``: a :class:`retrieval.data.features.Recipe` (the steps that differ between the log-mel
#: frontends; ``retrieval.data.features``).
FRONTENDS = Registry("frontend", key="features.kind", error=ConfigError)
FRONTENDS.declare("logmel", "retrieval.data.features:LOGMEL",
                  "torch.stft (zero padding) + librosa's Slaney mel filterbank, power in dB")
FRONTENDS.declare("panns", "retrieval.data.features:PANNS",
                  "the PANNs frontend: as logmel with reflect padding; fed to the encoder as is",
                  example={"features.sample_rate": 32000, "features.n_mels": 64, "features.hop_length": 320,
                           "features.f_min": 50.0, "features.f_max": 14000.0})
FRONTENDS.declare("passt", "retrieval.data.features:PASST",
                  "the PaSST frontend: pre-emphasis, Kaldi mel banks, (ln(x + 1e-5) + 4.5) / 5; fed as is",
                  example={"features.sample_rate": 32000, "features.n_mels": 128, "features.hop_length": 320,
                           "features.win_length": 800})

#: The augmentations, one entry per ``augment.<section>``: ``(section config, **resources) -> step`` or None when
#: the settings switch it off (then nothing is drawn). ``modality``: ``audio`` steps ``(x [B, n_mels, T], lengths,
#: torch.Generator) -> x`` run at ``stage`` ``raw`` (dB log-mels, before standardisation) or ``normalised``;
#: ``text`` steps ``(caption, numpy Generator, variation key) -> (caption, counted)`` run per caption. Steps run by
#: ``order`` (``retrieval.augment.audio.AudioAugment``, ``retrieval.augment.text.TextAugment``); ``switches``:
#: the keys that switch an audio step on (a frozen, cached encoder refuses them); ``counter``: a text step's name
#: in ``TextAugment.stats()``; ``needs``: the resources a text step is built with (prepared once per run).
AUGMENTATIONS = Registry("augmentation", error=ConfigError)
AUGMENTATIONS.declare("gain", "retrieval.augment.audio:build_gain",
                      "random gain ~ U(-g_max, g_max) dB per clip, on the raw dB log-mels",
                      example={"augment.gain.g_max": 3.0}, modality="audio", stage="raw", order=10,
                      section="augment.gain", switches=("augment.gain.g_max",))
AUGMENTATIONS.declare("mixstyle", "retrieval.augment.audio:build_mixstyle",
                      "Freq-MixStyle: per-frequency statistics mixed between the clips of a batch",
                      example={"augment.mixstyle.p": 0.8, "augment.mixstyle.alpha": 0.5}, modality="audio",
                      stage="normalised", order=20, section="augment.mixstyle", switches=("augment.mixstyle.p",))
AUGMENTATIONS.declare("specaugment", "retrieval.augment.audio:build_specaugment",
                      "SpecAugment without time warping: frequency and time stripes set to 0 (the mean)",
                      example={"augment.spec.n_f": 1, "augment.spec.w_f": 4, "augment.spec.n_t": 2,
                               "augment.spec.w_t": 10}, modality="audio", stage="normalised", order=30,
                      section="augment.spec", switches=("augment.spec.n_f", "augment.spec.n_t"))
AUGMENTATIONS.declare("variations", "retrieval.augment.variations:build_variations",
                      "a training caption swapped for one of its recording's caption variations (a file)",
                      example={"augment.variations.p": 0.5, "augment.variations.file": "variations.json"},
                      modality="text", order=10, section="augment.variations", counter="variation",
                      needs=("variations",))
AUGMENTATIONS.declare("backtranslation", "retrieval.augment.backtranslate:build_back_translation",
                      "a training caption replaced by its back-translation (Apertium, English-Spanish-English)",
                      example={"augment.bt.p_bt": 0.5}, modality="text", order=20, section="augment.bt",
                      counter="back_translation", needs=("back_translations",))
AUGMENTATIONS.declare("eda", "retrieval.augment.text:build_eda",
                      "EDA: one of synonym replacement, swap, insertion, deletion per augmented caption",
                      example={"augment.eda.p_eda": 0.5, "augment.eda.p_swp": 0.3, "augment.eda.p_del": 0.3},
                      modality="text", order=30, section="augment.eda", counter="eda", needs=())

#: Every registry of the library, for the shared contract tests (``tests/contract``) and the docs.
REGISTRIES: tuple[Registry, ...] = (AUDIO_ENCODERS, TEXT_ENCODERS, FUSIONS, DATASETS, FRONTENDS, AUGMENTATIONS)


def augmentation_steps(modality: str) -> list:
    """The augmentation entries of ``modality`` (``audio`` / ``text``) in the order they run."""
    return sorted(AUGMENTATIONS.where(modality=modality), key=lambda e: (e.meta.get("order", 0), e.name))


def augmentation_section(augment: "AugmentConfig", entry: Any) -> Any:
    """The config section an augmentation entry is built from (its ``meta["section"]``: ``augment.<field>``)."""
    return getattr(augment, entry.meta["section"].split(".", 1)[1])


# --------------------------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class ClothoDataConfig:
    """Where ClothoV2 lives when it is not ``data.dataset`` (``data.root`` serves the primary data set)."""

    root: str | None = None


@dataclass(frozen=True)
class AudioCapsDataConfig:
    """AudioCaps: ``{train,val,test}.csv`` + audio (``audio_pattern``) + optional AudioSet labels."""

    root: str | None = None  # None: data.root when data.dataset is audiocaps
    # relative to the root; {split} {youtube_id} {start_time} {audiocap_id}, and {ext}: wav, then flac is tried
    audio_pattern: str = "audio/{split}/{youtube_id}_{start_time}.{ext}"
    # class_labels_indices.csv + *_segments.csv; None = the AudioCaps root
    labels_dir: str | None = None

    def _validate(self, key: str) -> None:
        _check_pattern(self.audio_pattern, f"{key}.audio_pattern", ("split", "youtube_id", "start_time",
                                                                    "audiocap_id", "ext"), ("youtube_id",))


@dataclass(frozen=True)
class WavCapsDataConfig:
    """WavCaps: ``json_files/<source>/*.json`` + audio (``audio_pattern``); pre-training only (one split, train)."""

    root: str | None = None  # None: data.root when data.dataset is wavcaps
    audio_pattern: str = "audio/{source}/{id}.flac"  # relative to the root; {source} {id}
    # FreeSound ids to leave out (CSV with a sound_id column); None = every *excluded_freesound_ids.csv in the root
    exclude: str | None = None

    def _validate(self, key: str) -> None:
        _check_pattern(self.audio_pattern, f"{key}.audio_pattern", ("source", "id"), ("id",))


def _check_pattern(pattern: str, key: str, known: tuple[str, ...], required: tuple[str, ...]) -> None:
    import string

    try:
        names = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        raise ConfigError(f"{key}: {pattern!r} is not a valid pattern ({exc})") from None
    unknown = [n for n in names if n not in known]
    _check(not unknown, key, f"unknown placeholder {{{unknown[0] if unknown else ''}}} "
                             f"(known: {', '.join('{' + k + '}' for k in known)})")
    missing = [r for r in required if r not in names]
    _check(not missing, key, f"must contain {{{missing[0] if missing else ''}}}")


@dataclass(frozen=True)
class DataConfig:
    """Which data set to train and evaluate on.

    ``dataset`` names a loader (``clotho`` reads the ClothoV2 layout; ``synthcaps`` generates SynthCaps in the
    ClothoV2 layout on first use and then reads it with the Clotho loader; ``audiocaps`` and ``wavcaps`` read
    those releases, see ``retrieval.data.datasets``). ``dataset`` is the primary data set: validation is on its
    validation split and ``per_query.csv`` on its test split. ``train_on`` concatenates the training splits of
    several data sets (empty: ``dataset`` alone); after training the test split of every listed data set that has
    one is evaluated too. The split names are the primary data set's; the Clotho names (development, validation,
    evaluation) also stand for the other data sets' train / val / test splits.
    """

    dataset: str = "synthcaps"  # an entry of DATASETS
    root: str | None = None  # data folder; for synthcaps None means <cache_dir>/synthcaps-<size>-seed<seed>-v<version>
    synth_size: Literal["tiny", "small", "default"] = "small"
    synth_seed: int = 0
    # SynthCaps generator version (retrieval.data.synthcaps.VERSIONS); every version generates exactly what it always
    # did. A configuration that names none means 1.1.0, the generator before versions existed, so every earlier
    # configuration and run directory keeps its meaning and its fingerprint (see TrialConfig.fingerprint). The
    # synthcaps* named configs set 2.0.0 (since 2026-11-29; the -v1 configs keep 1.1.0)
    synth_version: Literal["1.1.0", "2.0.0"] = LEGACY_SYNTH_VERSION
    train_split: str = "development"
    val_split: str = "validation"
    test_split: str = "evaluation"
    train_on: tuple[str, ...] = ()  # e.g. [clotho, audiocaps, wavcaps]; () = [dataset]
    clotho: ClothoDataConfig = field(default_factory=ClothoDataConfig)
    audiocaps: AudioCapsDataConfig = field(default_factory=AudioCapsDataConfig)
    wavcaps: WavCapsDataConfig = field(default_factory=WavCapsDataConfig)
    # "clip": an epoch visits every training recording once, with one of its captions drawn at random.
    # "caption": an epoch visits every (recording, caption) pair (5x the work per epoch on Clotho-style data).
    epoch_mode: Literal["clip", "caption"] = "clip"
    # cap on training recordings (quick experiments), per data set of train_on; None = all
    max_train_items: int | None = None
    cache_dir: str | None = None  # features + generated data; None = $RETRIEVAL_CACHE or ~/.cache/audio-retrieval-harness

    @property
    def training_sets(self) -> tuple[str, ...]:
        """The data sets whose training splits are concatenated (``train_on``, or ``(dataset,)``)."""
        return tuple(self.train_on) or (self.dataset,)

    def root_of(self, dataset: str) -> str | None:
        """The folder of ``dataset``: its own ``data.<name>.root``, else ``data.root`` for the primary data set."""
        own = getattr(getattr(self, dataset, None), "root", None)
        if own is not None:
            return own
        return self.root if dataset == self.dataset else None

    def _validate(self, key: str) -> None:
        _check(self.max_train_items is None or self.max_train_items > 0, f"{key}.max_train_items", "must be > 0")
        DATASETS.check(self.dataset, key=f"{key}.dataset")
        for i, name in enumerate(self.train_on):
            DATASETS.check(name, key=f"{key}.train_on[{i}]")
        roles = DATASETS.entry(self.dataset).meta.get("roles", {})
        if not ("val" in roles and "test" in roles):
            evaluable = [e.name for e in DATASETS.entries() if not e.meta.get("generated")
                         and {"val", "test"} <= set(e.meta.get("roles", {}))]
            _check(False, f"{key}.dataset",
                   f"{self.dataset!r} has no validation or test split (it is a pre-training set): train on it "
                   f"with data.train_on=[{(evaluable or ['...'])[0]}, {self.dataset}] and validate on "
                   f"{' or '.join(evaluable) or 'another data set'}")
        _check(_generated(self.dataset) or self.root_of(self.dataset) is not None, f"{key}.root",
               f"is required for dataset {self.dataset!r}")
        dup = sorted({d for d in self.train_on if self.train_on.count(d) > 1})
        _check(not dup, f"{key}.train_on", f"lists {dup[0] if dup else ''!r} twice")
        for name in self.train_on:
            if not _generated(name) and name != self.dataset:
                _check(self.root_of(name) is not None, f"{key}.{name}.root",
                       f"is required: {name!r} is in data.train_on (give the folder of its files)")


def _generated(dataset: str) -> bool:
    """True for a data set made on first use (SynthCaps): it needs no folder."""
    return bool(DATASETS.entry(dataset).meta.get("generated", False))


@dataclass(frozen=True)
class FeaturesConfig:
    """Log-mel frontend. ``kind`` picks the recipe (see ``retrieval.data.features``):

    * ``logmel``: ``torch.stft`` (zero padding) + librosa's Slaney mel filterbank, power in dB; the model then
      standardises with the training split's mean and standard deviation;
    * ``panns``: the PANNs frontend (reflect padding, Slaney mel, dB with ``top_db_floor``), fed to the encoder
      as is (PANNs' ``bn0`` normalises): use with PANNs checkpoints (32 kHz, 64 mels, 50-14000 Hz);
    * ``passt``: the PaSST frontend (pre-emphasis, 800-sample Hann window, Kaldi mel banks, ``ln(x + 1e-5)``,
      ``(x + 4.5) / 5``), fed to the encoder as is: use with PaSST checkpoints (32 kHz, 128 mels, hop 320).
    """

    kind: str = "logmel"  # an entry of FRONTENDS
    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 640
    n_mels: int = 32
    f_min: float = 0.0
    f_max: float | None = None  # None = sample_rate / 2
    top_db_floor: float = 1e-10  # power floor before log (clamp(min=...))
    train_seconds: float = 5.0  # random crop (or zero-pad) length in training
    eval_seconds: float = 6.0  # centre crop (or zero-pad) length in evaluation

    def _validate(self, key: str) -> None:
        FRONTENDS.check(self.kind, key=f"{key}.kind")
        _check(self.sample_rate >= 4000, f"{key}.sample_rate", "must be >= 4000")
        _check(self.n_fft >= 64, f"{key}.n_fft", "must be >= 64")
        _check(0 < self.win_length <= self.n_fft, f"{key}.win_length", "must be in (0, n_fft]")
        _check(self.hop_length > 0, f"{key}.hop_length", "must be > 0")
        _check(8 <= self.n_mels <= 256, f"{key}.n_mels", "must be in [8, 256]")
        f_max = self.f_max if self.f_max is not None else self.sample_rate / 2
        _check(0 <= self.f_min < f_max <= self.sample_rate / 2, f"{key}.f_max",
               "need 0 <= f_min < f_max <= sample_rate / 2")
        _check(self.top_db_floor > 0, f"{key}.top_db_floor", "must be > 0")
        _check(self.train_seconds > 0, f"{key}.train_seconds", "must be > 0")
        _check(self.eval_seconds > 0, f"{key}.eval_seconds", "must be > 0")


@dataclass(frozen=True)
class CnnEncoderConfig:
    """``audio_encoder.cnn``: options of the CNN encoders (``cnn-small``; ``cnn10`` / ``cnn14`` have the fixed PANNs
    channels)."""

    width: int = 16  # cnn-small: channels of the first block (doubled per block)

    def _validate(self, key: str) -> None:
        _check(1 <= self.width <= 512, f"{key}.width", "must be in [1, 512]")


@dataclass(frozen=True)
class PasstEncoderConfig:
    """``audio_encoder.passt``: options of PaSST (``retrieval.encoders.passt``)."""

    # transformer width / depth / heads, patch size and stride (PaSST-S: 768 / 12 / 12, 16, 10) and the length of
    # the time positional embedding in patches (99 for the 10-second checkpoints)
    dim: int = 768
    depth: int = 12
    heads: int = 12
    patch_size: int = 16
    patch_stride: int = 10
    max_time_patches: int = 99
    # training only: structured patchout, the number of time columns / frequency rows of patches dropped
    s_patchout_t: int = 0
    s_patchout_f: int = 0

    def _validate(self, key: str) -> None:
        _check(self.dim > 0 and self.heads >= 1 and self.dim % self.heads == 0, f"{key}.dim",
               f"must be > 0 and divisible by {key}.heads")
        _check(1 <= self.depth <= 48, f"{key}.depth", "must be in [1, 48]")
        _check(1 <= self.patch_stride <= self.patch_size <= 64, f"{key}.patch_stride",
               "need 1 <= patch_stride <= patch_size <= 64")
        _check(self.max_time_patches >= 1, f"{key}.max_time_patches", "must be >= 1")
        for name in ("s_patchout_t", "s_patchout_f"):
            _check(0 <= getattr(self, name) <= 1000, f"{key}.{name}", "must be in [0, 1000]")


@dataclass(frozen=True)
class AudioEncoderConfig:
    """Audio encoder: a registry name (see ``retrieval.encoders.audio.list_audio_encoders()``), the options every
    encoder shares, and one subsection per encoder family (``cnn``, ``passt``), as open_clip keeps one config per
    tower.

    Before the subsections existed their keys sat directly in ``audio_encoder`` (``audio_encoder.width``,
    ``audio_encoder.dim``, ``audio_encoder.s_patchout_t`` ...). Those spellings stay valid everywhere (config files,
    old run folders' ``config.yaml``, ``--set``, study search spaces): see :data:`KEY_ALIASES`.
    """

    name: str = "cnn-small"  # an entry of AUDIO_ENCODERS
    dropout: float = 0.2  # cnn*: between convolutional blocks; passt: after attention and the MLP
    checkpoint: str | None = None  # local state-dict file (pretrained weights); None = random init
    frozen: bool = False
    # frozen encoders only: compute the encoder's outputs once per data set and keep them on disk
    # (<data.cache_dir>/encoded/...); trials then train only the projections and the fusion head
    cache: bool = True
    # embed fixed-length segments separately and average them over the segments holding real audio (PaSST: 10 s);
    # None = the whole crop at once
    segment_seconds: float | None = None
    cnn: CnnEncoderConfig = field(default_factory=CnnEncoderConfig)
    passt: PasstEncoderConfig = field(default_factory=PasstEncoderConfig)

    # the flat spellings of the subsections' keys: old name -> (subsection, key)
    ALIASES: ClassVar[dict[str, tuple[str, str]]] = {
        "width": ("cnn", "width"),
        **{k: ("passt", k) for k in ("dim", "depth", "heads", "patch_size", "patch_stride", "max_time_patches",
                                     "s_patchout_t", "s_patchout_f")},
    }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "AudioEncoderConfig":
        """Build and validate the section from a mapping (the flat spellings of :data:`KEY_ALIASES` allowed)."""
        return _build(cls, raw, "audio_encoder")

    def _validate(self, key: str) -> None:
        AUDIO_ENCODERS.check(self.name, key=f"{key}.name")
        _check(0.0 <= self.dropout < 1.0, f"{key}.dropout", "must be in [0, 1)")
        _check(self.segment_seconds is None or self.segment_seconds > 0, f"{key}.segment_seconds",
               "must be > 0 or null")
        _check(not (self.frozen and (self.passt.s_patchout_t or self.passt.s_patchout_f)),
               f"{key}.passt.s_patchout_t",
               "patchout (s_patchout_t / s_patchout_f) acts only while the encoder trains; a frozen encoder "
               "(audio_encoder.frozen=true) always runs in eval mode: set both to 0")


@dataclass(frozen=True)
class TextEncoderConfig:
    """Text encoder: ``tiny-bert`` (trained from scratch) or ``hf`` (any local Hugging Face model folder)."""

    name: str = "tiny-bert"  # an entry of TEXT_ENCODERS
    # hf: a local folder with config, weights and tokenizer, or a model name (roberta-base, org/name) found in the
    # offline Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub); nothing is downloaded
    path: str | None = None
    hidden: int = 128  # tiny-bert
    layers: int = 2  # tiny-bert
    heads: int = 4  # tiny-bert
    vocab_size: int = 2000  # tiny-bert: WordPiece vocabulary trained on the training captions
    max_tokens: int = 32
    dropout: float = 0.1
    # tiny-bert: also learn the vocabulary from this many passes of the training captions through the run's text
    # augmentations (variations, back-translation, EDA), so the words they bring in are whole pieces, not strings of
    # characters. 0: the training captions and metadata only (as before this key existed).
    vocab_augment_passes: int = 0
    # sentence embedding: "cls" (the first token's output, as in the papers) or "mean" over tokens. A tiny-bert
    # trained from scratch learns about twice as fast with "mean" (SynthCaps small, 12 epochs: val mAP@10 0.19 vs
    # 0.09), so the SynthCaps configs use it.
    pooling: Literal["cls", "mean"] = "cls"
    frozen: bool = False
    cache: bool = True  # frozen encoders only: embed every caption / keyword text of a data set once, on disk

    def _validate(self, key: str) -> None:
        TEXT_ENCODERS.check(self.name, key=f"{key}.name")
        _check(self.hidden > 0 and self.hidden % self.heads == 0, f"{key}.hidden",
               "must be > 0 and divisible by heads")
        _check(1 <= self.layers <= 48, f"{key}.layers", "must be in [1, 48]")
        _check(self.heads >= 1, f"{key}.heads", "must be >= 1")
        _check(100 <= self.vocab_size <= 200_000, f"{key}.vocab_size", "must be in [100, 200000]")
        _check(4 <= self.max_tokens <= 512, f"{key}.max_tokens", "must be in [4, 512]")
        _check(0.0 <= self.dropout < 1.0, f"{key}.dropout", "must be in [0, 1)")
        _check(0 <= self.vocab_augment_passes <= 100, f"{key}.vocab_augment_passes", "must be in [0, 100]")
        _check(self.name != "hf" or bool(self.path), f"{key}.path",
               "is required for the 'hf' text encoder (a local folder with config, weights and tokenizer)")


@dataclass(frozen=True)
class MidFusionConfig:
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1

    def _validate(self, key: str) -> None:
        _check(1 <= self.layers <= 12, f"{key}.layers", "must be in [1, 12]")
        _check(self.heads >= 1, f"{key}.heads", "must be >= 1")
        _check(0.0 <= self.dropout < 1.0, f"{key}.dropout", "must be in [0, 1)")


@dataclass(frozen=True)
class FusionConfig:
    """How an item (recording + metadata) is embedded: ``none`` (audio only), ``late`` (sum), ``mid`` (MMT)."""

    kind: str = "none"  # an entry of FUSIONS
    embed_dim: int = 128  # the shared retrieval space
    metadata: Literal["keywords"] = "keywords"
    metadata_dropout: float = 0.0  # training: probability of hiding an item's metadata (robustness to missing tags)
    mid: MidFusionConfig = field(default_factory=MidFusionConfig)

    def _validate(self, key: str) -> None:
        FUSIONS.check(self.kind, key=f"{key}.kind")
        _check(self.embed_dim >= 8, f"{key}.embed_dim", "must be >= 8")
        _check(0.0 <= self.metadata_dropout <= 1.0, f"{key}.metadata_dropout", "must be in [0, 1]")
        _check(self.kind != "mid" or self.embed_dim % self.mid.heads == 0, f"{key}.mid.heads",
               "must divide fusion.embed_dim")


@dataclass(frozen=True)
class LossConfig:
    """Symmetric NT-Xent; every caption of the same recording in a batch is a positive."""

    temperature: float = 0.05
    learn_temperature: bool = False

    def _validate(self, key: str) -> None:
        _check(0.001 <= self.temperature <= 10.0, f"{key}.temperature", "must be in [0.001, 10]")


@dataclass(frozen=True)
class GainConfig:
    g_max: float = 0.0  # dB; a gain drawn from U(-g_max, g_max) per clip

    def _validate(self, key: str) -> None:
        _check(0.0 <= self.g_max <= 40.0, f"{key}.g_max", "must be in [0, 40] dB")


@dataclass(frozen=True)
class SpecAugmentConfig:
    n_f: int = 0  # number of frequency masks
    w_f: int = 8  # maximum frequency mask width (mel bins)
    n_t: int = 0  # number of time masks
    w_t: int = 20  # maximum time mask width (frames)

    def _validate(self, key: str) -> None:
        for name in ("n_f", "n_t"):
            _check(0 <= getattr(self, name) <= 32, f"{key}.{name}", "must be in [0, 32]")
        for name in ("w_f", "w_t"):
            _check(1 <= getattr(self, name) <= 1000, f"{key}.{name}", "must be in [1, 1000]")


@dataclass(frozen=True)
class MixStyleConfig:
    p: float = 0.0  # probability per clip
    alpha: float = 0.3  # Beta(alpha, alpha)

    def _validate(self, key: str) -> None:
        _check(0.0 <= self.p <= 1.0, f"{key}.p", "must be in [0, 1]")
        _check(0.0 < self.alpha <= 10.0, f"{key}.alpha", "must be in (0, 10]")


@dataclass(frozen=True)
class EDAConfig:
    p_eda: float = 0.0  # probability that a caption is augmented
    p_syn: float = 0.0  # per-word probabilities of the four operations (one operation is chosen per caption)
    p_swp: float = 0.0
    p_ins: float = 0.0
    p_del: float = 0.0
    wordnet_dir: str | None = None  # None: $WORDNET_DIR, then /usr/share/wordnet

    def _validate(self, key: str) -> None:
        for name in ("p_eda", "p_syn", "p_swp", "p_ins", "p_del"):
            _check(0.0 <= getattr(self, name) <= 1.0, f"{key}.{name}", "must be in [0, 1]")


@dataclass(frozen=True)
class BackTranslationConfig:
    """Back-translation with Apertium (``eng-spa`` then ``spa-eng``), computed once per data set and cached."""

    p_bt: float = 0.0  # probability that a training caption is replaced by its back-translation

    def _validate(self, key: str) -> None:
        _check(0.0 <= self.p_bt <= 1.0, f"{key}.p_bt", "must be in [0, 1]")


@dataclass(frozen=True)
class VariationsConfig:
    """Caption variation files (JSON: file name -> list of captions, e.g. the GPT-augmented ClothoV2 captions)."""

    file: str | None = None
    p: float = 0.0  # probability that a training caption is swapped for one of its recording's variations
    # an entry of DATASETS: whose training recordings the file names refer to; None = data.dataset
    dataset: str | None = None

    def _validate(self, key: str) -> None:
        if self.dataset is not None:
            DATASETS.check(self.dataset, key=f"{key}.dataset")
        _check(0.0 <= self.p <= 1.0, f"{key}.p", "must be in [0, 1]")
        _check(self.p == 0.0 or bool(self.file), f"{key}.file", "is required when augment.variations.p > 0")


@dataclass(frozen=True)
class AugmentConfig:
    gain: GainConfig = field(default_factory=GainConfig)
    spec: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    mixstyle: MixStyleConfig = field(default_factory=MixStyleConfig)
    eda: EDAConfig = field(default_factory=EDAConfig)
    bt: BackTranslationConfig = field(default_factory=BackTranslationConfig)
    variations: VariationsConfig = field(default_factory=VariationsConfig)


@dataclass(frozen=True)
class OptimConfig:
    name: Literal["adam", "adamw"] = "adam"
    lr_audio: float = 3e-3
    lr_text: float = 3e-3
    lr_head: float = 3e-3
    weight_decay: float = 0.0
    warmup_epochs: int = 1  # linear warm-up (per step) over this many epochs, then cosine decay
    min_lr_ratio: float = 0.01  # cosine decays each learning rate to lr * min_lr_ratio
    grad_clip: float | None = 5.0

    def _validate(self, key: str) -> None:
        for name in ("lr_audio", "lr_text", "lr_head"):
            _check(0.0 <= getattr(self, name) <= 1.0, f"{key}.{name}", "must be in [0, 1]")
        _check(self.weight_decay >= 0.0, f"{key}.weight_decay", "must be >= 0")
        _check(self.warmup_epochs >= 0, f"{key}.warmup_epochs", "must be >= 0")
        _check(0.0 <= self.min_lr_ratio <= 1.0, f"{key}.min_lr_ratio", "must be in [0, 1]")
        _check(self.grad_clip is None or self.grad_clip > 0, f"{key}.grad_clip", "must be > 0 or null")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 25
    batch_size: int = 32
    patience: int | None = None  # early stopping: epochs without val mAP@10 improvement; None = never
    seed: int = 0
    num_threads: int | None = None  # torch threads; None = leave torch's default
    eval_batch_size: int = 128
    device: Literal["cpu", "cuda"] = "cpu"
    amp: bool = True  # mixed precision (torch.autocast + GradScaler) on CUDA; ignored on the CPU
    progress: bool = True  # a progress bar per epoch
    # fine-tuning: start from the weights of a finished run (its folder: best.pt, and text_encoder/ for tiny-bert's
    # vocabulary) or of a state-dict file; the model must have the same architecture. None = from scratch.
    init_from: str | None = None

    def _validate(self, key: str) -> None:
        _check(1 <= self.epochs <= 10_000, f"{key}.epochs", "must be in [1, 10000]")
        _check(2 <= self.batch_size <= 4096, f"{key}.batch_size", "must be in [2, 4096]")
        _check(self.patience is None or self.patience >= 1, f"{key}.patience", "must be >= 1 or null")
        _check(self.num_threads is None or self.num_threads >= 1, f"{key}.num_threads", "must be >= 1 or null")
        _check(self.eval_batch_size >= 1, f"{key}.eval_batch_size", "must be >= 1")


@dataclass(frozen=True)
class TrialConfig:
    """The complete, resolved configuration of one training run."""

    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    audio_encoder: AudioEncoderConfig = field(default_factory=AudioEncoderConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> "TrialConfig":
        """Build and validate from a nested mapping; missing keys take their defaults."""
        return _build(cls, raw or {}, "")

    @classmethod
    def load(cls, name_or_path: str | Path) -> "TrialConfig":
        """Load a named built-in config (``synthcaps-small``) or a YAML file.

        A YAML file may start from another config with ``extends: NAME_OR_PATH``.
        """
        return cls.from_dict(load_raw(name_or_path))

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts (tuples become lists), as written to ``config.yaml``; ``from_dict`` reads it back."""
        return _plain(dataclasses.asdict(self))

    def with_overrides(self, overrides: Mapping[str, Any]) -> "TrialConfig":
        """A new config with dotted keys replaced, e.g. ``{"fusion.kind": "late"}``. Values are re-validated.
        Old spellings (:data:`KEY_ALIASES`, e.g. ``audio_encoder.width``) set the key they stand for."""
        raw = self.to_dict()
        for dotted, value in overrides.items():
            set_dotted(raw, canonical_key(dotted), value)
        return TrialConfig.from_dict(raw)

    def fingerprint(self) -> str:
        """Stable 16-hex-digit hash of the resolved configuration (key order and formatting do not matter).

        Settings that cannot change a result (:data:`NON_SEMANTIC_KEYS`: progress bars, the cache folder) are left
        out, so the same experiment has the same fingerprint wherever it runs; so is ``data.synth_version`` when it
        is :data:`LEGACY_SYNTH_VERSION`, and each key of :data:`LATER_KEYS` at its old meaning. The keys of :data:`KEY_ALIASES` are
        hashed under their old (flat) spelling, so moving them into subsections changed no fingerprint."""
        raw = self.to_dict()
        for dotted in NON_SEMANTIC_KEYS:
            section, key = dotted.split(".")
            raw[section].pop(key, None)
        if raw["data"].get("synth_version") == LEGACY_SYNTH_VERSION:  # hashed as before versions existed
            raw["data"].pop("synth_version")
        for dotted, before in LATER_KEYS.items():
            section, key = dotted.split(".")
            if raw[section].get(key, before) == before:
                raw[section].pop(key, None)
        raw = _flat_layout(raw)  # hashed as before the subsections existed, so every fingerprint stays the same
        blob = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def validate(self) -> None:
        _validate_tree(self, "")

    def _validate(self, key: str) -> None:
        # A frozen audio encoder whose outputs are cached never sees the training input again, so input
        # augmentations cannot act: refuse them instead of silently skipping them.
        if self.audio_encoder.frozen and self.audio_encoder.cache:
            raw = self.to_dict()
            active = [k for entry in augmentation_steps("audio") for k in entry.meta.get("switches", ())
                      if _get_dotted(raw, k) > 0]
            _check(not active, active[0] if active else "", f"{', '.join(active)} change the input of the audio "
                   "encoder, but a frozen, cached encoder (audio_encoder.frozen=true, audio_encoder.cache=true) "
                   "computes its outputs once: set them to 0, or set audio_encoder.cache=false")


# --------------------------------------------------------------------------------------------- old spellings
def _section_aliases() -> dict[str, str]:
    out = {}
    for section, cls in (("audio_encoder", AudioEncoderConfig),):
        for old, (sub, key) in cls.ALIASES.items():
            out[f"{section}.{old}"] = f"{section}.{sub}.{key}"
    return out


#: Old dotted spellings and the keys they stand for (``audio_encoder.width`` -> ``audio_encoder.cnn.width``,
#: ``audio_encoder.dim`` -> ``audio_encoder.passt.dim`` ...). They are accepted everywhere a key is: in config
#: files and run folders' ``config.yaml`` (old runs wrote them), in overrides (``--set audio_encoder.width=8``)
#: and as study search-space parameters (the shipped specs keep them: they are the Optuna parameter names their
#: studies recorded). The fingerprint hashes these keys under their old spelling.
KEY_ALIASES: dict[str, str] = _section_aliases()


def canonical_key(dotted: str) -> str:
    """The key ``dotted`` stands for: itself, or the new spelling of an old one (:data:`KEY_ALIASES`)."""
    return KEY_ALIASES.get(dotted, dotted)


def _move_aliases(cls: type, raw: Mapping[str, Any], prefix: str) -> Mapping[str, Any]:
    """``raw`` (a mapping for section ``cls``) with its old flat keys moved into their subsections."""
    aliases = getattr(cls, "ALIASES", None)
    if not aliases or not any(k in raw for k in aliases):
        return raw
    out = dict(raw)
    for old, (sub, key) in aliases.items():
        if old not in out:
            continue
        value = out.pop(old)
        section = out.get(sub)
        if section is None:
            section = {}
        if not isinstance(section, Mapping):
            raise ConfigError(f"{prefix}.{sub}: expected a mapping, got {type(section).__name__}")
        if key in section and section[key] != value:
            raise ConfigError(f"{prefix}.{old}: is the old spelling of {prefix}.{sub}.{key}, which is given too "
                              f"({value!r} vs {section[key]!r}); give one of them")
        out[sub] = {**section, key: value}
    return out


def upgrade_raw(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a nested config mapping with the old flat spellings (:data:`KEY_ALIASES`) moved to the keys they
    stand for; anything else (unknown keys included) is left for :meth:`TrialConfig.from_dict` to judge. Apply it
    to each mapping before :func:`deep_merge`-ing them, so an old spelling in one never meets a new one in the
    other."""
    return _upgrade(TrialConfig, raw, "")


def _upgrade(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, Mapping):
        return copy.deepcopy(raw)
    raw = _move_aliases(cls, raw, prefix)
    hints = typing.get_type_hints(cls)
    out = {}
    for name, value in raw.items():
        tp = hints.get(name)
        key = f"{prefix}.{name}" if prefix else name
        out[name] = _upgrade(tp, value, key) if _is_dataclass_type(tp) else copy.deepcopy(value)
    return out


def _flat_layout(raw: dict[str, Any]) -> dict[str, Any]:
    """``to_dict()`` output with the keys of :data:`KEY_ALIASES` back under their old spelling (fingerprints)."""
    raw = copy.deepcopy(raw)
    for old, new in KEY_ALIASES.items():
        *path, leaf = new.split(".")
        node = raw
        for part in path:
            node = node[part]
        value = node.pop(leaf)
        *old_path, old_leaf = old.split(".")
        target = raw
        for part in old_path:
            target = target[part]
        target[old_leaf] = value
    for new in KEY_ALIASES.values():  # drop the subsections the move emptied
        section, sub, _ = new.split(".")
        if sub in raw[section] and not raw[section][sub]:
            del raw[section][sub]
    return raw


# --------------------------------------------------------------------------------------------- helpers
def list_named_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_raw(name_or_path: str | Path, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a named config or YAML file into a nested dict, resolving ``extends``."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = CONFIG_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ConfigError(
                f"config: {name_or_path!r} is neither a file nor a named config "
                f"(named configs: {', '.join(list_named_configs())})")
    if not path.exists():
        raise ConfigError(f"config: file not found: {path}")
    key = str(path.resolve())
    if key in _seen:
        raise ConfigError(f"config: 'extends' cycle through {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {path} must hold a mapping at the top level")
    if "config" in raw and "fingerprint" in raw:  # a run directory's config.yaml
        raw = raw["config"]
    parent = raw.pop("extends", None)
    raw = upgrade_raw(raw)  # each file on its own, before merging: old spellings never meet new ones
    if parent is None:
        return raw
    base_path = Path(parent)
    if not base_path.is_absolute() and (path.parent / base_path).exists():
        base_path = path.parent / base_path
    base = load_raw(base_path if base_path.exists() else parent, _seen + (key,))
    return deep_merge(base, raw)


def deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _get_dotted(raw: Mapping[str, Any], dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        node = node[part]
    return node


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"{'.'.join(parts[: i + 1])}: is not a section, cannot set {dotted}")
        node = nxt
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` from the command line; the value is read as YAML (``1e-3``, ``true``, ``[a, b]``)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, value = text.split("=", 1)
    try:
        parsed = yaml.safe_load(value) if value != "" else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(raw).__name__}")
    raw = _move_aliases(cls, raw, prefix)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(f"{key}: unknown key (known keys here: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(hints[name], value, key)
    obj = cls(**kwargs)
    validate = getattr(obj, "_validate", None)
    if validate is not None:
        validate(prefix or "config")
    return obj


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if _is_dataclass_type(tp):
        return _build(tp, value, key)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:  # pragma: no cover - a bug in this module
            raise ConfigError(f"{key}: unsupported type {tp}")
        if isinstance(value, str):  # --set data.train_on=clotho,audiocaps
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(repr, choices))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{key}: must not be null")
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} does not fit {tp}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {tp}")  # pragma: no cover - a bug in this module


def _validate_tree(obj: Any, prefix: str) -> None:
    for f in dataclasses.fields(obj):
        val = getattr(obj, f.name)
        if dataclasses.is_dataclass(val):
            _validate_tree(val, f"{prefix}.{f.name}" if prefix else f.name)
    validate = getattr(obj, "_validate", None)
    if validate is not None:
        validate(prefix or "config")
