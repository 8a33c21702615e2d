"""The plug-in catalogue: every registry of the library and its built-in entries.

Every plug-in kind a config names is a registry (:class:`retrieval.registry.Registry`): ``AUDIO_ENCODERS``
(``audio_encoder.name``), ``TEXT_ENCODERS`` (``text_encoder.name``), ``FUSIONS`` (``fusion.kind``), ``DATASETS``
(``data.dataset``, ``data.train_on``, ``augment.variations.dataset``), ``FRONTENDS`` (``features.kind``) and
``AUGMENTATIONS`` (one per ``augment.<section>``); :data:`REGISTRIES` lists them. A built-in entry is declared here
with the module and object that implement it (``"module:object"``, imported only when the entry is built), so
checking a name (the schema does, :mod:`retrieval.config.schema`) imports nothing heavy and this module imports no
implementation; an entry registered at run time (a plug-in, a test's toy fusion: ``@FUSIONS.register("toy")``) is
accepted by the config, the study specs and the trainer at once. Adding one is one module plus one entry.
``example``: the overrides that select the entry with small settings (what the shared contract tests in
``tests/contract`` build); the other keywords are static facts of the kind (``Entry.meta``), which the code that
would otherwise test an entry's *name* reads instead. The study samplers and schedulers are declared the same way
in :mod:`studies.spec`.

Example::

    >>> FUSIONS.names(), FUSIONS.entry("mid").meta["needs_sequence"]
    (['late', 'mid', 'none'], True)
    >>> TEXT_ENCODERS.entry("hf").meta["tokenizer"], is_generated("synthcaps")
    ('pretrained', True)
"""

from __future__ import annotations

from ..errors import ConfigError
from ..registry import Entry, Registry

__all__ = ["AUDIO_ENCODERS", "AUGMENTATIONS", "DATASETS", "FRONTENDS", "FUSIONS", "REGISTRIES", "TEXT_ENCODERS",
           "augmentation_steps", "is_generated"]

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
#: (``retrieval.encoders.text``). ``tokenizer``: ``learnt`` (a vocabulary learnt from the run's training corpus,
#: ``text_encoder.vocab_augment_passes`` applies) or ``pretrained`` (the model folder's own: ``text_encoder.path`` is
#: required); ``check``: ``"module:function"`` of ``(cfg: TextEncoderConfig) -> None`` that refuses, before any
#: work, a configuration whose files are missing; ``needs``: what an example build needs besides its overrides.
TEXT_ENCODERS = Registry("text encoder", key="text_encoder.name", error=ConfigError)
TEXT_ENCODERS.declare("tiny-bert", "retrieval.encoders.text:build_tiny_bert",
                      "a random BERT with a WordPiece vocabulary learnt from the training captions",
                      example={"text_encoder.hidden": 32, "text_encoder.layers": 1, "text_encoder.heads": 2,
                               "text_encoder.vocab_size": 150, "text_encoder.max_tokens": 16}, needs=("corpus",),
                      tokenizer="learnt")
TEXT_ENCODERS.declare("hf", "retrieval.encoders.text:build_hf",
                      "a local Hugging Face model folder (text_encoder.path; BERT, RoBERTa), loaded offline",
                      example={"text_encoder.max_tokens": 16}, needs=("hf_model",), tokenizer="pretrained",
                      check="retrieval.encoders.text:check_hf_folder")

#: ``fusion.kind``: ``(cfg: FusionConfig, audio_dim, audio_seq_dim, text_dim) -> FusionHead`` (``retrieval.fusion``).
#: ``needs_sequence``: the head reads the audio frame sequence (a frozen encoder's cache keeps it); ``section``: the
#: head's own config section, whose ``heads`` must divide ``fusion.embed_dim``.
FUSIONS = Registry("fusion", key="fusion.kind", error=ConfigError)
FUSIONS.declare("none", "retrieval.fusion:NoFusion", "content only: the pooled audio embedding")
FUSIONS.declare("late", "retrieval.fusion:LateFusion", "the audio embedding plus the embedded metadata keywords")
FUSIONS.declare("mid", "retrieval.fusion:MidFusion",
                "a transformer over the audio frames and the metadata token (two item parts, weighted queries)",
                example={"fusion.mid.layers": 1, "fusion.mid.heads": 2}, needs_sequence=True, section="fusion.mid")

#: ``data.dataset``, ``data.train_on``, ``augment.variations.dataset``: a
#: :class:`retrieval.data.datasets.DataSetLoader`. ``roles``: role (train / val / test) -> split name;
#: ``strict``: a missing audio file is an error; ``generated``: no folder needed, made on first use.
_CLOTHO_ROLES = {"train": "development", "val": "validation", "test": "evaluation"}
DATASETS = Registry("data set", key="data.dataset", error=ConfigError)
DATASETS.declare("clotho", "retrieval.data.datasets:CLOTHO", "ClothoV2.1: captions + metadata CSVs and audio folders",
                 example={"data.root": "/data/clotho"}, roles=_CLOTHO_ROLES, strict=True, generated=False)
DATASETS.declare("synthcaps", "retrieval.data.datasets:SYNTHCAPS",
                 "the built-in benchmark, generated in the ClothoV2 layout on first use",
                 example={"data.synth_size": "tiny"}, roles=_CLOTHO_ROLES, strict=True, generated=True)
DATASETS.declare("audiocaps", "retrieval.data.datasets:AUDIOCAPS",
                 "AudioCaps: a CSV per split, AudioSet labels as keywords, missing audio counted",
                 example={"data.root": "/data/audiocaps"}, roles={"train": "train", "val": "val", "test": "test"},
                 strict=False, generated=False)
DATASETS.declare("wavcaps", "retrieval.data.datasets:WAVCAPS",
                 "WavCaps: four source JSONs (pre-training only: one split, train)",
                 example={"data.dataset": "clotho", "data.root": "/data/clotho",
                          "data.train_on": ["clotho", "wavcaps"], "data.wavcaps.root": "/data/wavcaps"},
                 roles={"train": "train"}, strict=False, generated=False)

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


def augmentation_steps(modality: str) -> list[Entry]:
    """The augmentation entries of ``modality`` (``audio`` / ``text``) in the order they run."""
    return sorted(AUGMENTATIONS.where(modality=modality), key=lambda e: (e.meta.get("order", 0), e.name))


def is_generated(dataset: str) -> bool:
    """True for a data set made on first use (SynthCaps): it needs no folder."""
    return bool(DATASETS.entry(dataset).meta.get("generated", False))
