"""SynthCaps clip sampling: per-clip random streams, attributes, the event layout (pattern, onsets, background
bed), scene, levels, relations, the evaluation shift, captions and keywords: :func:`sample_clip`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .captions import _captions
from .constants import (_SPLIT_TAG, ATTRIBUTE_DB, ATTRIBUTE_DIMS, BACKGROUND_EVENT_DB, DURATION_RANGE_S, EVENT_LEVEL_DB,
                        P_N_EVENTS, SNR_RANGE_DB, SPLITS)
from .events import EVENT_TYPES, EventType
from .keywords import _keywords
from .scenes import SCENES
from .versions import RecordingShift, VersionSettings, version_settings


def _split_index(split: str | int) -> int:
    if isinstance(split, int):
        if not 0 <= split < len(SPLITS):
            raise ValueError(f"split index {split} out of range 0..{len(SPLITS) - 1}")
        return split
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return SPLITS.index(split)


def _clip_rngs(seed: int, split_index: int, index: int, n: int = 4) -> tuple[np.random.Generator, ...]:
    """The clip's independent streams: layout, text, keywords, audio (and, 2.0.0, variations: ``n = 5``; the first
    four do not depend on ``n``)."""
    root = np.random.default_rng([seed, split_index, index])
    return tuple(root.spawn(n))


def _sample_attributes(rng: np.random.Generator, ev: EventType) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for dim in ATTRIBUTE_DIMS:
        if dim not in ev.attributes:
            continue
        u = rng.random()
        pos, neg = ATTRIBUTE_DIMS[dim]
        p_marked = 0.225 if dim == "distance" else 0.25
        out[dim] = pos if u < p_marked else neg if u < 2 * p_marked else None
    if out.get("distance") == "far" and out.get("loudness") == "loud":
        out["loudness"] = None
    return out


def _sample_layout(rng: np.random.Generator, dur: float, n_ev: int) -> tuple[str, list[tuple[float, float]], int]:
    """Pattern, (onset, offset) spans in clip order, and the index of the background bed (-1: none)."""
    u = rng.uniform
    if n_ev == 1:
        return "single", [(u(0.0, 0.4), dur - u(0.0, 0.4))], -1
    if n_ev == 2:
        if rng.random() < 0.5:
            s, gap = u(0.4, 0.6) * dur, u(0.1, 0.5)
            return "sequence", [(u(0.0, 0.3), s - gap / 2), (s + gap / 2, dur - u(0.0, 0.3))], -1
        bed = (u(0.0, 0.3), dur - u(0.0, 0.3))
        length = u(1.5, 0.7 * dur)
        on = u(bed[0] + 0.3, bed[1] - length)
        return "overlap", [bed, (on, on + length)], 0
    v = rng.random()
    if v < 0.35:
        gaps = u(0.1, 0.3, 2)
        cuts = np.sort(u(0.0, 1.0, 2)) * 0.3 * dur + np.array([0.2, 0.5]) * dur  # each part >= ~0.2 dur
        a0, c1 = u(0.0, 0.2), dur - u(0.0, 0.2)
        return "sequence3", [(a0, cuts[0] - gaps[0] / 2), (cuts[0] + gaps[0] / 2, cuts[1] - gaps[1] / 2),
                             (cuts[1] + gaps[1] / 2, c1)], -1
    if v < 0.75:
        s, gap = u(0.4, 0.6) * dur, u(0.1, 0.5)
        bed = (u(0.0, 0.3), dur - u(0.0, 0.3))
        return "sequence_bg", [(u(0.0, 0.3), s - gap / 2), (s + gap / 2, dur - u(0.0, 0.3)), bed], 2
    s, gap = u(0.5, 0.65) * dur, u(0.1, 0.4)
    a = (u(0.0, 0.3), s - gap / 2)
    b_on = u(a[0], a[0] + 0.3 * (a[1] - a[0]))
    b = (b_on, s - gap / 2 - u(0.0, 0.3))
    return "overlap_then", [a, b, (s + gap / 2, dur - u(0.0, 0.3))], -1


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _sample_peaks(lay: np.random.Generator, cfg: RecordingShift) -> list[dict[str, Any]]:
    """The peaking EQs of a random frequency response (each present with probability ``p_peak``)."""
    peaks = []
    for _ in range(cfg.n_peaks):
        if lay.random() < cfg.p_peak:
            peaks.append({"freq_hz": round(_log_uniform(lay, *cfg.peak_hz), 1),
                          "gain_db": round(float(lay.choice([-1.0, 1.0]) * lay.uniform(*cfg.peak_gain_db)), 2),
                          "q": round(float(lay.uniform(*cfg.peak_q)), 3)})
    return peaks


def _sample_shift_1_1_0(lay: np.random.Generator, cfg: RecordingShift) -> dict[str, Any]:
    """Version 1.1.0's recording shift (one optional peaking EQ, level, tilt, pivot, drawn in that order)."""
    peaks = _sample_peaks(lay, cfg)
    return {"gain_db": round(float(lay.uniform(*cfg.gain_db)), 2),
            "tilt_db": round(float(lay.uniform(-cfg.tilt_db, cfg.tilt_db)), 2),
            "tilt_pivot_hz": round(_log_uniform(lay, *cfg.pivot_hz), 1),
            "peak": peaks[0] if peaks else None}


