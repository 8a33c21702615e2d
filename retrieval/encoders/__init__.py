"""Audio and text encoders.

Audio: ``build_audio_encoder(cfg.audio_encoder, n_mels)`` → :class:`AudioEncoder` (``cnn-small``, ``cnn10``,
``cnn14`` from :mod:`retrieval.encoders.cnn`; ``passt`` from :mod:`retrieval.encoders.passt`, PaSST with structured
patchout, loading the released key layout). The base class and output type are in :mod:`retrieval.encoders.base`,
which the encoder modules import (and which imports none of them). Frozen encoders' outputs are cached on disk by
:mod:`retrieval.encoders.cache`. Text: ``build_text_encoder(cfg.text_encoder, corpus=..., artifacts_dir=...)`` →
:class:`TextEncoder` (``tiny-bert``, ``hf``).

The registries :data:`AUDIO_ENCODERS` and :data:`TEXT_ENCODERS` (:class:`retrieval.registry.Registry`) are
declared in :mod:`retrieval.config.catalogue` and re-exported here (the config checks ``audio_encoder.name`` /
``text_encoder.name`` against them); an entry's factory module is imported when the entry is first built. Adding an
encoder is one module plus one entry (``AUDIO_ENCODERS.declare(name, "package.module:factory", ...)``, or
``@AUDIO_ENCODERS.register(name)`` in a plug-in); the shared contract tests (``tests/contract``) and ``tests/retrieval/encoders`` run over every entry.
"""

from retrieval.config import AUDIO_ENCODERS, TEXT_ENCODERS
from retrieval.encoders import cnn, passt  # noqa: F401 - the encoder modules (retrieval.encoders.cnn / .passt)
from retrieval.encoders.audio import build_audio_encoder
from retrieval.encoders.base import AudioEncoder, AudioEncoderOutput, load_audio_checkpoint
from retrieval.encoders.text import TextEncoder, build_text_encoder, preprocess_caption

__all__ = [
    "AUDIO_ENCODERS",
    "TEXT_ENCODERS",
    "AudioEncoder",
    "AudioEncoderOutput",
    "TextEncoder",
    "build_audio_encoder",
    "build_text_encoder",
    "load_audio_checkpoint",
    "preprocess_caption",
]
