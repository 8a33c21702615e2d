"""Audio augmentations on batches of log-mel spectrograms (Section 4 of the DCASE 2022 paper).

All functions take ``x`` of shape ``[B, n_mels, T]`` (float) and draw every random number from an explicit
``torch.Generator`` (never the global RNG), so a run is reproducible from its seeds. Random numbers are drawn
on the generator's device and then moved to ``x``'s device, so a CPU generator works for CUDA tensors too.
Settings that switch an augmentation off return ``x`` itself (an exact no-op, no random numbers drawn).

Pipeline (:class:`AudioAugment`): :meth:`AudioAugment.gain` on the raw dB log-mels, before normalisation;
:meth:`AudioAugment.spectral` (Freq-MixStyle, then SpecAugment) on the normalised features. The steps are the
``audio`` entries of the registry ``AUGMENTATIONS`` (declared in :mod:`retrieval.config.catalogue`: ``gain``,
``mixstyle``, ``specaugment``), built from their config sections by :func:`build_gain`, :func:`build_mixstyle` and
:func:`build_specaugment` (None when the settings switch them off) and run in their declared ``stage`` and
``order``. The pipeline draws from one generator for every step, or from a mapping of one generator per step name
(split seed streams, :mod:`retrieval.seeding`), so that switching one step off leaves the others' draws unchanged.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import Tensor

from retrieval.config import (AUGMENTATIONS, AugmentConfig, GainConfig, MixStyleConfig, SpecAugmentConfig,
                              augmentation_section, augmentation_steps)

__all__ = ["AudioAugment", "Gain", "MixStyle", "SpecAugment", "build_gain", "build_mixstyle", "build_specaugment",
           "freq_mixstyle", "gain", "spec_augment"]


def _gen_device(generator: torch.Generator) -> torch.device:
    if not isinstance(generator, torch.Generator):
        raise TypeError("audio augmentations need an explicit torch.Generator (the global RNG is never used), "
                        f"got {type(generator).__name__}")
    return generator.device


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    """U[0, 1) float64 draws from ``generator``, moved to ``device``."""
    return torch.rand(shape, generator=generator, device=_gen_device(generator), dtype=torch.float64).to(device)


def _randint(high: int, shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    """U{0 .. high-1} draws (int64) from ``generator``, moved to ``device``."""
    return torch.randint(0, high, shape, generator=generator, device=_gen_device(generator)).to(device)


# --------------------------------------------------------------------------------------------- gain
def gain(x: Tensor, g_max: float, generator: torch.Generator) -> Tensor:
    """Random gain: ``g ~ U(-g_max, g_max)`` dB per clip, i.e. the waveform multiplied by ``w = 10**(g/20)``.

    On a log-*power* mel spectrogram in dB the power scales by ``w**2``, so ``10*log10(w**2 * P) = x + g``:
    adding ``g`` to every bin is exactly the waveform gain, except in bins at the power floor (where the frontend
    clamps ``P`` before the log: a clamped bin stays clamped instead of moving by ``g``) and except for any
    ``top_db`` clipping relative to the maximum. ``g_max == 0`` returns ``x`` itself.
    """
    if g_max < 0:
        raise ValueError(f"g_max must be >= 0, got {g_max}")
    if g_max == 0 or x.shape[0] == 0:
        return x
    g = (_uniform((x.shape[0],), generator, x.device) * 2.0 - 1.0) * g_max
    return x + g.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


# --------------------------------------------------------------------------------------------- SpecAugment
def _stripes(n: int, w: int, size: Tensor, generator: torch.Generator, total: int,
             device: torch.device) -> Tensor:
    """Boolean mask ``[B, total]``: per clip ``n`` stripes of width ``~U{0..w}`` (clipped to ``size``) at a
    uniform offset in ``[0, size - width]``."""
    b = size.shape[0]
    width = _randint(w + 1, (b, n), generator, device)
    width = torch.minimum(width, size.view(b, 1))
    room = (size.view(b, 1) - width + 1).to(torch.float64)  # number of admissible offsets (>= 1)
    start = torch.floor(_uniform((b, n), generator, device) * room).long()
    start = torch.minimum(start, (room - 1).long())  # guard against rounding at the top of [0, 1)
    pos = torch.arange(total, device=device).view(1, 1, total)
    inside = (pos >= start.unsqueeze(-1)) & (pos < (start + width).unsqueeze(-1))
    return inside.any(dim=1)


def spec_augment(x: Tensor, lengths: Tensor | None, n_f: int, w_f: int, n_t: int, w_t: int,
                 generator: torch.Generator, fill: float = 0.0) -> Tensor:
    """SpecAugment without time warping (the paper omits it): masked values are set to ``fill``.

    ``n_f`` frequency stripes per clip, each of width ``~U{0..w_f}`` (clipped to ``n_mels``) at a uniform offset;
    ``n_t`` time stripes, each of width ``~U{0..w_t}`` (clipped to the clip's valid length) at a uniform offset
    inside the valid frames ``[0, lengths[b])`` (``lengths=None``: all ``T`` frames are valid). Stripes may
    overlap. Padding frames are never touched. ``n_f == n_t == 0`` returns ``x`` itself.
    """
    if n_f < 0 or n_t < 0 or w_f < 0 or w_t < 0:
        raise ValueError("spec_augment: n_f, w_f, n_t, w_t must be >= 0")
    if (n_f == 0 and n_t == 0) or x.numel() == 0:
        return x
    b, n_mels, t = x.shape[0], x.shape[-2], x.shape[-1]
    dev = x.device
    mask = torch.zeros(b, n_mels, t, dtype=torch.bool, device=dev)
    if n_f > 0:
        size_f = torch.full((b,), n_mels, dtype=torch.long, device=dev)
        mask |= _stripes(n_f, w_f, size_f, generator, n_mels, dev).unsqueeze(-1)
    if n_t > 0:
        if lengths is None:
            size_t = torch.full((b,), t, dtype=torch.long, device=dev)
        else:
            size_t = lengths.to(device=dev, dtype=torch.long).clamp(0, t)
        mask |= _stripes(n_t, w_t, size_t, generator, t, dev).unsqueeze(-2)
    if x.dim() > 3:  # e.g. [B, C, F, T]: same mask for every channel
        mask = mask.view(b, *([1] * (x.dim() - 3)), n_mels, t)
    return x.masked_fill(mask, fill)


# --------------------------------------------------------------------------------------------- Freq-MixStyle
def _derangement(n: int, generator: torch.Generator) -> Tensor:
    """A uniformly random permutation of ``range(n)`` without fixed points (``n >= 2``), by rejection."""
    for _ in range(100):  # P(accept) -> 1/e; 100 rejections in a row is practically impossible
        perm = torch.randperm(n, generator=generator, device=_gen_device(generator)).cpu()
        if not bool((perm == torch.arange(n)).any()):
            return perm
    return torch.roll(torch.arange(n), 1)  # pragma: no cover - fallback, still a derangement


def freq_mixstyle(x: Tensor, p: float, alpha: float, generator: torch.Generator,
                  eps: float = 1e-6, lengths: Tensor | None = None) -> Tensor:
    """Freq-MixStyle (Kim et al.; Schmid/Primus & Widmer 2022): mix per-frequency statistics between clips.

    For each clip ``i`` (with probability ``p``): per-frequency-bin mean ``mu_i`` and standard deviation
    ``sigma_i = sqrt(var + eps)`` over time (shape ``[B, F, 1]``), normalise, then re-scale with
    ``mu_new = lam*mu_i + (1-lam)*mu_j`` and ``sigma_new = lam*sigma_i + (1-lam)*sigma_j``, where ``j != i`` is
    another clip of the batch (a random permutation without fixed points) and ``lam ~ Beta(alpha, alpha)``
    folded to ``lam = max(lam, 1 - lam) >= 0.5`` so the clip's own statistics always weigh more.
    Statistics are treated as constants (detached), as in the reference implementation.

    ``lengths`` (optional, ``[B]`` valid frames): statistics over the valid frames only and padding frames are
    returned unchanged. ``p == 0`` or a batch of fewer than two clips returns ``x`` itself.
    The Beta draws come from a NumPy generator seeded by a draw from ``generator`` (torch's Beta sampler
    cannot take a generator).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    b = x.shape[0]
    if p == 0 or b < 2 or x.numel() == 0:
        return x
    dev, t = x.device, x.shape[-1]
    # randomness: which clips, partner permutation, mixing weights (always drawn in this order)
    apply = _uniform((b,), generator, dev) < p
    perm = _derangement(b, generator).to(dev)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=_gen_device(generator)).item())
    lam_np = np.random.default_rng(seed).beta(alpha, alpha, size=b)
    lam_np = np.maximum(lam_np, 1.0 - lam_np)
    shape = (b,) + (1,) * (x.dim() - 1)
    lam = torch.as_tensor(lam_np, dtype=x.dtype, device=dev).view(shape)

    xd = x.detach()
    if lengths is None:
        valid = None
        mu = xd.mean(dim=-1, keepdim=True)
        var = xd.var(dim=-1, keepdim=True, unbiased=False)
    else:
        n = lengths.to(device=dev, dtype=torch.long).clamp(0, t)
        valid = (torch.arange(t, device=dev).view(1, t) < n.view(b, 1)).view(b, *([1] * (x.dim() - 2)), t)
        cnt = n.clamp(min=1).to(x.dtype).view(shape)
        mu = (xd * valid).sum(dim=-1, keepdim=True) / cnt
        var = (((xd - mu) * valid) ** 2).sum(dim=-1, keepdim=True) / cnt
        apply = apply & (n >= 2)  # no meaningful statistics from fewer than two frames
    sig = (var + eps).sqrt()
    mu_mix = lam * mu + (1 - lam) * mu[perm]
    sig_mix = lam * sig + (1 - lam) * sig[perm]
    mixed = (x - mu) / sig * sig_mix + mu_mix
    keep = ~apply.view(shape)
    if valid is not None:
        keep = keep | ~valid
    return torch.where(keep, x, mixed)


