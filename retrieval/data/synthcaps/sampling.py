"""SynthCaps clip sampling: per-clip random streams, attributes, the event layout (pattern, onsets, background
bed), scene, levels, relations, the evaluation shift, captions and keywords: :func:`sample_clip`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .captions import _captions
from .constants import (_SPLIT_TAG, ATTRIBUTE_DB, ATTRIBUTE_DIMS, BACKGROUND_EVENT_DB, DURATION_RANGE_S, EVENT_LEVEL_DB,
                        P_N_EVENTS, SHIFT_GAIN_RANGE_DB, SHIFTED_SPLITS, SNR_RANGE_DB, SPLITS)
from .events import EVENT_TYPES, EventType
from .keywords import _keywords
from .scenes import SCENES


def _split_index(split: str | int) -> int:
    if isinstance(split, int):
        if not 0 <= split < len(SPLITS):
            raise ValueError(f"split index {split} out of range 0..{len(SPLITS) - 1}")
        return split
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return SPLITS.index(split)


def _clip_rngs(seed: int, split_index: int, index: int) -> tuple[np.random.Generator, ...]:
    root = np.random.default_rng([seed, split_index, index])
    return tuple(root.spawn(4))  # layout, text, keywords, audio


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


def sample_clip(seed: int, split: str | int, index: int, *, sample_rate: int = 16000) -> dict[str, Any]:
    """Draw one clip's ground truth, captions and keywords without synthesising audio.

    The result is the clip's manifest entry minus the measured ``rms_dbfs``/``peak_dbfs``. It depends only on
    ``(seed, split, index, sample_rate)``, so it is identical to what :func:`generate` writes for that clip.
    """
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
    shift = None
    if SPLITS[si] in SHIFTED_SPLITS:
        peak = None
        if lay.random() < 0.7:
            peak = {"freq_hz": round(math.exp(lay.uniform(math.log(200.0), math.log(5000.0))), 1),
                    "gain_db": round(float(lay.choice([-1.0, 1.0]) * lay.uniform(3.0, 8.0)), 2),
                    "q": round(float(lay.uniform(0.7, 2.0)), 3)}
        shift = {"gain_db": round(float(lay.uniform(*SHIFT_GAIN_RANGE_DB)), 2),
                 "tilt_db": round(float(lay.uniform(-8.0, 8.0)), 2),
                 "tilt_pivot_hz": round(math.exp(lay.uniform(math.log(500.0), math.log(2000.0))), 1),
                 "peak": peak}
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
    clip["captions"], clip["caption_mentions"] = _captions(txt, clip)
    clip["keywords"] = _keywords(kw, clip)
    return clip

