"""Split data in memory and batch assembly: what the training loop, the evaluation and the frozen-encoder cache
share.

- :class:`SplitData`: a split with its log-mels (and, for a frozen cached audio encoder, its encoded outputs);
- :func:`seconds_to_frames`, :func:`make_audio_batch` (crop or pad log-mels to one length) and
  :func:`normalise_batch` (standardise, then zero the padding): the one way audio batches are built;
- :func:`epoch_seed`, :func:`epoch_pairs`: what an epoch visits, and in which order;
- :class:`Draws`: the generators a training step draws from, one per consumer (the same two generators for all of
  them with one seed; :mod:`retrieval.seeding` makes them);
- :class:`BatchAssembler`: the training batch of a step (text augmentation, audio crop, gain, standardisation,
  SpecAugment / Freq-MixStyle, metadata dropout, positives), with every random draw from the epoch's generators.

This module imports no other module of the project (it sits below ``train``, ``evaluate`` and
``encoders.cache``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

__all__ = ["BatchAssembler", "Draws", "SplitData", "TrainBatch", "epoch_pairs", "epoch_seed", "make_audio_batch",
           "normalise_batch", "seconds_to_frames"]


@dataclass
class SplitData:
    """A split with its log-mels in memory (raw dB, full length)."""

    split: Any  # retrieval.data.clotho.Split
    features: list[np.ndarray]
    encoded: Any = None  # retrieval.encoders.cache.EncodedSplit when the frozen audio encoder's outputs are cached

    @property
    def captions(self) -> list[tuple[str, int]]:
        """``(caption, recording index)`` of every caption of the split."""
        return self.split.queries()

    def metadata(self) -> list[str]:
        """The metadata text of every recording: its keywords joined by spaces."""
        return [" ".join(r.keywords) for r in self.split.recordings]


def seconds_to_frames(features: Any, seconds: float) -> int:
    """The number of log-mel frames in ``seconds`` for the frontend ``features`` (a ``FeaturesConfig``: its
    ``sample_rate`` and ``hop_length``); at least 1."""
    return max(1, int(round(seconds * features.sample_rate / features.hop_length)))


def make_audio_batch(features: Sequence[np.ndarray], frames: int, fill: float,
                     rng: np.random.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop (random offset with ``rng``, centred without) or pad each log-mel to ``frames``; padding holds
    ``fill``. Returns ``x [B, n_mels, frames]`` and ``lengths [B]``."""
    n_mels = features[0].shape[0]
    x = np.full((len(features), n_mels, frames), fill, dtype=np.float32)
    lengths = np.empty(len(features), dtype=np.int64)
    for i, f in enumerate(features):
        total = f.shape[1]
        if total > frames:
            start = int(rng.integers(0, total - frames + 1)) if rng is not None else (total - frames) // 2
            x[i] = f[:, start:start + frames]
            lengths[i] = frames
        else:
            x[i, :, :total] = f
            lengths[i] = total
    return torch.from_numpy(x), torch.from_numpy(lengths)


def normalise_batch(x: torch.Tensor, lengths: torch.Tensor, mean: torch.Tensor | float,
                    std: torch.Tensor | float) -> torch.Tensor:
    """``(x - mean) / std``, then every padded frame (time index ``>= lengths[b]``) set to 0.

    ``x [B, n_mels, T]``, ``lengths [B]`` (on ``x``'s device). The standardised padding is 0 whatever it held
    before (a gain, the fill value), so the encoders and SpecAugment see silence at the average level there.
    """
    x = (x - mean) / std
    pad = torch.arange(x.shape[-1], device=x.device).unsqueeze(0) >= lengths.unsqueeze(1)
    return x.masked_fill(pad.unsqueeze(1), 0.0)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of every generator of epoch ``epoch`` (0-based) of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def epoch_pairs(data: SplitData, mode: str, rng: np.random.Generator) -> list[tuple[int, str]]:
    """(recording index, caption) pairs one epoch visits, shuffled."""
    recs = data.split.recordings
    if mode == "clip":
        pairs = [(i, r.captions[int(rng.integers(len(r.captions)))]) for i, r in enumerate(recs)]
    else:
        pairs = [(i, c) for i, r in enumerate(recs) for c in r.captions]
    order = rng.permutation(len(pairs))
    return [pairs[j] for j in order]


