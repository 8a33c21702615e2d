"""PaSST: the Patchout faSt Spectrogram Transformer (Koutini et al. 2022), implemented in the project.

A DeiT-style vision transformer over log-mel "images" ``[B, n_mels, T]`` (the ``passt`` frontend of
:mod:`retrieval.data.features`):

1. ``patch_embed.proj``: a ``Conv2d(1, dim, patch_size, stride=patch_stride)`` (PaSST-S: 16x16 patches every 10
   bins / frames) gives a grid of ``F' = (n_mels - p) // s + 1`` frequency rows by ``T' = (T - p) // s + 1`` time
   columns;
2. separate positional embeddings: ``freq_new_pos_embed`` ``[1, dim, F', 1]`` and ``time_new_pos_embed``
   ``[1, dim, 1, max_time_patches]`` (99 columns = the trained 10 s). Shorter inputs use a crop of the time
   embedding: its first ``T'`` columns in evaluation, a random window in training (as the reference). Longer
   inputs are refused: embed them in segments (``audio_encoder.segment_seconds``);
3. structured patchout in training: ``s_patchout_t`` random time columns and ``s_patchout_f`` random frequency rows
   of the grid are dropped (the same ones for the whole batch, as the reference);
4. a class token and a distillation token (``cls_token``, ``dist_token``, plus ``new_pos_embed`` ``[1, 2, dim]``)
   are prepended, ``depth`` pre-norm blocks (``blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}``,
   LayerNorm eps 1e-6, GELU, qkv with bias) and a final ``norm`` follow.

Output (:class:`~retrieval.encoders.base.AudioEncoderOutput`): ``sequence`` = the patch tokens averaged over the
frequency rows ``[B, T', dim]``; ``pooled`` = the mean of the class and distillation tokens (the embedding of the
2023 DCASE system and of PaSST's own heads). The state-dict keys are those of the released checkpoints
(``passt-s-f128-p16-s10-ap.476-swa.pt``); their classifier heads ``head.*`` / ``head_dist.*`` are ignored.

Padding: input frames at or after ``lengths`` are zeroed, and patch tokens whose time column starts at or after a
clip's length are excluded from attention (a key padding mask), so in evaluation the outputs of a clip do not
depend on what its padding holds. A time column is valid when it starts inside the clip:
``valid = min(ceil(length / patch_stride), T')``. (The reference zero-pads without a mask; for full-length input
both agree exactly.)

Example::

    >>> import torch
    >>> from retrieval.config import AudioEncoderConfig
    >>> from retrieval.config import PasstEncoderConfig
    >>> cfg = AudioEncoderConfig(name="passt", passt=PasstEncoderConfig(dim=32, depth=2, heads=2, max_time_patches=20))
    >>> enc = PaSST.from_config(cfg, n_mels=40).eval()
    >>> out = enc(torch.randn(2, 40, 100), torch.tensor([100, 50]))
    >>> tuple(out.sequence.shape), out.mask.sum(1).tolist(), tuple(out.pooled.shape)
    ((2, 9, 32), [9, 5], (2, 32))
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from retrieval.config import AudioEncoderConfig, ConfigError
from retrieval.encoders.base import AudioEncoder, AudioEncoderOutput

__all__ = ["PASST_IGNORED_PREFIXES", "PaSST", "PaSSTBlock", "build_passt"]

PASST_IGNORED_PREFIXES = ("head.", "head_dist.")


class _Attention(nn.Module):
    """Multi-head self-attention with the timm/PaSST parameter names (``qkv``, ``proj``)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        """``x`` [B, N, C]; ``keep`` [B, N] bool (True = a token others may attend to) or None."""
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        mask = keep[:, None, None, :] if keep is not None else None
        # softmax(q k^T / sqrt(d)) v, exactly as the reference's explicit product
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


def _mlp(dim: int, hidden: int) -> nn.Sequential:
    """The block's MLP, ``fc2(gelu(fc1(x)))``, with the timm/PaSST parameter names (``fc1``, ``fc2``)."""
    return nn.Sequential(OrderedDict(fc1=nn.Linear(dim, hidden), act=nn.GELU(), fc2=nn.Linear(hidden, dim)))


class PaSSTBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _mlp(dim, int(dim * mlp_ratio))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        x = x + F.dropout(self.attn(self.norm1(x), keep), self.dropout, self.training)
        return x + F.dropout(self.mlp(self.norm2(x)), self.dropout, self.training)


class _PatchEmbed(nn.Module):
    def __init__(self, dim: int, patch: int, stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=patch, stride=stride)


