"""The CNN audio encoders: ``cnn-small``, and PANNs' ``cnn10`` and ``cnn14`` (Kong et al. 2020).

Output (:class:`~retrieval.encoders.base.AudioEncoderOutput`): ``sequence`` = the frame embeddings of the last
convolutional block averaged over frequency; ``mask``: a frame is valid when any of the input frames it was pooled
from is valid, i.e. ``valid = min(ceil(length / time_stride), T // time_stride)``; ``pooled``: PANNs-style time
pooling over valid frames only (mean + max), then the encoder's ``fc1`` + ReLU.

Padding never leaks into real frames: the feature maps are zeroed at padded time steps after ``bn0`` and after every
convolution, so in eval mode the outputs for the valid frames (and ``pooled``) do not depend on what the padded region
holds. (In training mode the batch-norm statistics still see the zeroed padding.) When every clip of a batch is
full length, no masking is done at all.

Encoders (entries of ``AUDIO_ENCODERS``; options ``audio_encoder.cnn.*`` and the shared ``audio_encoder.dropout``):

* ``cnn-small``: a CNN10-shaped network of width ``cnn.width`` (channels w, 2w, 4w, 8w; default 16 → 16..128) for
  fast CPU training. Dropout ``dropout`` between blocks.
* ``cnn10``, ``cnn14``: the PANNs architectures with their exact module names and shapes (``bn0``,
  ``conv_block1.conv1.weight``, ``conv_block1.bn1.*``, ..., ``fc1``), so the released PANNs checkpoints load through
  ``audio_encoder.checkpoint``. When loading, keys starting with ``spectrogram_extractor.``, ``logmel_extractor.``
  or ``fc_audioset.`` are ignored (the waveform frontend and the AudioSet classifier are not part of the encoder);
  every other key must match exactly. ``bn0`` is built with ``n_mels`` channels; PANNs checkpoints were trained
  with 64 mel bins, so they load only with ``features.n_mels = 64`` (a mismatch is reported as a shape mismatch of
  ``bn0.*``). A state dict stored under a ``model`` key (as in the PANNs releases) is unwrapped. ``cnn.width`` is
  ignored (fixed PANNs channels). Dropout ``dropout`` between blocks (PANNs' own dropout before/after ``fc1``
  is not used; add dropout in the projection head if wanted). CNN14's last block does not pool, as in PANNs.
  Initialisation as in PANNs (Xavier-uniform convolutions and linear layers, BN weight 1 / bias 0).

Example::

    >>> import torch
    >>> from retrieval.config import AudioEncoderConfig
    >>> from retrieval.encoders.audio import build_audio_encoder
    >>> enc = build_audio_encoder(AudioEncoderConfig(name="cnn-small"), n_mels=40).eval()
    >>> out = enc(torch.randn(2, 40, 160), torch.tensor([160, 100]))
    >>> tuple(out.sequence.shape), out.mask.sum(1).tolist(), tuple(out.pooled.shape)
    ((2, 10, 128), [10, 7], (2, 128))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from retrieval.config import AudioEncoderConfig
from retrieval.encoders.base import AudioEncoder, AudioEncoderOutput, masked_mean_max

__all__ = ["PANNS_IGNORED_PREFIXES", "ConvBlock", "PannsStyleCNN", "build_cnn10", "build_cnn14", "build_cnn_small"]

PANNS_IGNORED_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.", "fc_audioset.")


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


def build_cnn_small(cfg: AudioEncoderConfig, n_mels: int) -> AudioEncoder:
    w = cfg.cnn.width
    return PannsStyleCNN(n_mels, [w, 2 * w, 4 * w, 8 * w], [(2, 2)] * 4, dropout=cfg.dropout)


def build_cnn10(cfg: AudioEncoderConfig, n_mels: int) -> AudioEncoder:
    return PannsStyleCNN(n_mels, [64, 128, 256, 512], [(2, 2)] * 4, dropout=cfg.dropout,
                         checkpoint_ignore_prefixes=PANNS_IGNORED_PREFIXES)


def build_cnn14(cfg: AudioEncoderConfig, n_mels: int) -> AudioEncoder:
    return PannsStyleCNN(n_mels, [64, 128, 256, 512, 1024, 2048], [(2, 2)] * 5 + [(1, 1)], dropout=cfg.dropout,
                         checkpoint_ignore_prefixes=PANNS_IGNORED_PREFIXES)
