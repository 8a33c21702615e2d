"""The schema of the trial configuration: its typed, frozen sections and their checks.

A :class:`TrialConfig` is a tree of frozen dataclasses, one per section (``data``, ``features``,
``audio_encoder``, ``text_encoder``, ``fusion``, ``loss``, ``augment``, ``optim``, ``train``).
Every value is checked when the config is built: an unknown key, a value of the wrong type or a value out of
range raises :class:`ConfigError` naming the dotted key, before any work starts. The values a section names
(an encoder, a fusion, a data set ...) are checked against the registries of :mod:`retrieval.config.catalogue`
and the facts their entries declare (``Entry.meta``), never against literal names; building and reading files is
:mod:`retrieval.config.load`'s job, keeping earlier configurations and fingerprints valid
:mod:`retrieval.config.compat`'s.

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

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from ..checks import check_pattern, require
from ..errors import ConfigError
from ..registry import Entry
from . import compat
from .catalogue import (AUDIO_ENCODERS, DATASETS, FRONTENDS, FUSIONS, TEXT_ENCODERS, augmentation_steps,
                        is_generated)
from .compat import LEGACY_SYNTH_VERSION, canonical_key
from .load import build, get_dotted, load_raw, plain, set_dotted, validate_tree


#: ``_check(cond, key, msg)``: the shared validator's :func:`~retrieval.checks.require`, raising ConfigError.
_check = functools.partial(require, error=ConfigError)


def augmentation_section(augment: "AugmentConfig", entry: Entry) -> Any:
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
        check_pattern(self.audio_pattern, f"{key}.audio_pattern", ("split", "youtube_id", "start_time",
                                                                   "audiocap_id", "ext"), ("youtube_id",), ConfigError)


@dataclass(frozen=True)
class WavCapsDataConfig:
    """WavCaps: ``json_files/<source>/*.json`` + audio (``audio_pattern``); pre-training only (one split, train)."""

    root: str | None = None  # None: data.root when data.dataset is wavcaps
    audio_pattern: str = "audio/{source}/{id}.flac"  # relative to the root; {source} {id}
    # FreeSound ids to leave out (CSV with a sound_id column); None = every *excluded_freesound_ids.csv in the root
    exclude: str | None = None

    def _validate(self, key: str) -> None:
        check_pattern(self.audio_pattern, f"{key}.audio_pattern", ("source", "id"), ("id",), ConfigError)


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
        _check(is_generated(self.dataset) or self.root_of(self.dataset) is not None, f"{key}.root",
               f"is required for dataset {self.dataset!r}")
        dup = sorted({d for d in self.train_on if self.train_on.count(d) > 1})
        _check(not dup, f"{key}.train_on", f"lists {dup[0] if dup else ''!r} twice")
        for name in self.train_on:
            if not is_generated(name) and name != self.dataset:
                _check(self.root_of(name) is not None, f"{key}.{name}.root",
                       f"is required: {name!r} is in data.train_on (give the folder of its files)")


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
    """Audio encoder: a registry name (an entry of ``AUDIO_ENCODERS``), the options every
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

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "AudioEncoderConfig":
        """Build and validate the section from a mapping (the flat spellings of :data:`KEY_ALIASES` allowed)."""
        return build(cls, raw, "audio_encoder")

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
        pretrained = TEXT_ENCODERS.entry(self.name).meta.get("tokenizer") == "pretrained"
        _check(not pretrained or bool(self.path), f"{key}.path",
               f"is required for the {self.name!r} text encoder (a local folder with config, weights and tokenizer)")


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
        own = FUSIONS.entry(self.kind).meta.get("section")  # the head's own section (fusion.mid): its heads
        if own is not None:
            sub = own.split(".", 1)[1]
            _check(self.embed_dim % getattr(self, sub).heads == 0, f"{key}.{sub}.heads", "must divide fusion.embed_dim")


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


#: The random streams of split mode (``train.seed_streams.mode: split``), in the order the docs list them: the
#: initial weights, the data (epoch order, caption choice, crops), one per augmentation family (the audio steps by
#: their ``AUGMENTATIONS`` names; ``text``: variations, back-translation and EDA, each on a sub-stream of its own),
#: metadata dropout, and the model's own draws in training mode (``dropout``: dropout, PaSST's patchout).
SEED_STREAMS: tuple[str, ...] = ("init", "data", "gain", "mixstyle", "specaugment", "text", "metadata_dropout",
                                 "dropout")


@dataclass(frozen=True)
class SeedStreamsConfig:
    """``train.seed_streams``: where a run's random numbers come from (:mod:`retrieval.seeding`).

    ``single`` (the default, and what every configuration meant before this section existed): one seed,
    ``train.seed``, drives everything, as before. ``split``: every consumer draws from a stream of its own, so
    switching one augmentation off or changing one stream's seed leaves every other draw as it was. Each stream's
    seed is its own key here, or ``train.seed`` when null; streams with the same seed are still independent.
    """

    mode: Literal["single", "split"] = "single"
    init: int | None = None
    data: int | None = None
    gain: int | None = None
    mixstyle: int | None = None
    specaugment: int | None = None
    text: int | None = None
    metadata_dropout: int | None = None
    dropout: int | None = None
    #: split mode: > 0 gives every stream but ``init`` and ``data`` other draws (entropy ``[seed, redraw]``): an
    #: A/A arm of one recipe -- the same initial weights and data order as its pair, other augmentation and
    #: dropout draws (a real A/A check of a paired ablation, ``benchmarks/ablation_efficiency.py``)
    redraw: int = 0

    def seed_of(self, stream: str, seed: int) -> int:
        """The seed of ``stream`` in a run seeded with ``train.seed = seed``: its own, else ``seed``."""
        own = getattr(self, stream) if stream in SEED_STREAMS else None
        return seed if own is None else own

    def entropy_of(self, stream: str, seed: int) -> int | list[int]:
        """The entropy of ``stream``'s seed sequence: :meth:`seed_of`, with ``redraw`` mixed in for every stream but
        ``init`` and ``data`` when it is > 0."""
        own = self.seed_of(stream, seed)
        return [own, self.redraw] if self.redraw and stream not in ("init", "data") else own

    def _validate(self, key: str) -> None:
        for name in SEED_STREAMS:
            value = getattr(self, name)
            _check(value is None or self.mode == "split", f"{key}.{name}",
                   f"a stream's own seed needs {key}.mode=split (in single mode train.seed drives every draw)")
            _check(value is None or 0 <= value < 2**63, f"{key}.{name}", "must be in [0, 2**63) or null")
        _check(0 <= self.redraw < 2**63, f"{key}.redraw", "must be in [0, 2**63)")
        _check(self.redraw == 0 or self.mode == "split", f"{key}.redraw",
               f"other augmentation draws need {key}.mode=split (in single mode train.seed drives every draw)")


@dataclass(frozen=True)
class WeightAveragingConfig:
    """``train.weight_averaging``: evaluate (validation, best checkpoint, test) an average of the weights
    (:mod:`retrieval.averaging`, ``torch.optim.swa_utils``). ``none`` (the default, as before this section existed):
    the weights as trained. ``ema``: an exponential moving average updated after every optimiser step with
    ``decay``. ``swa``: the equal average of the weights at the end of every epoch from ``start_epoch`` (1-based)
    on, or of the last ``last_epochs`` epochs of ``train.epochs`` (give one of the two); epochs before it are
    evaluated with the weights as trained."""

    kind: Literal["none", "ema", "swa"] = "none"
    decay: float = 0.999  # ema: per optimiser step
    start_epoch: int | None = None  # swa: the first epoch whose weights are averaged
    last_epochs: int | None = None  # swa: average the last k epochs (start_epoch = train.epochs - k + 1)

    def _validate(self, key: str) -> None:
        _check(0.0 < self.decay < 1.0, f"{key}.decay", "must be in (0, 1)")
        _check(self.start_epoch is None or self.start_epoch >= 1, f"{key}.start_epoch", "must be >= 1 or null")
        _check(self.last_epochs is None or self.last_epochs >= 1, f"{key}.last_epochs", "must be >= 1 or null")
        if self.kind == "swa":
            _check((self.start_epoch is None) != (self.last_epochs is None), f"{key}.start_epoch",
                   f"swa needs exactly one of {key}.start_epoch and {key}.last_epochs")

    def swa_start(self, epochs: int) -> int:
        """The first averaged epoch (1-based) of a run of ``epochs`` epochs (``swa`` only)."""
        return self.start_epoch if self.start_epoch is not None else max(1, epochs - int(self.last_epochs) + 1)


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
    # one seed for everything (single, as before) or a stream per consumer (split), see SeedStreamsConfig
    seed_streams: SeedStreamsConfig = field(default_factory=SeedStreamsConfig)
    # evaluate an average of the weights (ema / swa) instead of the weights as trained (none)
    weight_averaging: WeightAveragingConfig = field(default_factory=WeightAveragingConfig)

    def _validate(self, key: str) -> None:
        _check(1 <= self.epochs <= 10_000, f"{key}.epochs", "must be in [1, 10000]")
        _check(2 <= self.batch_size <= 4096, f"{key}.batch_size", "must be in [2, 4096]")
        _check(self.patience is None or self.patience >= 1, f"{key}.patience", "must be >= 1 or null")
        _check(self.num_threads is None or self.num_threads >= 1, f"{key}.num_threads", "must be >= 1 or null")
        _check(self.eval_batch_size >= 1, f"{key}.eval_batch_size", "must be >= 1")
        _check(self.seed_streams.mode == "single" or 0 <= self.seed < 2**63, f"{key}.seed",
               "must be in [0, 2**63) with train.seed_streams.mode=split")
        wa = self.weight_averaging
        if wa.kind == "swa":
            _check(wa.start_epoch is None or wa.start_epoch <= self.epochs, f"{key}.weight_averaging.start_epoch",
                   f"is after the last epoch ({key}.epochs={self.epochs}): nothing would be averaged")
            _check(wa.last_epochs is None or wa.last_epochs <= self.epochs, f"{key}.weight_averaging.last_epochs",
                   f"must be <= {key}.epochs ({self.epochs})")


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
        return build(cls, raw or {}, "")

    @classmethod
    def load(cls, name_or_path: str | Path) -> "TrialConfig":
        """Load a named built-in config (``synthcaps-small``) or a YAML file.

        A YAML file may start from another config with ``extends: NAME_OR_PATH``.
        """
        return cls.from_dict(load_raw(name_or_path))

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts (tuples become lists), as written to ``config.yaml``; ``from_dict`` reads it back."""
        return plain(dataclasses.asdict(self))

    def with_overrides(self, overrides: Mapping[str, Any]) -> "TrialConfig":
        """A new config with dotted keys replaced, e.g. ``{"fusion.kind": "late"}``. Values are re-validated.
        Old spellings (:data:`KEY_ALIASES`, e.g. ``audio_encoder.width``) set the key they stand for."""
        raw = self.to_dict()
        for dotted, value in overrides.items():
            set_dotted(raw, canonical_key(dotted), value)
        return TrialConfig.from_dict(raw)

    def fingerprint(self) -> str:
        """Stable 16-hex-digit hash of the resolved configuration (key order and formatting do not matter).

        What it hashes is :func:`retrieval.config.compat.fingerprint`'s: settings that cannot change a result
        (``NON_SEMANTIC_KEYS``: progress bars, the cache folder) are left out, so the same experiment has the same
        fingerprint wherever it runs; so are ``data.synth_version`` when it is ``LEGACY_SYNTH_VERSION`` and each
        key of ``LATER_KEYS`` at its old meaning, and the keys of ``KEY_ALIASES`` are hashed under their old (flat)
        spelling, so no published fingerprint changed."""
        return compat.fingerprint(self.to_dict())

    def validate(self) -> None:
        validate_tree(self, "")

    def _validate(self, key: str) -> None:
        # A frozen audio encoder whose outputs are cached never sees the training input again, so input
        # augmentations cannot act: refuse them instead of silently skipping them.
        if self.audio_encoder.frozen and self.audio_encoder.cache:
            raw = self.to_dict()
            active = [k for entry in augmentation_steps("audio") for k in entry.meta.get("switches", ())
                      if get_dotted(raw, k) > 0]
            _check(not active, active[0] if active else "", f"{', '.join(active)} change the input of the audio "
                   "encoder, but a frozen, cached encoder (audio_encoder.frozen=true, audio_encoder.cache=true) "
                   "computes its outputs once: set them to 0, or set audio_encoder.cache=false")