class PaSST(AudioEncoder):
    """The PaSST transformer (see the module docstring). ``dropout`` acts after attention and the MLP."""

    def __init__(self, n_mels: int, *, dim: int = 768, depth: int = 12, heads: int = 12, patch_size: int = 16,
                 patch_stride: int = 10, max_time_patches: int = 99, s_patchout_t: int = 0, s_patchout_f: int = 0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if n_mels < patch_size:
            raise ConfigError(f"features.n_mels: PaSST with {patch_size}x{patch_size} patches needs at least "
                              f"{patch_size} mel bins, got {n_mels}")
        self.n_mels = n_mels
        self.patch_size, self.patch_stride = patch_size, patch_stride
        self.freq_patches = (n_mels - patch_size) // patch_stride + 1
        self.max_time_patches = max_time_patches
        self.s_patchout_t, self.s_patchout_f = s_patchout_t, s_patchout_f
        if s_patchout_f >= self.freq_patches:
            raise ConfigError(f"audio_encoder.passt.s_patchout_f: {s_patchout_f} would drop every one of the "
                              f"{self.freq_patches} frequency rows of patches (n_mels={n_mels})")
        self.time_stride = patch_stride
        self.min_frames = patch_size
        self.min_mels = patch_size
        self.out_dim = self.seq_dim = dim
        self.checkpoint_ignore_prefixes = PASST_IGNORED_PREFIXES

        # built on the meta device and initialised once (as in PannsStyleCNN: PaSST-S has 86 M parameters)
        with torch.device("meta"):
            self.patch_embed = _PatchEmbed(dim, patch_size, patch_stride)
            self.cls_token = nn.Parameter(torch.empty(1, 1, dim))
            self.dist_token = nn.Parameter(torch.empty(1, 1, dim))
            self.new_pos_embed = nn.Parameter(torch.empty(1, 2, dim))
            self.freq_new_pos_embed = nn.Parameter(torch.empty(1, dim, self.freq_patches, 1))
            self.time_new_pos_embed = nn.Parameter(torch.empty(1, dim, 1, max_time_patches))
            self.blocks = nn.ModuleList(PaSSTBlock(dim, heads, dropout=dropout) for _ in range(depth))
            self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.to_empty(device="cpu")
        self.reset_parameters()

    @classmethod
    def from_config(cls, cfg: AudioEncoderConfig, n_mels: int) -> "PaSST":
        """PaSST from ``audio_encoder.passt`` (sizes, patchout) and ``audio_encoder.dropout``."""
        p = cfg.passt
        return cls(n_mels, dim=p.dim, depth=p.depth, heads=p.heads, patch_size=p.patch_size,
                   patch_stride=p.patch_stride, max_time_patches=p.max_time_patches,
                   s_patchout_t=p.s_patchout_t, s_patchout_f=p.s_patchout_f, dropout=cfg.dropout)

    @property
    def max_frames(self) -> int:
        """The longest input (frames) the time positional embedding covers."""
        return self.max_time_patches * self.patch_stride + self.patch_size - 1

    def reset_parameters(self) -> None:
        """The reference's initialisation: truncated normal (std 0.02) tokens, positions and linear weights, zero
        biases, LayerNorm 1 / 0, PyTorch's default for the patch convolution."""
        for p in (self.cls_token, self.dist_token, self.new_pos_embed, self.freq_new_pos_embed,
                  self.time_new_pos_embed):
            nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                m.reset_parameters()

    def output_frames(self, n_frames: int) -> int:
        return (n_frames - self.patch_size) // self.patch_stride + 1

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> AudioEncoderOutput:
        lengths = self._check_input(x, lengths)
        b, _, n_frames = x.shape
        t_out = self.output_frames(n_frames)
        if t_out > self.max_time_patches:
            raise ValueError(f"PaSST: {n_frames} frames make {t_out} time patches, but the time positional "
                             f"embedding holds {self.max_time_patches} (at most {self.max_frames} frames): embed "
                             "longer audio in segments (audio_encoder.segment_seconds)")
        valid = self.output_lengths(lengths, n_frames)
        masked = bool((valid < t_out).any())
        if bool((lengths < n_frames).any()):
            x = x * (torch.arange(n_frames, device=x.device) < lengths[:, None]).to(x.dtype)[:, None, :]

        h = self.patch_embed.proj(x.unsqueeze(1))  # [B, dim, F', T']
        time_pos = self.time_new_pos_embed
        if t_out < time_pos.shape[-1]:
            offset = 0
            if self.training:
                offset = int(torch.randint(time_pos.shape[-1] - t_out + 1, (1,)).item())
            time_pos = time_pos[..., offset:offset + t_out]
        h = h + time_pos + self.freq_new_pos_embed

        cols = torch.arange(t_out, device=x.device)
        if self.training and self.s_patchout_t:
            keep_t = max(1, t_out - self.s_patchout_t)
            cols = torch.randperm(t_out)[:keep_t].sort().values.to(x.device)
            h = h[..., cols]
        if self.training and self.s_patchout_f:
            rows = torch.randperm(self.freq_patches)[:self.freq_patches - self.s_patchout_f].sort().values
            h = h[:, :, rows.to(x.device), :]
        n_rows, n_cols = h.shape[2], h.shape[3]
        col_valid = cols[None, :] < valid[:, None]  # [B, n_cols]; a clip always keeps its first column
        if not col_valid.any(1).all():  # patchout dropped every valid column of a clip: keep its first one
            col_valid = col_valid | (torch.arange(n_cols, device=x.device)[None, :] == 0)

        tokens = h.flatten(2).transpose(1, 2)  # [B, F'*T', dim], frequency-major as in the reference
        special = torch.cat([self.cls_token + self.new_pos_embed[:, :1], self.dist_token + self.new_pos_embed[:, 1:]],
                            dim=1).expand(b, -1, -1)
        tokens = torch.cat([special, tokens], dim=1)
        keep = None
        if masked:
            patch_keep = col_valid[:, None, :].expand(b, n_rows, n_cols).reshape(b, n_rows * n_cols)
            keep = torch.cat([torch.ones(b, 2, dtype=torch.bool, device=x.device), patch_keep], dim=1)
        for block in self.blocks:
            tokens = block(tokens, keep)
        tokens = self.norm(tokens)

        pooled = 0.5 * (tokens[:, 0] + tokens[:, 1])
        grid = tokens[:, 2:].reshape(b, n_rows, n_cols, -1)
        sequence = grid.mean(dim=1)  # [B, T'', dim]: patch tokens averaged over frequency
        return AudioEncoderOutput(sequence, col_valid, pooled)


def build_passt(cfg: AudioEncoderConfig, n_mels: int) -> AudioEncoder:
    return PaSST.from_config(cfg, n_mels)