# --------------------------------------------------------------------------------------------- registry entries
class Gain:
    """The ``gain`` step: :func:`gain` with ``augment.gain.g_max`` (``lengths`` is not needed)."""

    def __init__(self, cfg: GainConfig):
        self.g_max = float(cfg.g_max)

    def __call__(self, x: Tensor, lengths: Tensor | None, generator: torch.Generator) -> Tensor:
        return gain(x, self.g_max, generator)


class MixStyle:
    """The ``mixstyle`` step: :func:`freq_mixstyle` with ``augment.mixstyle.*`` over the valid frames."""

    def __init__(self, cfg: MixStyleConfig):
        self.p, self.alpha = cfg.p, cfg.alpha

    def __call__(self, x: Tensor, lengths: Tensor | None, generator: torch.Generator) -> Tensor:
        return freq_mixstyle(x, self.p, self.alpha, generator, lengths=lengths)


class SpecAugment:
    """The ``specaugment`` step: :func:`spec_augment` with ``augment.spec.*``, fill 0 (the mean of normalised
    features)."""

    def __init__(self, cfg: SpecAugmentConfig):
        self.cfg = cfg

    def __call__(self, x: Tensor, lengths: Tensor | None, generator: torch.Generator) -> Tensor:
        s = self.cfg
        return spec_augment(x, lengths, s.n_f, s.w_f, s.n_t, s.w_t, generator, fill=0.0)