@dataclass(frozen=True)
class Draws:
    """The generators an epoch's training steps draw from, one per consumer. ``text`` and ``audio`` are one
    generator for all the steps of their kind, or a mapping from each step's ``AUGMENTATIONS`` name to its own.

    With one seed (:meth:`shared`) every NumPy consumer shares one generator and every torch consumer another, so
    the draws interleave in the order :class:`BatchAssembler` documents; with split streams each has its own."""

    data: np.random.Generator  # epoch order and caption choice (epoch_pairs), crops
    text: np.random.Generator | Mapping[str, np.random.Generator]  # text augmentation steps
    audio: torch.Generator | Mapping[str, torch.Generator]  # audio augmentation steps (gain, Freq-MixStyle ...)
    metadata: np.random.Generator  # metadata dropout

    @classmethod
    def shared(cls, rng: np.random.Generator, gen: torch.Generator) -> "Draws":
        """Every NumPy draw from ``rng`` and every torch draw from ``gen``: one seed for everything."""
        return cls(data=rng, text=rng, audio=gen, metadata=rng)


@dataclass
class TrainBatch:
    """One training step's input: either log-mels ``x``/``lengths`` or a cached encoder's ``audio`` outputs."""

    x: torch.Tensor | None  # [B, n_mels, T] standardised, augmented log-mels (None with a cached encoder)
    lengths: torch.Tensor | None  # [B]
    audio: Any  # retrieval.encoders.base.AudioEncoderOutput of a frozen, cached encoder, or None
    captions: list[str]
    metadata: list[str] | None  # None when the model does not use metadata
    positives: torch.Tensor  # [B, B] bool: caption q describes item i


@dataclass
class BatchAssembler:
    """Builds the :class:`TrainBatch` of a step from its ``(recording index, caption)`` pairs.

    The random draws happen in this order, each from its generator of :class:`Draws`: text augmentation
    (``text``), the crop (``data``; with a cached encoder, the start window), gain, Freq-MixStyle and SpecAugment
    (``audio``), metadata dropout (``metadata``). With one seed (:meth:`Draws.shared`) the NumPy ones share a
    generator and the torch ones another, so this order is what makes a run reproducible.
    """

    data: SplitData  # the training split
    frames: int  # training crop length
    fill: float  # raw value padding holds before standardisation
    mean: torch.Tensor | float  # the model's standardisation
    std: torch.Tensor | float
    audio_augment: Any  # retrieval.augment.audio.AudioAugment
    text_augment: Any  # retrieval.augment.text.TextAugment
    variation_keys: Sequence[Any] | None  # per recording, for caption variations; None when they are off
    metadata: Sequence[str] | None  # per recording; None when the model does not use metadata
    metadata_dropout: float
    device: torch.device

    def __call__(self, chunk: Sequence[tuple[int, str]], draws: Draws) -> TrainBatch:
        idx = [i for i, _ in chunk]
        captions = [c for _, c in chunk]
        if self.text_augment.enabled:
            keys = [self.variation_keys[i] for i in idx] if self.variation_keys else None
            captions = self.text_augment(captions, draws.text, keys=keys)
        x = lengths = audio = None
        if self.data.encoded is not None:  # frozen, cached audio encoder: its outputs for a window-aligned crop
            audio = self.data.encoded.train_batch(idx, draws.data, self.device)
        else:
            x, lengths = make_audio_batch([self.data.features[i] for i in idx], self.frames, self.fill, draws.data)
            # on the training device before anything meets the model's standardisation (buffers on that device);
            # the augmentations draw on ``gen``'s device (the CPU) and move their draws, so they are the same
            x, lengths = x.to(self.device), lengths.to(self.device)
            x = self.audio_augment.gain(x, draws.audio)
            x = normalise_batch(x, lengths, self.mean, self.std)
            x = self.audio_augment.spectral(x, lengths, draws.audio)
        metadata = None
        if self.metadata is not None:
            metadata = [self.metadata[i] for i in idx]
            if self.metadata_dropout > 0:
                drop = draws.metadata.random(len(metadata)) < self.metadata_dropout
                metadata = ["" if d else m for m, d in zip(metadata, drop)]
        ids = torch.tensor(idx)
        positives = (ids.unsqueeze(1) == ids.unsqueeze(0)).to(self.device)
        return TrainBatch(x, lengths, audio, captions, metadata, positives)
