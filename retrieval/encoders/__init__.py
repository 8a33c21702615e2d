"""Audio and text encoder registries.

Audio: ``build_audio_encoder(cfg.audio_encoder, n_mels)`` → :class:`AudioEncoder` (``cnn-small``, ``cnn10``,
``cnn14``, ``passt``; :mod:`retrieval.encoders.passt` is PaSST with structured patchout, loading the released key
layout). Frozen encoders' outputs are cached on disk by :mod:`retrieval.encoders.cache`. Text: ``build_text_encoder(cfg.text_encoder, corpus=..., artifacts_dir=...)`` → :class:`TextEncoder`
(``tiny-bert``, ``hf``). New entries register with ``@AUDIO_ENCODERS.register(name)`` /
``@TEXT_ENCODERS.register(name)``; the shared tests in ``tests/retrieval/encoders`` run over every entry.
"""

from retrieval.encoders.audio import (
    AUDIO_ENCODERS,
    AudioEncoder,
    AudioEncoderOutput,
    build_audio_encoder,
    list_audio_encoders,
    load_audio_checkpoint,
)
from retrieval.encoders.registry import Registry
from retrieval.encoders.text import (
    TEXT_ENCODERS,
    TextEncoder,
    build_text_encoder,
    list_text_encoders,
    preprocess_caption,
)

__all__ = [
    "AUDIO_ENCODERS",
    "TEXT_ENCODERS",
    "AudioEncoder",
    "AudioEncoderOutput",
    "Registry",
    "TextEncoder",
    "build_audio_encoder",
    "build_text_encoder",
    "list_audio_encoders",
    "list_text_encoders",
    "load_audio_checkpoint",
    "preprocess_caption",
]
