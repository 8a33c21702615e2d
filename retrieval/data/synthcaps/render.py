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
from .versions import version_settings


def _colour(x: np.ndarray, sr: int, tilt_db: float, pivot_hz: float, peaks: list[dict[str, Any]]) -> np.ndarray:
    """A recording device's frequency response: a tilt (low shelf -t/2 dB, high shelf +t/2 dB around the pivot) and
    peaking EQs, rescaled to keep the RMS."""
    pivot = float(_fc(pivot_hz, sr))
    sos = [_biquad_shelf("low", pivot, -tilt_db / 2.0, sr), _biquad_shelf("high", pivot, tilt_db / 2.0, sr)]
    for pk in peaks:
        sos.append(_biquad_peak(float(_fc(pk["freq_hz"], sr)), pk["gain_db"], pk["q"], sr))
    y = sosfilt(np.stack(sos), x)
    return y * (_rms(x) / (_rms(y) + 1e-12))


def _apply_shift(x: np.ndarray, sr: int, shift: dict[str, Any]) -> np.ndarray:
    """Version 1.1.0's recording shift: spectral colouring (RMS-preserving) and then the level offset."""
    y = _colour(x, sr, shift["tilt_db"], shift["tilt_pivot_hz"], [shift["peak"]] if shift["peak"] is not None else [])
    return y * 10.0 ** (shift["gain_db"] / 20.0)


def compression_curve(comp: dict[str, float], freqs_hz: np.ndarray, sr: int) -> np.ndarray:
    """The contrast factor ``a(f)`` of a device's per-band compression: ``a0 + c1 cos(pi u) + c2 cos(2 pi u)`` with
    ``u`` the log-frequency position between 50 Hz and the Nyquist frequency, clipped to [0.2, 1]."""
    u = np.clip(np.log(np.maximum(freqs_hz, 50.0) / 50.0) / np.log(sr / 2.0 / 50.0), 0.0, 1.0)
    a = comp["a0"] + comp["c1"] * np.cos(np.pi * u) + comp["c2"] * np.cos(2.0 * np.pi * u)
    return np.clip(a, 0.2, 1.0)


def _compress(x: np.ndarray, sr: int, comp: dict[str, float]) -> np.ndarray:
    """Per-band automatic gain control: in every STFT bin the level (dB, smoothed over ~40 ms) moves towards its
    clip average by the factor ``a(f)`` (:func:`compression_curve`; 1 = untouched, 0.5 = the level contrast over
    time halved), the gain limited to +-20 dB; RMS-preserving."""
    from scipy.signal import istft, stft

    nper, hop = 512, 128
    f, _, spec = stft(x, fs=sr, nperseg=nper, noverlap=nper - hop, boundary="even", padded=True)
    power = np.abs(spec) ** 2
    kernel = np.ones(5) / 5.0
    smooth = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, power)
    level = 10.0 * np.log10(smooth + 1e-12)
    ref = level.mean(axis=1, keepdims=True)
    a = compression_curve(comp, f, sr)[:, None]
    gain_db = np.clip((a - 1.0) * (level - ref), -20.0, 20.0)
    _, y = istft(spec * 10.0 ** (gain_db / 20.0), fs=sr, nperseg=nper, noverlap=nper - hop, boundary=True)
    y = y[: x.size] if y.size >= x.size else np.pad(y, (0, x.size - y.size))
    return y * (_rms(x) / (_rms(y) + 1e-12))


def _apply_conditions(x: np.ndarray, sr: int, device: dict[str, Any], shift: dict[str, Any] | None,
                      rng: np.random.Generator) -> np.ndarray:
    """2.0.0: interference (shifted splits), the device's compression and colouring, then the level offset (shifted
    splits)."""
    if shift is not None:
        x = _interfere(x, sr, shift, rng)
    if device.get("compression") is not None:
        x = _compress(x, sr, device["compression"])
    y = _colour(x, sr, device["tilt_db"], device["tilt_pivot_hz"], device["peaks"])
    return y if shift is None else y * 10.0 ** (shift["gain_db"] / 20.0)


def _interfere(x: np.ndarray, sr: int, shift: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """A stationary narrow band of noise over the whole clip, and bursts of broadband noise that replace the signal
    for a moment (10 ms cross-fades); levels relative to the clip's RMS."""
    ref = _rms(x)
    y = x.copy()
    band = shift.get("band")
    if band is not None:
        lo = band["freq_hz"] * 2.0 ** (-band["width_oct"] / 2.0)
        hi = band["freq_hz"] * 2.0 ** (band["width_oct"] / 2.0)
        noise = _unit(_filt(_white(rng, x.size), sr, "bandpass", (lo, hi), order=4))
        y += noise * ref * 10.0 ** (band["level_db"] / 20.0)
    fade = max(int(0.01 * sr), 1)
    for b in shift.get("bursts", ()):
        a = int(round(b["onset"] * sr))
        e = min(a + max(int(round(b["duration"] * sr)), 2 * fade), x.size)
        m = e - a
        if m <= 2:
            continue
        gate = np.ones(m)
        f = min(fade, m // 2)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(f) / f)
        gate[:f], gate[m - f:] = ramp, ramp[::-1]
        noise = _unit(_filt(_white(rng, m), sr, "lowpass", 6000.0)) * ref * 10.0 ** (b["level_db"] / 20.0)
        y[a:e] = (1.0 - gate) * y[a:e] + gate * noise
    return y


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


def _render(clip: dict[str, Any], audio_rng: np.random.Generator, sr: int, headroom_db: float = HEADROOM_DB
            ) -> np.ndarray:
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
    if "device" in clip:  # 2.0.0: every split has a recording device
        mix = _apply_conditions(mix, sr, clip["device"], clip["shift"], audio_rng)
    elif clip["shift"] is not None:
        mix = _apply_shift(mix, sr, clip["shift"])
    return mix * 10.0 ** (headroom_db / 20.0)


def render_clip(seed: int, split: str | int, index: int, *, sample_rate: int = 16000, version: str | None = None
                ) -> tuple[dict[str, Any], np.ndarray]:
    """Sample one clip (see :func:`sample_clip`; ``version`` as there) and synthesise its audio.

    Returns ``(entry, audio)``: the manifest entry (including measured ``rms_dbfs`` and ``peak_dbfs``) and the
    float64 mono waveform in [-1, 1] exactly as written (before 16-bit quantisation).
    """
    clip = sample_clip(seed, split, index, sample_rate=sample_rate, version=version)
    audio_rng = _clip_rngs(seed, _split_index(split), index)[3]
    audio = _render(clip, audio_rng, int(sample_rate), version_settings(version).headroom_db)
    peak = float(np.max(np.abs(audio)))
    clip["rms_dbfs"] = round(20.0 * math.log10(_rms(audio) + 1e-12), 2)
    clip["peak_dbfs"] = round(20.0 * math.log10(peak + 1e-12), 2)
    return clip, np.clip(audio, -1.0, 1.0)

