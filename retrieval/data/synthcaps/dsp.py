"""SynthCaps DSP helpers: clamped frequencies, noises, cached Butterworth filters, wavetable harmonics,
grain trains, gates, event-time patterns, RMS and the biquad shelf/peak filters of the recording shift."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import butter, fftconvolve, sosfilt


def _fc(f: Any, sr: int) -> Any:
    """Clamp frequencies below 0.45 x sample rate (alias-free at any rate)."""
    return np.minimum(f, 0.45 * sr)


def _t(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def _white(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n)


def _colored(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power spectrum ~ f**-exponent, unit RMS."""
    m = next_fast_len(n, real=True)
    spec = np.fft.rfft(rng.standard_normal(m))
    f = np.arange(spec.size, dtype=float)
    f[0] = 1.0
    spec *= f ** (-exponent / 2.0)
    spec[0] = 0.0
    x = np.fft.irfft(spec, m)[:n]
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


@functools.lru_cache(maxsize=512)
def _sos(kind: str, order: int, cut: tuple[float, ...], sr: int) -> np.ndarray:
    nyq = sr / 2.0
    wn: Any = [c / nyq for c in cut] if len(cut) > 1 else cut[0] / nyq
    return butter(order, wn, btype=kind, output="sos")


def _q(f: float) -> float:
    """Quantise a cut-off to a 1/48-octave grid (so filter designs can be cached)."""
    return float(2.0 ** (round(math.log2(f) * 48.0) / 48.0))


def _filt(x: np.ndarray, sr: int, kind: str, cutoff: Any, order: int = 2) -> np.ndarray:
    if kind == "bandpass":
        lo = max(float(cutoff[0]), 10.0)
        hi = min(max(float(_fc(cutoff[1], sr)), lo * 1.2), 0.45 * sr)
        lo = min(lo, hi / 1.2)
        cut: tuple[float, ...] = (_q(lo), min(_q(hi), 0.49 * sr))
    else:
        cut = (min(_q(max(float(cutoff), 10.0)), 0.45 * sr),)
    return sosfilt(_sos(kind, order, cut, sr), x)


def _smooth(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """Smooth random curve (~N(0,1) knots at ``rate_hz``, smoothstep-interpolated)."""
    k = int(n / sr * rate_hz) + 3
    knots = rng.standard_normal(k)
    x = np.arange(n) * ((k - 2 - 1e-9) / max(n - 1, 1))
    i = x.astype(int)
    w = x - i
    w = w * w * (3.0 - 2.0 * w)
    a = knots[i]
    return a + (knots[i + 1] - a) * w


def _train(n: int, times_s: Any, amps: Any, grain: np.ndarray, sr: int) -> np.ndarray:
    """Place copies of ``grain`` at ``times_s`` (seconds) with amplitudes ``amps``; length ``n``."""
    out = np.zeros(n)
    idx = np.round(np.asarray(times_s, dtype=float) * sr).astype(int)
    amps = np.broadcast_to(np.asarray(amps, dtype=float), idx.shape)
    keep = (idx >= 0) & (idx < n)
    if not keep.any():
        return out
    if grain.size * np.count_nonzero(keep) < 4 * n:  # few grains: add them directly
        g = grain.size
        for i, a in zip(idx[keep], amps[keep]):
            m = min(g, n - i)
            out[i:i + m] += a * grain[:m]
        return out
    imp = np.zeros(n)
    np.add.at(imp, idx[keep], amps[keep])
    return fftconvolve(imp, grain)[:n]


def _decay(sr: int, dur: float, tau: float) -> tuple[np.ndarray, np.ndarray]:
    t = _t(max(int(dur * sr), 2), sr)
    return t, np.exp(-t / tau)


_TABLE = 4096


def _harmonics(phase: np.ndarray, f_inst: Any, amps: Any, sr: int) -> np.ndarray:
    """Sum of ``a_k sin(k * phase)`` by wavetable lookup; harmonics that would exceed 0.45 x sr are left out."""
    fmax = float(np.max(f_inst))
    grid = np.arange(_TABLE + 1) * (2.0 * np.pi / _TABLE)
    table = np.zeros(_TABLE + 1)
    for k, a in enumerate(amps, start=1):
        if a != 0 and k * fmax < 0.45 * sr:
            table += a * np.sin(k * grid)
    pos = np.mod(phase, 2.0 * np.pi) * (_TABLE / (2.0 * np.pi))
    i = np.minimum(pos.astype(int), _TABLE - 1)
    frac = pos - i
    lo = table[i]
    return lo + (table[i + 1] - lo) * frac


def _phase(f_inst: Any, n: int, sr: int, phi0: float = 0.0) -> np.ndarray:
    f = np.broadcast_to(np.asarray(f_inst, dtype=float), (n,))
    return phi0 + 2.0 * np.pi * np.cumsum(f) / sr


def _gate(n: int, sr: int, segments: list[tuple[float, float]], edge: float = 0.004) -> np.ndarray:
    """0/1 envelope that is 1 on the (start, end) segments (seconds), with raised-cosine edges."""
    g = np.zeros(n)
    e = max(int(edge * sr), 1)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(e) / e)
    for s, t in segments:
        a, b = int(s * sr), int(t * sr)
        a, b = max(a, 0), min(b, n)
        if b - a < 2 * e:
            continue
        g[a:b] = 1.0
        g[a:a + e] = ramp
        g[b - e:b] = ramp[::-1]
    return g


def _periodic(rng: np.random.Generator, dur: float, period: float, jitter: float = 0.05,
              start: float | None = None) -> np.ndarray:
    """Event times every ``period`` s (+-jitter) from a random start until ``dur``."""
    t = rng.uniform(0.0, min(0.15, period)) if start is None else start
    out = []
    while t < dur - 0.02:
        out.append(t)
        t += period * (1.0 + jitter * rng.standard_normal())
    return np.asarray(out)


def _grouped(rng: np.random.Generator, dur: float, k_range: tuple[int, int], spacing: float,
             gap: tuple[float, float]) -> np.ndarray:
    """Groups of k repetitions (``spacing`` apart) separated by pauses drawn from ``gap``."""
    t = rng.uniform(0.0, 0.12)
    out = []
    while t < dur - 0.05:
        k = int(rng.integers(k_range[0], k_range[1] + 1))
        for _ in range(k):
            if t >= dur - 0.05:
                break
            out.append(t)
            t += spacing * rng.uniform(0.85, 1.15)
        t += rng.uniform(*gap)
    return np.asarray(out)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (_rms(x) + 1e-12)


def _biquad_shelf(kind: str, f0: float, gain_db: float, sr: int) -> np.ndarray:
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * f0 / sr
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / 2.0 * math.sqrt(2.0)
    sa = 2.0 * math.sqrt(a) * alpha
    if kind == "low":
        b = [a * ((a + 1) - (a - 1) * cw + sa), 2 * a * ((a - 1) - (a + 1) * cw), a * ((a + 1) - (a - 1) * cw - sa)]
        den = [(a + 1) + (a - 1) * cw + sa, -2 * ((a - 1) + (a + 1) * cw), (a + 1) + (a - 1) * cw - sa]
    else:
        b = [a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - sa)]
        den = [(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sa]
    return np.array(b + den) / den[0]


def _biquad_peak(f0: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * f0 / sr
    alpha = math.sin(w0) / (2.0 * q)
    cw = math.cos(w0)
    b = [1 + alpha * a, -2 * cw, 1 - alpha * a]
    den = [1 + alpha / a, -2 * cw, 1 - alpha / a]
    return np.array(b + den) / den[0]

