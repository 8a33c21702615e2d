"""SynthCaps rendering: events at their levels (attributes, far-source tail), the scene background, the
evaluation split's recording shift and headroom: :func:`render_clip`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.signal import fftconvolve, sosfilt

from .constants import CREST_MAX_DB, EVENT_LEVEL_DB, HEADROOM_DB, PITCH_FACTOR, RATE_FACTOR, SCENE_COMPONENT_GAIN
from .dsp import _biquad_peak, _biquad_shelf, _fc, _filt, _rms, _t, _unit, _white
from .events import _EVENT_BY_NAME
from .sampling import _clip_rngs, _split_index, sample_clip
from .scenes import _scene


def _apply_shift(x: np.ndarray, sr: int, shift: dict[str, Any]) -> np.ndarray:
    """Spectral colouring (RMS-preserving) and then the level offset."""
    pivot = float(_fc(shift["tilt_pivot_hz"], sr))
    sos = [_biquad_shelf("low", pivot, -shift["tilt_db"] / 2.0, sr),
           _biquad_shelf("high", pivot, shift["tilt_db"] / 2.0, sr)]
    if shift["peak"] is not None:
        pk = shift["peak"]
        sos.append(_biquad_peak(float(_fc(pk["freq_hz"], sr)), pk["gain_db"], pk["q"], sr))
    y = sosfilt(np.stack(sos), x)
    y *= _rms(x) / (_rms(y) + 1e-12)
    return y * 10.0 ** (shift["gain_db"] / 20.0)


def _far(rng: np.random.Generator, x: np.ndarray, sr: int, room: int) -> np.ndarray:
    """Distant source: low-pass plus a short reverberant tail (extends up to ``room`` extra samples)."""
    rt = rng.uniform(0.3, 0.6)
    m = int(rt * sr)
    t = _t(m, sr)
    ir = rng.standard_normal(m) * np.exp(-6.9 * t / rt)
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    wet = fftconvolve(x, ir)[: x.size + min(room, m)]
    y = np.zeros(wet.size)
    y[: x.size] = 0.6 * x
    y += 0.8 * wet
    y = _filt(y, sr, "lowpass", rng.uniform(1200.0, 2500.0))
    return y * (_rms(x) / (_rms(y[: x.size]) + 1e-12))


def _render(clip: dict[str, Any], audio_rng: np.random.Generator, sr: int) -> np.ndarray:
    n = clip["num_samples"]
    mix = np.zeros(n)
    fade = max(int(0.01 * sr), 1)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    for e in clip["events"]:
        ev = _EVENT_BY_NAME[e["type"]]
        a, b = int(round(e["onset"] * sr)), min(int(round(e["offset"] * sr)), n)
        attrs = e["attributes"]
        p = PITCH_FACTOR.get(attrs.get("pitch") or "", 1.0) * e["pitch_jitter"]
        r = RATE_FACTOR.get(attrs.get("rate") or "", 1.0) * e["rate_jitter"]
        x = ev.synth(audio_rng, b - a, sr, p, r).astype(float)
        f = min(fade, x.size // 2)
        x[:f] *= ramp[:f]
        x[x.size - f:] *= ramp[:f][::-1]
        rms, peak = _rms(x), float(np.max(np.abs(x))) + 1e-12
        target = 10.0 ** (e["level_db"] / 20.0)
        x *= min(target / (rms + 1e-12), target * 10.0 ** (CREST_MAX_DB / 20.0) / peak)
        if attrs.get("distance") == "far":
            x = _far(audio_rng, x, sr, n - b)
        mix[a:a + x.size] += x[: n - a]
    scene = _scene(clip["scene"])
    # common texture: white + low-passed ("brown-ish") noise in a random ratio = a random spectral slope
    w = _white(audio_rng, n)
    brown = _unit(_filt(w, sr, "lowpass", audio_rng.uniform(100.0, 400.0), order=1))
    common = _unit(w) + audio_rng.uniform(1.0, 4.0) * brown
    common = _unit(_filt(common, sr, "lowpass", audio_rng.uniform(3000.0, 7000.0)))
    bg = _unit(common + SCENE_COMPONENT_GAIN * _unit(scene.texture(audio_rng, n, sr)))
    mix += bg * 10.0 ** ((EVENT_LEVEL_DB - clip["background_snr_db"]) / 20.0)
    if clip["shift"] is not None:
        mix = _apply_shift(mix, sr, clip["shift"])
    return mix * 10.0 ** (HEADROOM_DB / 20.0)


def render_clip(seed: int, split: str | int, index: int, *, sample_rate: int = 16000
                ) -> tuple[dict[str, Any], np.ndarray]:
    """Sample one clip (see :func:`sample_clip`) and synthesise its audio.

    Returns ``(entry, audio)``: the manifest entry (including measured ``rms_dbfs`` and ``peak_dbfs``) and the
    float64 mono waveform in [-1, 1] exactly as written (before 16-bit quantisation).
    """
    clip = sample_clip(seed, split, index, sample_rate=sample_rate)
    audio_rng = _clip_rngs(seed, _split_index(split), index)[3]
    audio = _render(clip, audio_rng, int(sample_rate))
    peak = float(np.max(np.abs(audio)))
    clip["rms_dbfs"] = round(20.0 * math.log10(_rms(audio) + 1e-12), 2)
    clip["peak_dbfs"] = round(20.0 * math.log10(peak + 1e-12), 2)
    return clip, np.clip(audio, -1.0, 1.0)

