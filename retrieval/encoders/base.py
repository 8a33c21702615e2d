"""What every audio encoder shares: the output type, the base class, the factory type and checkpoint loading.

Every encoder takes ``x`` of shape ``[B, n_mels, T]`` (float32) and ``lengths`` of shape ``[B]`` (long, the number of
valid frames of each clip; the rest is padding) and returns an :class:`AudioEncoderOutput`:

* ``sequence`` ``[B, T', C]``: frame embeddings (the CNNs: the last convolutional block averaged over frequency;
  PaSST: the patch tokens averaged over the frequency rows);
* ``mask`` ``[B, T']`` (bool): True where the frame holds real audio;
* ``pooled`` ``[B, out_dim]``: one embedding of the clip.

Encoders are entries of the registry ``AUDIO_ENCODERS`` (declared in :mod:`retrieval.config.catalogue`; the config
checks ``audio_encoder.name`` against it): a factory ``(cfg: AudioEncoderConfig, n_mels) -> AudioEncoder``.
:mod:`retrieval.encoders.cnn` implements ``cnn-small``, ``cnn10`` and ``cnn14``, :mod:`retrieval.encoders.passt`
``passt``; a declared entry's module is imported when the entry is first built. Adding an encoder is one module
plus one entry: ``AUDIO_ENCODERS.declare(name, "package.module:factory", ...)`` next to the others, or
``@AUDIO_ENCODERS.register(name)`` on the factory of a plug-in. A state dict that does not fit is described by
:func:`retrieval.checkpoint.state_dict_mismatch`. Build an encoder with
:func:`retrieval.encoders.audio.build_audio_encoder`.

This module imports no encoder module: the encoder modules import it (no import cycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Callable, NamedTuple

import torch
from torch import nn

from retrieval.checkpoint import first_few, load_checkpoint, state_dict_mismatch
from retrieval.config import AudioEncoderConfig, ConfigError

__all__ = [
    "AudioEncoder",
    "AudioEncoderFactory",
    "AudioEncoderOutput",
    "load_audio_checkpoint",
    "masked_mean_max",
]


class AudioEncoderOutput(NamedTuple):
    """What an audio encoder returns (see the module docstring)."""

    sequence: torch.Tensor  # [B, T', C] frame embeddings (after frequency pooling)
    mask: torch.Tensor  # [B, T'] bool, True = frame holds real audio
    pooled: torch.Tensor  # [B, out_dim]


class AudioEncoder(nn.Module):
    """Base class of the audio encoders.

    Attributes a subclass sets: ``out_dim`` (C of ``pooled``), ``seq_dim`` (C of ``sequence``), ``n_mels``,
    ``time_stride`` (``T' = T // time_stride``), ``min_frames`` / ``min_mels`` (smallest input the network accepts)
    and ``checkpoint_ignore_prefixes`` (state-dict keys to skip when loading a checkpoint).

    A frozen encoder (``frozen = True``, set by ``build_audio_encoder`` when ``cfg.frozen``) has no trainable
    parameters and stays in eval mode even when ``.train()`` is called, so its batch-norm statistics and dropout do
    not change either.
    """

    out_dim: int
    seq_dim: int
    n_mels: int
    time_stride: int = 1
    min_frames: int = 1
    min_mels: int = 1
    checkpoint_ignore_prefixes: tuple[str, ...] = ()
    frozen: bool = False

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None) -> AudioEncoderOutput:  # pragma: no cover
        raise NotImplementedError

    def train(self, mode: bool = True) -> "AudioEncoder":
        return super().train(mode and not self.frozen)

    def output_frames(self, n_frames: int) -> int:
        """Length ``T'`` of ``sequence`` for an input of ``n_frames`` frames (``n_frames // time_stride``)."""
        return n_frames // self.time_stride

    def output_lengths(self, lengths: torch.Tensor, n_frames: int) -> torch.Tensor:
        """Valid output frames for ``lengths`` valid input frames out of ``n_frames``."""
        s = self.time_stride
        return torch.minimum((lengths + s - 1) // s, torch.full_like(lengths, self.output_frames(n_frames)))

    def _check_input(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.n_mels:
            raise ValueError(f"{type(self).__name__}: expected x of shape [B, {self.n_mels}, T], "
                             f"got {tuple(x.shape)}")
        n_frames = x.shape[2]
        if n_frames < self.min_frames:
            raise ValueError(f"{type(self).__name__}: needs at least {self.min_frames} frames, got {n_frames}")
        if lengths is None:
            return torch.full((x.shape[0],), n_frames, dtype=torch.long, device=x.device)
        if lengths.shape != (x.shape[0],):
            raise ValueError(f"{type(self).__name__}: lengths must have shape [{x.shape[0]}], "
                             f"got {tuple(lengths.shape)}")
        # A clip always has at least one valid frame (an empty clip would make the max-pool undefined).
        return lengths.to(device=x.device, dtype=torch.long).clamp(1, n_frames)


def masked_mean_max(seq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PANNs time pooling restricted to valid frames: mean over valid frames + max over valid frames.

    ``seq`` [B, T, C], ``mask`` [B, T] bool (every row needs at least one True) → [B, C].
    """
    m = mask.unsqueeze(-1)
    count = m.sum(1).clamp(min=1).to(seq.dtype)
    mean = (seq * m).sum(1) / count
    mx = seq.masked_fill(~m, float("-inf")).amax(1)
    return mean + mx


# --------------------------------------------------------------------------------------------- registry
#: What an entry of ``AUDIO_ENCODERS`` (:mod:`retrieval.config.catalogue`) builds with.
AudioEncoderFactory = Callable[[AudioEncoderConfig, int], AudioEncoder]


# --------------------------------------------------------------------------------------------- checkpoints
def _unwrap_state_dict(obj: object, path: Path) -> Mapping[str, torch.Tensor]:
    """A state dict, or the ``model`` / ``state_dict`` entry of a training checkpoint (PANNs stores ``model``)."""
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict"):
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                return _unwrap_state_dict(inner, path)
        bad = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise ConfigError(f"audio_encoder.checkpoint: {path} is not a state dict: these entries are not tensors: "
                              f"{first_few(bad)}")
        raise ConfigError(f"audio_encoder.checkpoint: {path} holds an empty state dict")
    raise ConfigError(f"audio_encoder.checkpoint: {path} holds a {type(obj).__name__}, not a state dict")


def load_audio_checkpoint(encoder: AudioEncoder, path: str | Path) -> None:
    """Load a state dict saved with ``torch.save(encoder.state_dict(), path)`` (read with ``weights_only=True``).

    A dict holding the state dict under ``model`` (PANNs releases) or ``state_dict`` is unwrapped. Keys starting with
    ``encoder.checkpoint_ignore_prefixes`` are dropped; everything else must match the encoder exactly. A missing or
    unreadable file, missing keys, unexpected keys or shape mismatches raise :class:`ConfigError` naming the file.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"audio_encoder.checkpoint: file not found: {path}")
    obj = load_checkpoint(path, error=ConfigError, prefix="audio_encoder.checkpoint: ",
                          hint="give a state dict saved with torch.save(encoder.state_dict(), path)")
    state = _unwrap_state_dict(obj, path)
    prefixes = tuple(encoder.checkpoint_ignore_prefixes)
    state = {k: v for k, v in state.items() if not (prefixes and k.startswith(prefixes))}

    expected = encoder.state_dict()
    parts = state_dict_mismatch(expected, state)
    if parts:
        name = getattr(encoder, "name", type(encoder).__name__)
        msg = (f"audio_encoder.checkpoint: {path} does not fit audio encoder {name!r} "
               f"(n_mels={encoder.n_mels}): " + "; ".join(parts))
        if any(k.startswith("bn0.") and k in state and state[k].shape != v.shape for k, v in expected.items()):
            msg += (f". bn0 has one channel per mel bin: this checkpoint was trained with "
                    f"{state['bn0.weight'].shape[0] if 'bn0.weight' in state else '?'} mel bins "
                    f"(PANNs checkpoints need features.n_mels=64)")
        if prefixes:
            msg += f". Keys starting with {', '.join(prefixes)} are ignored"
        raise ConfigError(msg)
    encoder.load_state_dict(state, strict=True)
