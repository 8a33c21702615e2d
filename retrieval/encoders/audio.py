"""Building an audio encoder: :func:`build_audio_encoder`, and :class:`SegmentedAudioEncoder`.

The encoder contract (:class:`AudioEncoder`, :class:`AudioEncoderOutput`) and checkpoint loading live in
:mod:`retrieval.encoders.base`; the registry ``AUDIO_ENCODERS`` in :mod:`retrieval.config.catalogue` (its entries
name their factories, imported when first built); the encoders themselves in :mod:`retrieval.encoders.cnn`
(``cnn-small``, ``cnn10``, ``cnn14``) and :mod:`retrieval.encoders.passt` (``passt``).

Example::

    >>> import torch
    >>> from retrieval.config import AudioEncoderConfig
    >>> enc = build_audio_encoder(AudioEncoderConfig(name="cnn-small"), n_mels=40).eval()
    >>> out = enc(torch.randn(2, 40, 160), torch.tensor([160, 100]))
    >>> tuple(out.sequence.shape), out.mask.sum(1).tolist(), tuple(out.pooled.shape)
    ((2, 10, 128), [10, 7], (2, 128))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from retrieval.config import AUDIO_ENCODERS, AudioEncoderConfig, ConfigError
from retrieval.encoders.base import AudioEncoder, AudioEncoderOutput, load_audio_checkpoint

__all__ = ["SegmentedAudioEncoder", "build_audio_encoder"]


def build_audio_encoder(cfg: AudioEncoderConfig, n_mels: int, *,
                        frame_rate: float | None = None) -> AudioEncoder:
    """Build the encoder ``cfg.name``; load ``cfg.checkpoint`` (strict, see :func:`load_audio_checkpoint`) and
    freeze it when ``cfg.frozen``. Unknown names, too few mel bins and unusable checkpoints raise ConfigError.

    With ``cfg.segment_seconds`` the encoder is wrapped in a :class:`SegmentedAudioEncoder` of
    ``round(segment_seconds * frame_rate)`` frames per segment (``frame_rate``: log-mel frames per second,
    ``sample_rate / hop_length``; required then)."""
    encoder = AUDIO_ENCODERS.get(cfg.name, key="audio_encoder.name")(cfg, n_mels)
    encoder.name = cfg.name
    if n_mels < encoder.min_mels:
        raise ConfigError(f"features.n_mels: audio encoder {cfg.name!r} needs at least {encoder.min_mels} mel bins "
                          f"(it halves the frequency axis {encoder.min_mels.bit_length() - 1} times), got {n_mels}")
    if cfg.checkpoint:
        load_audio_checkpoint(encoder, cfg.checkpoint)
    if cfg.segment_seconds is not None:
        if frame_rate is None or frame_rate <= 0:
            raise ConfigError("audio_encoder.segment_seconds: segments need the frame rate of the features "
                              "(build_audio_encoder(..., frame_rate=sample_rate / hop_length))")
        encoder = SegmentedAudioEncoder(encoder, max(1, int(round(cfg.segment_seconds * frame_rate))))
        encoder.name = cfg.name
    if cfg.frozen:
        for p in encoder.parameters():
            p.requires_grad_(False)
        encoder.frozen = True
        encoder.eval()
    return encoder


# --------------------------------------------------------------------------------------------- segments
class SegmentedAudioEncoder(AudioEncoder):
    """Embeds fixed-length segments of ``segment_frames`` frames separately and averages them.

    A clip of ``length`` valid frames out of ``T`` is cut into ``S = ceil(T / segment_frames)`` segments (the last
    one zero-padded); segment ``s`` holds ``r_s = clamp(length - s * segment_frames, 0, segment_frames)`` real
    frames and *counts* when ``r_s >= min(inner.min_frames, segment_frames)`` (the first segment always counts), so
    a padding-only segment never does. Only counting segments are run through the inner encoder, with ``r_s`` as
    their length. Then

    * ``pooled = sum_s c_s pooled_s / sum_s c_s`` (``c_s`` = 1 for counting segments),
    * ``sequence`` = the segments' sequences one after the other ``[B, S * T'_seg, C]``, with ``mask`` = each
      segment's own mask, False throughout for segments that do not count.

    Example: at 100 frames/s with 10-second segments, a 25-second clip is 3 segments (the last half padded).
    A frozen inner encoder makes the wrapper frozen as well (see :func:`build_audio_encoder`).
    """

    def __init__(self, inner: AudioEncoder, segment_frames: int) -> None:
        super().__init__()
        if segment_frames < inner.min_frames:
            raise ConfigError(f"audio_encoder.segment_seconds: a segment of {segment_frames} frames is shorter than "
                              f"the {inner.min_frames} frames audio encoder {getattr(inner, 'name', '?')!r} needs")
        max_frames = getattr(inner, "max_frames", None)
        if max_frames is not None and segment_frames > max_frames:
            raise ConfigError(f"audio_encoder.segment_seconds: a segment of {segment_frames} frames is longer than "
                              f"the {max_frames} frames audio encoder {getattr(inner, 'name', '?')!r} accepts")
        self.inner = inner
        self.segment_frames = segment_frames
        self.out_dim, self.seq_dim, self.n_mels = inner.out_dim, inner.seq_dim, inner.n_mels
        self.min_frames, self.min_mels = 1, inner.min_mels
        self.checkpoint_ignore_prefixes = tuple(f"inner.{p}" for p in inner.checkpoint_ignore_prefixes)
        self.seg_out = inner.output_frames(segment_frames)
        self.time_stride = inner.time_stride

    def train(self, mode: bool = True) -> "SegmentedAudioEncoder":
        super().train(mode and not self.frozen)
        return self

    def n_segments(self, n_frames: int) -> int:
        return max(1, -(-n_frames // self.segment_frames))

    def output_frames(self, n_frames: int) -> int:
        return self.n_segments(n_frames) * self.seg_out

    def segment_lengths(self, lengths: torch.Tensor, n_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(real [B, S], counts [B, S] bool)``: real frames per segment and whether the segment counts."""
        n_seg = self.n_segments(n_frames)
        starts = torch.arange(n_seg, device=lengths.device) * self.segment_frames
        real = (lengths[:, None] - starts[None, :]).clamp(0, self.segment_frames)
        counts = real >= min(self.inner.min_frames, self.segment_frames)
        counts[:, 0] = True
        return real.clamp(min=1), counts

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> AudioEncoderOutput:
        lengths = self._check_input(x, lengths)
        b, n_mels, n_frames = x.shape
        n_seg, seg = self.n_segments(n_frames), self.segment_frames
        if n_seg * seg != n_frames:
            x = F.pad(x, (0, n_seg * seg - n_frames))
        real, counts = self.segment_lengths(lengths, n_frames)
        segments = x.reshape(b, n_mels, n_seg, seg).permute(0, 2, 1, 3)  # [B, S, n_mels, seg]
        out = self.inner(segments[counts], real[counts])  # only the segments that count
        seq = out.sequence.new_zeros(b, n_seg, self.seg_out, out.sequence.shape[-1])
        mask = torch.zeros(b, n_seg, self.seg_out, dtype=torch.bool, device=x.device)
        pooled = out.pooled.new_zeros(b, n_seg, out.pooled.shape[-1])
        t = out.sequence.shape[1]  # fewer than seg_out columns when patchout dropped some in training
        seq[counts, :t], mask[counts, :t], pooled[counts] = out.sequence, out.mask, out.pooled
        weights = counts.to(pooled.dtype).unsqueeze(-1)
        pooled = (pooled * weights).sum(1) / weights.sum(1)
        return AudioEncoderOutput(seq.reshape(b, n_seg * self.seg_out, -1), mask.reshape(b, -1), pooled)