def build_gain(cfg: GainConfig, **resources) -> Gain | None:
    """``gain``: on when ``g_max > 0``."""
    return Gain(cfg) if cfg.g_max > 0 else None


def build_mixstyle(cfg: MixStyleConfig, **resources) -> MixStyle | None:
    """``mixstyle``: on when ``p > 0``."""
    return MixStyle(cfg) if cfg.p > 0 else None


def build_specaugment(cfg: SpecAugmentConfig, **resources) -> SpecAugment | None:
    """``specaugment``: on when ``n_f > 0`` or ``n_t > 0``."""
    return SpecAugment(cfg) if cfg.n_f > 0 or cfg.n_t > 0 else None


# --------------------------------------------------------------------------------------------- pipeline
#: What the pipeline draws from: one generator for every step, or one per step name.
Generators = torch.Generator | Mapping[str, torch.Generator]


def _generator_of(generators: Generators, name: str) -> torch.Generator:
    """The generator step ``name`` draws from."""
    return generators[name] if isinstance(generators, Mapping) else generators


class AudioAugment:
    """The paper's audio augmentation pipeline, configured by :class:`retrieval.config.AugmentConfig`.

    Every ``audio`` entry of ``AUGMENTATIONS`` is built from its config section; ``gain`` runs the steps of stage
    ``raw`` (the gain) on raw dB log-mels (before normalisation), ``spectral`` those of stage ``normalised``
    (Freq-MixStyle, then SpecAugment with fill 0 = the mean of normalised features), each in ``order``. A step that
    is off is not built: it draws no random numbers. Text settings are ignored. ``generator``: one for every step,
    or a mapping from each step's name (``gain``, ``mixstyle``, ``specaugment``) to its own.
    """

    def __init__(self, cfg: AugmentConfig):
        self.cfg = cfg
        self.g_max = float(cfg.gain.g_max)
        self.spec = cfg.spec
        self.mixstyle = cfg.mixstyle
        self.steps: dict[str, list] = {"raw": [], "normalised": []}
        for entry in augmentation_steps("audio"):
            step = AUGMENTATIONS.get(entry.name)(augmentation_section(cfg, entry))
            if step is not None:
                self.steps[entry.meta["stage"]].append((entry.name, step))

    @property
    def gain_enabled(self) -> bool:
        return bool(self.steps["raw"])

    @property
    def spectral_enabled(self) -> bool:
        return bool(self.steps["normalised"])

    @property
    def enabled(self) -> bool:
        return self.gain_enabled or self.spectral_enabled

    def gain(self, x: Tensor, generator: Generators) -> Tensor:
        """The ``raw`` steps (the gain), on dB log-mels before standardisation."""
        for name, step in self.steps["raw"]:
            x = step(x, None, _generator_of(generator, name))
        return x

    def spectral(self, x: Tensor, lengths: Tensor | None, generator: Generators) -> Tensor:
        """The ``normalised`` steps (Freq-MixStyle, then SpecAugment), on standardised log-mels."""
        for name, step in self.steps["normalised"]:
            x = step(x, lengths, _generator_of(generator, name))
        return x

    def __repr__(self) -> str:
        s, m = self.spec, self.mixstyle
        return (f"AudioAugment(g_max={self.g_max}, mixstyle(p={m.p}, alpha={m.alpha}), "
                f"spec(n_f={s.n_f}, w_f={s.w_f}, n_t={s.n_t}, w_t={s.w_t}))")
