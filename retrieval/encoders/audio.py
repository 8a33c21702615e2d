"""Audio encoders: normalised log-mel spectrograms → frame embeddings and a clip embedding.

Every encoder takes ``x`` of shape ``[B, n_mels, T]`` (float32) and ``lengths`` of shape ``[B]`` (long, the number of
valid frames of each clip; the rest is padding) and returns an :class:`AudioEncoderOutput`:

* ``sequence`` ``[B, T', C]``: frame embeddings of the last convolutional block, averaged over frequency;
* ``mask`` ``[B, T']`` (bool): True where the frame holds real audio. A frame is valid when any of the input frames
  it was pooled from is valid, i.e. ``valid = min(ceil(length / time_stride), T // time_stride)``;
* ``pooled`` ``[B, out_dim]``: PANNs-style time pooling over valid frames only (mean + max), then the encoder's
  ``fc1`` + ReLU.

Padding never leaks into real frames: the feature maps are zeroed at padded time steps after ``bn0`` and after every
convolution, so in eval mode the outputs for the valid frames (and ``pooled``) do not depend on what the padded region
holds. (In training mode the batch-norm statistics still see the zeroed padding.) When every clip of a batch is
full length, no masking is done at all.

Registered encoders (``list_audio_encoders()``):

* ``cnn-small``: a CNN10-shaped network of width ``cfg.width`` (channels w, 2w, 4w, 8w; default 16 → 16..128) for fast
  CPU training. Dropout ``cfg.dropout`` between blocks.
* ``cnn10``, ``cnn14``: the PANNs architectures (Kong et al. 2020) with their exact module names and shapes
  (``bn0``, ``conv_block1.conv1.weight``, ``conv_block1.bn1.*``, ..., ``fc1``), so the released PANNs checkpoints load
  through ``cfg.checkpoint``. When loading, keys starting with ``spectrogram_extractor.``, ``logmel_extractor.`` or
  ``fc_audioset.`` are ignored (the waveform frontend and the AudioSet classifier are not part of the encoder);
  every other key must match exactly. ``bn0`` is built with ``n_mels`` channels; PANNs checkpoints were trained
  with 64 mel bins, so they load only with ``features.n_mels = 64`` (a mismatch is reported as a shape mismatch of
  ``bn0.*``). A state dict stored under a ``model`` key (as in the PANNs releases) is unwrapped. ``cfg.width`` is
  ignored (fixed PANNs channels). Dropout ``cfg.dropout`` between blocks (PANNs' own dropout before/after ``fc1``
  is not used; add dropout in the projection head if wanted). CNN14's last block does not pool, as in PANNs.
  Initialisation as in PANNs (Xavier-uniform convolutions and linear layers, BN weight 1 / bias 0).

Example::

    >>> import torch
    >>> from retrieval.config import AudioEncoderConfig
    >>> enc = build_audio_encoder(AudioEncoderConfig(name="cnn-small"), n_mels=40).eval()
    >>> out = enc(torch.randn(2, 40, 160), torch.tensor([160, 100]))
    >>> tuple(out.sequence.shape), out.mask.sum(1).tolist(), tuple(out.pooled.shape)
    ((2, 10, 128), [10, 7], (2, 128))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from retrieval.config import AudioEncoderConfig, ConfigError
from retrieval.encoders.registry import Registry

__all__ = [
    "AUDIO_ENCODERS",
    "AudioEncoder",
    "AudioEncoderOutput",
    "ConvBlock",
    "PannsStyleCNN",
    "SegmentedAudioEncoder",
    "build_audio_encoder",
    "list_audio_encoders",
    "load_audio_checkpoint",
    "masked_mean_max",
    "state_dict_mismatch",
]

PANNS_IGNORED_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.", "fc_audioset.")


class AudioEncoderOutput(NamedTuple):
    sequence: torch.Tensor  # [B, T', C] frame embeddings (after frequency pooling)
    mask: torch.Tensor  # [B, T'] bool, True = frame holds real audio
    pooled: torch.Tensor  # [B, out_dim]


class AudioEncoder(nn.Module):
    """Base class of the audio encoders.

    Attributes a subclass sets: ``out_dim`` (C of ``pooled``), ``seq_dim`` (C of ``sequence``), ``n_mels``,
    ``time_stride`` (``T' = T // time_stride``), ``min_frames`` / ``min_mels`` (smallest input the network accepts)
    and ``checkpoint_ignore_prefixes`` (state-dict keys to skip when loading a checkpoint).

    A frozen encoder (``frozen = True``, set by :func:`build_audio_encoder` when ``cfg.frozen``) has no trainable
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


# --------------------------------------------------------------------------------------------- CNN family
class ConvBlock(nn.Module):
    """PANNs ``ConvBlock``: (3×3 conv, BN, ReLU) × 2, then average pooling. Names as in PANNs."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, time_mask: torch.Tensor | None = None,
                pool: tuple[int, int] = (2, 2)) -> torch.Tensor:
        """``x`` [B, C, T, F]; ``time_mask`` [B, 1, T, 1] (1 = valid) or None when every frame is valid."""
        x = F.relu_(self.bn1(self.conv1(x)))
        if time_mask is not None:
            x = x * time_mask
        x = F.relu_(self.bn2(self.conv2(x)))
        if time_mask is not None:
            x = x * time_mask
        if pool != (1, 1):
            x = F.avg_pool2d(x, kernel_size=pool)
        return x


class PannsStyleCNN(AudioEncoder):
    """bn0 over mel bins → ConvBlocks → frequency mean → masked (mean + max) over time → fc1 + ReLU.

    Module names follow PANNs (``bn0``, ``conv_block{i}``, ``fc1``) so that PANNs CNN10/CNN14 state dicts load.
    ``pools[i]`` is the (time, frequency) pooling after block ``i``.
    """

    def __init__(self, n_mels: int, channels: Sequence[int], pools: Sequence[tuple[int, int]],
                 dropout: float = 0.2, fc_dim: int | None = None,
                 checkpoint_ignore_prefixes: tuple[str, ...] = ()) -> None:
        super().__init__()
        if len(channels) != len(pools) or not channels:
            raise ValueError("channels and pools must be non-empty and of equal length")
        self.n_mels = n_mels
        self.dropout = dropout
        self.pools = [tuple(p) for p in pools]
        self.n_blocks = len(channels)
        self.checkpoint_ignore_prefixes = tuple(checkpoint_ignore_prefixes)
        self.time_stride = 1
        freq_stride = 1
        for pt, pf in self.pools:
            self.time_stride *= pt
            freq_stride *= pf
        self.min_frames = self.time_stride
        self.min_mels = freq_stride

        # Built on the meta device and initialised once by reset_parameters(): skipping PyTorch's default init
        # halves the build time of CNN14 (80 M parameters).
        with torch.device("meta"):
            self.bn0 = nn.BatchNorm2d(n_mels)
            in_ch = 1
            for i, out_ch in enumerate(channels, start=1):
                setattr(self, f"conv_block{i}", ConvBlock(in_ch, out_ch))
                in_ch = out_ch
            self.seq_dim = in_ch
            self.out_dim = fc_dim if fc_dim is not None else in_ch
            self.fc1 = nn.Linear(in_ch, self.out_dim, bias=True)
        self.to_empty(device="cpu")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PANNs initialisation: Xavier-uniform conv/linear weights, zero biases, BN weight 1 / bias 0."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> AudioEncoderOutput:
        lengths = self._check_input(x, lengths)
        n_frames = x.shape[2]
        masked = bool((lengths < n_frames).any())

        # bn0 normalises each mel bin (PANNs: transpose so mel bins are channels); [B, F, T] -> [B, F, T, 1].
        h = self.bn0(x.unsqueeze(-1))
        h = h.squeeze(-1).transpose(1, 2).unsqueeze(1).contiguous()  # [B, 1, T, F]

        t, valid = n_frames, lengths
        for i in range(1, self.n_blocks + 1):
            time_mask = None
            if masked:
                time_mask = (torch.arange(t, device=h.device) < valid[:, None]).to(h.dtype)[:, None, :, None]
                if i == 1:  # later blocks get zeros in padded frames from the previous block already
                    h = h * time_mask
            pool = self.pools[i - 1]
            h = getattr(self, f"conv_block{i}")(h, time_mask, pool)
            if pool[0] != 1:
                t = t // pool[0]
                valid = torch.minimum((valid + pool[0] - 1) // pool[0], torch.full_like(valid, t))
            if i < self.n_blocks and self.dropout > 0:
                h = F.dropout(h, p=self.dropout, training=self.training)

        sequence = h.mean(dim=3).transpose(1, 2)  # [B, T', C]
        mask = torch.arange(sequence.shape[1], device=h.device)[None, :] < valid[:, None]
        pooled = F.relu(self.fc1(masked_mean_max(sequence, mask)))
        return AudioEncoderOutput(sequence, mask, pooled)


# --------------------------------------------------------------------------------------------- registry
AudioEncoderFactory = Callable[[AudioEncoderConfig, int], AudioEncoder]
AUDIO_ENCODERS: Registry[AudioEncoderFactory] = Registry("audio encoder")


@AUDIO_ENCODERS.register("cnn-small")
def _cnn_small(cfg: AudioEncoderConfig, n_mels: int) -> AudioEncoder:
    w = cfg.width
    return PannsStyleCNN(n_mels, [w, 2 * w, 4 * w, 8 * w], [(2, 2)] * 4, dropout=cfg.dropout)


@AUDIO_ENCODERS.register("cnn10")
def _cnn10(cfg: AudioEncoderConfig, n_mels: int) -> AudioEncoder:
    return PannsStyleCNN(n_mels, [64, 128, 256, 512], [(2, 2)] * 4, dropout=cfg.dropout,
                         checkpoint_ignore_prefixes=PANNS_IGNORED_PREFIXES)


@AUDIO_ENCODERS.register("cnn14")
def _cnn14(cfg: AudioEncoderConfig, n_mels: int) -> AudioEncoder:
    return PannsStyleCNN(n_mels, [64, 128, 256, 512, 1024, 2048], [(2, 2)] * 5 + [(1, 1)], dropout=cfg.dropout,
                         checkpoint_ignore_prefixes=PANNS_IGNORED_PREFIXES)


def list_audio_encoders() -> list[str]:
    return AUDIO_ENCODERS.names()


def build_audio_encoder(cfg: AudioEncoderConfig, n_mels: int, *,
                        frame_rate: float | None = None) -> AudioEncoder:
    """Build the encoder ``cfg.name``; load ``cfg.checkpoint`` (strict, see :func:`load_audio_checkpoint`) and
    freeze it when ``cfg.frozen``. Unknown names, too few mel bins and unusable checkpoints raise ConfigError.

    With ``cfg.segment_seconds`` the encoder is wrapped in a :class:`SegmentedAudioEncoder` of
    ``round(segment_seconds * frame_rate)`` frames per segment (``frame_rate``: log-mel frames per second,
    ``sample_rate / hop_length``; required then)."""
    factory = AUDIO_ENCODERS.get(cfg.name, key="audio_encoder.name")
    encoder = factory(cfg, n_mels)
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


# --------------------------------------------------------------------------------------------- checkpoints
def _first(items: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", ... (+{len(items) - n} more)" if len(items) > n else "")


def state_dict_mismatch(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> list[str]:
    """What keeps ``state`` from loading into a module whose state dict is ``expected``: ``"N missing key(s): ..."``,
    ``"N unexpected key(s): ..."``, ``"N shape mismatch(es): key: checkpoint [..] vs model [..]"`` (the first few of
    each); empty when it fits."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k}: checkpoint {list(state[k].shape)} vs model {list(expected[k].shape)}"
                  for k in expected if k in state and state[k].shape != expected[k].shape]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s): {_first(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s): {_first(unexpected)}")
    if mismatched:
        parts.append(f"{len(mismatched)} shape mismatch(es): {_first(mismatched)}")
    return parts


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
                              f"{_first(bad)}")
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
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is a bad config value
        raise ConfigError(f"audio_encoder.checkpoint: cannot read {path} as a torch state dict "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
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


# registers "passt" (imported last: passt.py builds on the classes above)
from retrieval.encoders import passt as _passt  # noqa: E402,F401
