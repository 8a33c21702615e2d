"""Where a run's random numbers come from: one seed for everything, or independent streams (``train.seed_streams``).

**single** (the default): ``train.seed`` drives every draw, as it always did. The initial weights come from
``torch.manual_seed(train.seed)``; epoch ``e`` seeds torch's global generator, one NumPy generator and one torch
generator with :func:`retrieval.batching.epoch_seed` ``(train.seed, e)``, and every consumer shares them
(:meth:`retrieval.batching.Draws.shared`); the vocabulary's augmented passes draw from ``default_rng([train.seed,
0x70CAB])``.

**split**: every consumer has a stream of its own (:data:`retrieval.config.SEED_STREAMS`). Stream ``name`` with
seed ``s`` (its own key of ``train.seed_streams``, else ``train.seed``) is the NumPy seed sequence

    ``SeedSequence(s, spawn_key=(stream_key(name),))``

(what ``SeedSequence(s).spawn`` would give as child number ``stream_key(name)``, a fixed CRC-32 of the name), so
streams are independent of each other and of which augmentations are on, and a stream given seed ``s`` draws what
it draws in a run with ``train.seed = s``. Its generator of epoch ``e`` comes from the spawn key ``(stream_key(name),
e)``: a resumed run draws exactly what the uninterrupted run would. What draws from each stream:

=================== =============================================================================================
stream              draws
=================== =============================================================================================
``init``            the initial weights (torch's global generator while the model is built)
``data``            the epoch order and caption choice (:func:`~retrieval.batching.epoch_pairs`), the crops
``gain``            the gain per clip
``mixstyle``        Freq-MixStyle's clips, partners and weights
``specaugment``     SpecAugment's stripes
``text``            each text step (``variations``, ``backtranslation``, ``eda``) from a sub-stream of its own,
                    spawn key ``(stream_key("text"), e, stream_key(step))``, one seed per caption for the step's
                    draws on it (:class:`~retrieval.augment.text.TextAugment`); the vocabulary's augmented passes
                    from ``(stream_key("text"), stream_key("vocabulary"), stream_key(step))``
``metadata_dropout`` which items lose their metadata
``dropout``         the model's own draws in training mode (dropout, PaSST's patchout): torch's global generator,
                    seeded from this stream at the start of every epoch; nothing else draws from it in split mode
=================== =============================================================================================

An augmentation registered at run time draws from a stream named after its ``AUGMENTATIONS`` entry, seeded by
``train.seed``. ``train.seed_streams.redraw`` > 0 mixes a salt into every stream but ``init`` and ``data``
(entropy ``[seed, redraw]``): the same initial weights and data order, other augmentation and dropout draws -- the
second arm of a real A/A check of a paired ablation.

Example::

    >>> from retrieval.config import TrainConfig, SeedStreamsConfig
    >>> split = TrainConfig(seed=3, seed_streams=SeedStreamsConfig(mode="split"))
    >>> init_seed(TrainConfig(seed=3)), init_seed(split) == init_seed(split)
    (3, True)
    >>> own = TrainConfig(seed=0, seed_streams=SeedStreamsConfig(mode="split", init=3))
    >>> init_seed(own) == init_seed(split)  # a stream given seed 3 draws what it draws under train.seed = 3
    True
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

import numpy as np
import torch

from .batching import Draws, epoch_seed

__all__ = ["Draws", "epoch_draws", "init_seed", "stream_key", "stream_sequence", "vocabulary_draws"]

G = TypeVar("G")


def stream_key(name: str) -> int:
    """The fixed spawn key of stream ``name``: the CRC-32 of its name (stable across runs, versions, platforms)."""
    return zlib.crc32(name.encode())


def stream_sequence(train: Any, name: str, *more: int) -> np.random.SeedSequence:
    """The seed sequence of stream ``name`` (``more``: the keys below it, e.g. the epoch) of a run whose ``train``
    section (:class:`retrieval.config.TrainConfig`) is in split mode."""
    return np.random.SeedSequence(train.seed_streams.entropy_of(name, train.seed),
                                  spawn_key=(stream_key(name), *more))


def _torch_seed(seq: np.random.SeedSequence) -> int:
    return int(seq.generate_state(1, np.uint64)[0])


def _torch_generator(seq: np.random.SeedSequence) -> torch.Generator:
    return torch.Generator().manual_seed(_torch_seed(seq))


class _PerStep(Mapping[str, G], Generic[G]):
    """One generator per step name, made on first use (a step that is off never asks for one)."""

    def __init__(self, make: Callable[[str], G]):
        self._make, self._made = make, {}

    def __getitem__(self, name: str) -> G:
        if name not in self._made:
            self._made[name] = self._make(name)
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._made)

    def __len__(self) -> int:
        return len(self._made)


def _split(train: Any) -> bool:
    return train.seed_streams.mode == "split"


def init_seed(train: Any) -> int:
    """The seed of torch's global generator while the model is built (the initial weights)."""
    return _torch_seed(stream_sequence(train, "init")) if _split(train) else train.seed


def epoch_draws(train: Any, epoch: int) -> tuple[Draws, int]:
    """The generators of epoch ``epoch`` (0-based) and the seed of torch's global generator for the model's own
    draws (dropout) in that epoch."""
    if not _split(train):
        seed = epoch_seed(train.seed, epoch)
        return Draws.shared(np.random.default_rng(seed), torch.Generator().manual_seed(seed)), seed

    def numpy_rng(name: str) -> np.random.Generator:
        return np.random.default_rng(stream_sequence(train, name, epoch))

    draws = Draws(
        data=numpy_rng("data"),
        text=_PerStep(lambda step: np.random.default_rng(stream_sequence(train, "text", epoch, stream_key(step)))),
        audio=_PerStep(lambda step: _torch_generator(stream_sequence(train, step, epoch))),
        metadata=numpy_rng("metadata_dropout"))
    return draws, _torch_seed(stream_sequence(train, "dropout", epoch))


def vocabulary_draws(train: Any) -> np.random.Generator | Mapping[str, np.random.Generator]:
    """What the vocabulary's augmented passes of the captions draw from (``text_encoder.vocab_augment_passes``)."""
    if not _split(train):
        return np.random.default_rng([train.seed, 0x70CAB])
    vocabulary = stream_key("vocabulary")
    return _PerStep(lambda step: np.random.default_rng(
        stream_sequence(train, "text", vocabulary, stream_key(step))))