def _sample_conditions(lay: np.random.Generator, settings: VersionSettings, split: str, dur: float
                       ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """2.0.0: the clip's recording device (a development device, or an unseen random one on the shifted splits)
    and, on the shifted splits, the level offset and the interference."""
    cfg = settings.shift
    if split not in settings.shifted_splits:
        device = settings.dev_devices[int(lay.integers(len(settings.dev_devices)))]
        return {**{k: (list(v) if k == "peaks" else v) for k, v in device.items()}, "compression": None}, None
    peaks = _sample_peaks(lay, cfg)
    device = {"name": "unseen", "tilt_db": round(float(lay.uniform(-cfg.tilt_db, cfg.tilt_db)), 2),
              "tilt_pivot_hz": round(_log_uniform(lay, *cfg.pivot_hz), 1), "peaks": peaks, "compression": None}
    if cfg.compression_a0 is not None:
        device["compression"] = {"a0": round(float(lay.uniform(*cfg.compression_a0)), 3),
                                 "c1": round(float(lay.uniform(-cfg.compression_c, cfg.compression_c)), 3),
                                 "c2": round(float(lay.uniform(-cfg.compression_c, cfg.compression_c)), 3)}
    ranges = cfg.gain_db if isinstance(cfg.gain_db[0], tuple) else (cfg.gain_db,)
    lo, hi = ranges[int(lay.integers(len(ranges)))]
    shift: dict[str, Any] = {"gain_db": round(float(lay.uniform(lo, hi)), 2)}
    bursts = []
    for _ in range(int(lay.integers(cfg.bursts[0], cfg.bursts[1] + 1))):
        length = float(lay.uniform(*cfg.burst_s))
        onset = float(lay.uniform(0.0, max(dur - length, 0.0)))
        bursts.append({"onset": round(onset, 3), "duration": round(length, 3),
                       "level_db": round(float(lay.uniform(*cfg.burst_db)), 2)})
    shift["bursts"] = bursts
    band = None
    if cfg.p_band > 0 and lay.random() < cfg.p_band:
        band = {"freq_hz": round(_log_uniform(lay, *cfg.band_hz), 1),
                "width_oct": round(float(lay.uniform(*cfg.band_width_oct)), 3),
                "level_db": round(float(lay.uniform(*cfg.band_db)), 2)}
    shift["band"] = band
    return device, shift


def sample_clip(seed: int, split: str | int, index: int, *, sample_rate: int = 16000,
                version: str | None = None) -> dict[str, Any]:
    """Draw one clip's ground truth, captions and keywords without synthesising audio.

    The result is the clip's manifest entry minus the measured ``rms_dbfs``/``peak_dbfs``. It depends only on
    ``(seed, split, index, sample_rate, version)``, so it is identical to what :func:`generate` writes for that
    clip. ``version`` is a generator version (default: the current :data:`GENERATOR_VERSION`).
    """
    settings = version_settings(version)
    si = _split_index(split)
    lay, txt, kw, _ = _clip_rngs(seed, si, index)
    sr = int(sample_rate)
    num_samples = int(round(lay.uniform(*DURATION_RANGE_S) * sr))
    dur = num_samples / sr
    n_ev = int(lay.choice(3, p=P_N_EVENTS)) + 1
    pattern, spans, bed = _sample_layout(lay, dur, n_ev)
    # event types: a background bed is preferably a continuous texture
    order = lay.permutation(len(EVENT_TYPES))
    if bed >= 0:
        textures = [i for i in order if EVENT_TYPES[i].texture]
        bed_type = int(textures[0])
        others = [int(i) for i in order if i != bed_type][: n_ev - 1]
        chosen = others[:bed] + [bed_type] + others[bed:]
    else:
        chosen = [int(i) for i in order[:n_ev]]
    scene = SCENES[int(lay.integers(len(SCENES)))]
    snr = float(lay.uniform(*SNR_RANGE_DB))
    events = []
    for j, (ti, (on, off)) in enumerate(zip(chosen, spans)):
        ev = EVENT_TYPES[ti]
        attrs = _sample_attributes(lay, ev)
        level = EVENT_LEVEL_DB + float(lay.uniform(-2.0, 2.0))
        level += ATTRIBUTE_DB.get(attrs.get("loudness") or "", 0.0)
        level += ATTRIBUTE_DB.get(attrs.get("distance") or "", 0.0)
        if j == bed:
            level += BACKGROUND_EVENT_DB
        events.append({
            "type": ev.name, "keyword": ev.keyword,
            "onset": round(float(max(on, 0.0)), 3), "offset": round(float(min(off, dur)), 3),
            "attributes": attrs, "level_db": round(level, 2), "background": j == bed,
            "pitch_jitter": round(float(lay.uniform(0.9, 1.1)), 4),
            "rate_jitter": round(float(lay.uniform(0.92, 1.08)), 4),
        })
    relations = []
    for i in range(len(events)):
        for j in range(i + 1, len(events)):
            a, b = (i, j) if events[i]["onset"] <= events[j]["onset"] else (j, i)
            rel = "before" if events[a]["offset"] <= events[b]["onset"] else "overlaps"
            relations.append({"first": a, "second": b, "relation": rel})
    v1 = settings.version == "1.1.0"
    device = None
    if v1:
        shift = _sample_shift_1_1_0(lay, settings.shift) if SPLITS[si] in settings.shifted_splits else None
    else:
        device, shift = _sample_conditions(lay, settings, SPLITS[si], dur)
    tag = _SPLIT_TAG[SPLITS[si]]
    clip: dict[str, Any] = {
        "file_name": f"synth_{tag}_{index:05d}.wav",
        "sound_id": (si + 1) * 100000 + index,
        "num_samples": num_samples,
        "duration": round(dur, 4),
        "scene": scene.name,
        "background_snr_db": round(snr, 2),
        "pattern": pattern,
        "events": events,
        "relations": relations,
        "shift": shift,
    }
    if device is not None:
        clip["device"] = device
    dialects = settings.dialects if SPLITS[si] in settings.dialect_splits else ()
    clip["captions"], clip["caption_mentions"], kinds = _captions(txt, clip, reserve=not v1, dialects=dialects)
    if not v1:
        clip["caption_dialects"] = kinds
    clip["keywords"] = _keywords(kw, clip)
    return clip

