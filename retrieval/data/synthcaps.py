"""SynthCaps: the built-in procedural audio-caption benchmark.

SynthCaps is a small, fully synthetic data set for language-based audio retrieval (a text query ranks audio
recordings). It generates on a 2-core CPU in seconds, a small CNN on 32-bin log-mels learns it in minutes, and it
contains planted effects (attributes, temporal relations, an audio-silent scene that only metadata reveals, and a
recording-condition shift on the test split) so that encoders, augmentations and metadata fusion can be compared.
It is written in exactly the ClothoV2 layout, so the project's Clotho loader serves it unchanged::

    <root>/
        clotho_captions_{development,validation,evaluation}.csv   file_name,caption_1,...,caption_5
        clotho_metadata_{development,validation,evaluation}.csv   file_name,keywords,sound_id,sound_link,
                                                                  start_end_samples,manufacturer,license
        development/synth_dev_00000.wav ...                        mono, 16-bit PCM, 16 kHz by default
        validation/synth_val_00000.wav ...
        evaluation/synth_eval_00000.wav ...
        synthcaps.json                                             manifest + ground truth (written last)

CSV files are UTF-8 with ``\n`` line endings, quoted only when needed. Metadata rows: ``keywords`` joined by
``;`` (``rain;street;water``), ``sound_id`` = (split index + 1) x 100000 + clip index, ``sound_link``
``https://freesound.org/s/<sound_id>`` (text only, not a real recording), ``start_end_samples``
``[0, <num_samples>]``, ``manufacturer`` ``synthcaps``, ``license`` ``CC0``.

Generate it with :func:`generate` (or ``python -m retrieval synth``)::

    >>> from retrieval.data.synthcaps import generate, default_root
    >>> manifest = generate(default_root("~/.cache/arh", "small", 0), "small", seed=0)  # doctest: +SKIP

Knobs
-----
``size``
    ``tiny`` = 64/24/24 clips (development/validation/evaluation; smoke tests, ~4-5 s to generate),
    ``small`` = 400/100/100 (quick studies, ~20-30 s), ``default`` = 2000/500/500 (~2 min); about 30-40 ms
    and 160 kB per clip on one CPU core. See :data:`SIZES`.
``seed``
    Any integer >= 0. Clip *i* of split *s* (split index 0/1/2) is produced from its own
    ``np.random.default_rng([seed, s, i])``, which spawns four independent streams (layout, captions, keywords,
    audio). A clip therefore never depends on generation order or on the other streams, the same
    ``(size, seed, sample_rate)`` always gives byte-identical files (no timestamps anywhere), and for one seed
    ``tiny`` is a prefix of ``small``, which is a prefix of ``default``. Different seeds give different data.
``sample_rate``
    16000 Hz by default (>= 8000); all frequencies are clamped below 0.45 x the sample rate.
``progress``
    Print one tqdm bar per split to stderr.

Generation is atomic: everything is written into a temporary sibling folder that is renamed to the target when
complete. An existing complete set with the same (size, seed, sample_rate, :data:`GENERATOR_VERSION`) is reused
as is; an absent or empty target is generated; anything else raises ``FileExistsError`` (nothing is deleted).

What is in a clip (the planted effects)
---------------------------------------
1. **Sound events.** 25 event types (:data:`EVENT_TYPES`; name (keyword): signature):
   ``tone`` (tone): steady ~1 kHz sine; ``siren`` (siren): harmonic tone sweeping slowly up and down around
   850 Hz; ``bird_chirp`` (bird): groups of fast upward chirps 2.6-5 kHz; ``hum`` (hum): 55 Hz harmonic drone;
   ``rain`` (rain): band noise around 3 kHz with many tiny clicks; ``wind`` (wind): low-passed noise with slow
   gusts; ``clock_tick`` (clock): regular tick-tock resonant clicks, ~2/s; ``knocking`` (knock): groups of 2-4
   low thumps; ``bell`` (bell): inharmonic decaying partials from 420 Hz; ``engine`` (engine): 32 Hz pulsed
   harmonic rumble; ``dog_bark`` (dog): short falling harmonic bursts ~480 Hz in groups; ``footsteps``
   (footsteps): heel thumps + 0.5-2 kHz scuffs, ~2/s; ``water_stream`` (water): dense rising bubbles
   350-1400 Hz; ``alarm_beep`` (alarm): groups of four 2.6 kHz beeps; ``whistle`` (whistle): whistled melody
   ~1.3 kHz with vibrato; ``fire_crackle`` (fire): sparse heavy-tailed clicks and pops over a rumble;
   ``typing`` (keyboard): bursts of 3-7 kHz clicks ~8/s; ``drum`` (drum): falling 160->70 Hz body + snare
   rattle, ~2/s; ``insect_buzz`` (insect): 230 Hz buzzing sawtooth with wobble; ``sweeping`` (broom):
   alternating band-noise strokes; ``car_horn`` (horn): two-tone 410/520 Hz blasts; ``phone_ring`` (phone):
   double rings of a 650/790 Hz dual tone with tremolo; ``hammering`` (hammer): metallic ringing impacts at
   1.2 kHz; ``frog_croak`` (frog): 45 Hz pulse trains of a 650 Hz resonance; ``clapping`` (clapping): rhythmic
   hand claps. Each type has several caption nouns and verbs ("a dog barks", "a hound is barking") and one
   canonical metadata keyword.
2. **Attributes** change the audio and are sometimes named in captions: ``loudness`` loud/quiet = +8/-8 dB;
   ``pitch`` high/low = x1.5/x0.67 frequency for tonal events and centre frequency for noisy ones (captions
   say "high-pitched"/"deep", or "bright"/"dull" for noise); ``rate`` fast/slow = x1.6/x0.6 repetition rate
   (repetitive or pulsed sounds only); ``distance`` near = +2 dB, far = -6 dB plus a 2nd-order low-pass at
   1.2-2.5 kHz and a 0.3-0.6 s reverberant tail (which may ring past the event's offset). Each applicable
   attribute takes each marked value with probability 0.25 (distance 0.225) and is neutral otherwise; "loud"
   and "far" never co-occur. Every event also gets +-2 dB level, +-10 % frequency and +-8 % rate jitter, so
   attributes are clearly separated but are not exact thresholds. A caption names each present attribute with
   probability 0.5 (at most two per event), as an adjective ("a distant dog") or an adverbial ("slowly",
   "in the distance").
3. **1-3 events per clip** (probabilities 0.35/0.40/0.25, distinct types) in one of these layouts:
   ``single`` (the event spans almost the whole clip); ``sequence`` (A then B, 0.1-0.5 s gap); ``overlap`` (a
   continuous "bed" event, a texture such as rain, hum or engine, spans the clip 5 dB lower and is flagged
   ``background``; a 1.5 s+ foreground event occurs during it); ``sequence3`` (A then B then C);
   ``sequence_bg`` (A then B over a background bed C); ``overlap_then`` (A and B together, then C). Captions
   express the relation correctly with respect to the ground-truth onsets ("then", "followed by", "before",
   "after" for sequences; "while", "as", "at the same time", "together" for overlaps; "in the background" is
   said only of the flagged background event). The manifest lists every pairwise relation.
4. **Scene.** Every clip has one of 8 scenes (street, kitchen, forest, office, park, beach, church, factory),
   drawn independently of the events. The background texture is a common noise with a random spectral slope
   and low-pass per clip, plus a scene-specific component 14 dB lower (traffic rumble, fridge hum, leaf rustle,
   HVAC, a murmur band, waves, dark room tone, machine hum), mixed 12-24 dB below the nominal event level, so
   the scene is hard to hear. About two thirds of the captions name the scene ("in a busy street", "outside in a
   park") and the metadata keywords contain the scene keyword with probability 0.8: this is the planted effect
   that lets metadata fusion help, because keywords carry information the audio hardly does.
5. **Keywords are informative but noisy.** Each true event keyword is kept with probability 0.7; 0/1/2
   spurious keywords (probabilities 0.5/0.35/0.15) are drawn from the event and scene vocabulary among those
   *not* true for the clip; generic tags (``field-recording``, ``ambience``, ``sound``, ``audio``; 1-2 of
   them) are added with probability 0.35; the list is shuffled.
6. **Captions.** Five per clip, 8-20 words each (enforced), all distinct, as different annotators would
   write them: many templates for each layout, openers ("you can hear", "the sound of", "there is"), noun and
   verb synonyms, attribute wordings, scene phrases at the start or the end and neutral fillers ("for a few
   seconds"), in sentence case (p=0.75) or lowercase, with a final period. Every caption mentions every
   foreground event; a background event is left out with probability 0.2 (``overlap``) or 0.3
   (``sequence_bg``) per caption, as annotators omit minor background sounds. The manifest records which
   events each caption mentions.
7. **Recording-condition shift on the evaluation split only.** Each evaluation clip's final mix gets a random
   spectral colouring - a tilt (low shelf -t/2 dB and high shelf +t/2 dB around a pivot of 0.5-2 kHz,
   t ~ U(-8, 8)) plus, with probability 0.7, a peaking EQ (0.2-5 kHz, +-3-8 dB, Q 0.7-2), rescaled to keep the
   clip's RMS - followed by a level offset ~ U(-12, -3) dB. Models that rely on absolute level or exact
   spectral shape lose accuracy, so gain and Freq-MixStyle augmentation can matter. Development and
   validation have no shift (``"shift": null`` in the manifest).
8. **Durations and levels.** Clips last U(4, 6) s, so loaders must crop/pad. Each event is set to a nominal
   RMS of -26 dBFS plus its offsets (attributes, jitter, background) with its peak capped 15 dB above that
   (very clicky sounds end up a little quieter); the mix is scaled by one fixed headroom factor (-3 dB), never
   normalised per clip (that would erase loud/quiet and the level shift); ``np.clip`` is a last resort (peaks
   stay below about -3 dBFS in practice).

Manifest (``synthcaps.json``)
-----------------------------
``dataset``, ``version`` (:data:`GENERATOR_VERSION`), ``size``, ``seed``, ``sample_rate``, ``counts``,
``shifted_splits``, ``event_types``, ``event_keywords``, ``scenes`` and ``clips[split]``, a list with per clip:
``file_name``, ``sound_id``, ``num_samples``, ``duration``, ``scene``, ``background_snr_db``, ``pattern``,
``events`` (``type``, ``keyword``, ``onset``/``offset`` in s, ``attributes`` {dimension: value or null},
``level_db``, ``background``, ``pitch_jitter``, ``rate_jitter``), ``relations`` (``first``/``second`` event
indices, ``before`` or ``overlaps``), ``shift`` (evaluation only: ``gain_db``, ``tilt_db``, ``tilt_pivot_hz``,
``peak``), ``captions``, ``caption_mentions``, ``keywords`` and the measured ``rms_dbfs``/``peak_dbfs``. It is
written last; its presence marks a complete data set. :func:`sample_clip` returns the same ground truth for
one clip without audio and :func:`render_clip` also synthesises it.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf
from scipy.fft import next_fast_len
from scipy.signal import butter, fftconvolve, sosfilt

__all__ = [
    "GENERATOR_VERSION",
    "SIZES",
    "SPLITS",
    "EVENT_TYPES",
    "SCENES",
    "GENERIC_TAGS",
    "EventType",
    "Scene",
    "generate",
    "default_root",
    "sample_clip",
    "render_clip",
    "load_manifest",
]

GENERATOR_VERSION = "1.1.0"
MANIFEST_NAME = "synthcaps.json"

SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (64, 24, 24),
    "small": (400, 100, 100),
    "default": (2000, 500, 500),
}
SPLITS = ("development", "validation", "evaluation")
_SPLIT_TAG = {"development": "dev", "validation": "val", "evaluation": "eval"}
SHIFTED_SPLITS = ("evaluation",)

CAPTION_HEADER = ["file_name", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5"]
METADATA_HEADER = ["file_name", "keywords", "sound_id", "sound_link", "start_end_samples", "manufacturer",
                   "license"]

# ------------------------------------------------------------------------------------------------ constants
EVENT_LEVEL_DB = -26.0  # nominal event RMS (dBFS) before attribute offsets
CREST_MAX_DB = 15.0  # an event's peak is capped this far above its nominal RMS
HEADROOM_DB = -3.0  # one fixed factor on every mix
BACKGROUND_EVENT_DB = -5.0  # a flagged background ("bed") event
ATTRIBUTE_DB = {"loud": 8.0, "quiet": -8.0, "near": 2.0, "far": -6.0}
PITCH_FACTOR = {"high": 1.5, "low": 0.67}
RATE_FACTOR = {"fast": 1.6, "slow": 0.6}
ATTRIBUTE_DIMS: dict[str, tuple[str, str]] = {
    "loudness": ("loud", "quiet"),
    "pitch": ("high", "low"),
    "rate": ("fast", "slow"),
    "distance": ("near", "far"),
}
SNR_RANGE_DB = (12.0, 24.0)
SCENE_COMPONENT_GAIN = 0.2  # scene-specific background component relative to the common texture (-14 dB)
DURATION_RANGE_S = (4.0, 6.0)
SHIFT_GAIN_RANGE_DB = (-12.0, -3.0)
P_N_EVENTS = (0.35, 0.40, 0.25)
P_KEEP_EVENT_KEYWORD = 0.7
P_SCENE_KEYWORD = 0.8
P_SPURIOUS = (0.5, 0.35, 0.15)  # 0, 1, 2 spurious keywords
P_GENERIC = 0.35
P_SCENE_IN_CAPTION = 0.75
P_MENTION_ATTRIBUTE = 0.5
GENERIC_TAGS = ("field-recording", "ambience", "sound", "audio")


# =============================================================================================== DSP helpers
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


# ============================================================================================ event synthesis
# Every synth takes (rng, n, sr, p, r): p = pitch factor, r = rate factor (1 = neutral, already jittered),
# and returns n samples of arbitrary scale (the caller normalises the level).
SynthFn = Callable[[np.random.Generator, int, int, float, float], np.ndarray]


def _s_tone(rng, n, sr, p, r):
    ph = _phase(_fc(1000.0 * p, sr), n, sr, rng.uniform(0, 2 * np.pi))
    return np.sin(ph) + 0.12 * np.sin(2 * ph) * (2000.0 * p < 0.45 * sr)


def _s_siren(rng, n, sr, p, r):
    t = _t(n, sr)
    period = 2.4 / r
    f = _fc(850.0 * p * (1.0 + 0.3 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))), sr)
    return _harmonics(_phase(f, n, sr), f, (1.0, 0.5, 0.3, 0.15), sr)


def _s_bird(rng, n, sr, p, r):
    dur = n / sr
    times = _grouped(rng, dur, (3, 6), 1.0 / (7.0 * r), (0.3 / r, 0.7 / r))
    out = np.zeros(n)
    for t0 in times:
        length = rng.uniform(0.05, 0.09)
        m = int(length * sr)
        i = int(t0 * sr)
        m = min(m, n - i)
        if m < 8:
            continue
        f1 = 2600.0 * p * rng.uniform(0.9, 1.1)
        f2 = f1 * rng.uniform(1.5, 1.9)
        tt = np.arange(m) / sr
        f = _fc(f1 * (f2 / f1) ** (tt / length), sr)
        ph = _phase(f, m, sr)
        env = np.sin(np.pi * tt / length) ** 2
        out[i:i + m] += env * (np.sin(ph) + 0.2 * np.sin(2 * ph) * (2 * f < 0.45 * sr)) * rng.uniform(0.6, 1.0)
    return out


def _s_hum(rng, n, sr, p, r):
    f0 = 55.0 * p
    t = _t(n, sr)
    amps = [(1.0 / k**0.8) * (0.5 if k % 2 == 0 else 1.0) for k in range(1, 15)]
    x = _harmonics(_phase(f0, n, sr), f0, amps, sr)
    return x * (1.0 + 0.1 * np.sin(2 * np.pi * 0.7 * t))


def _s_rain(rng, n, sr, p, r):
    c = 3000.0 * p
    bed = _unit(_filt(_white(rng, n), sr, "bandpass", (c / 4.0, c * 2.5)))
    dur = n / sr
    k = rng.poisson(150.0 * dur)
    times = rng.uniform(0, dur, k)
    amps = rng.exponential(1.0, k)
    _, env = _decay(sr, 0.004, 0.0008)
    grain = np.diff(rng.standard_normal(env.size + 1)) * env
    drops = _train(n, times, amps, grain, sr)
    return 0.5 * bed + 1.2 * _unit(drops)


def _s_wind(rng, n, sr, p, r):
    c = 600.0 * p
    e1 = np.clip(0.55 + 0.35 * _smooth(rng, n, sr, 0.4), 0.08, 1.0)
    e2 = np.clip(0.45 + 0.35 * _smooth(rng, n, sr, 0.6), 0.0, 1.0)
    low = _unit(_filt(_white(rng, n), sr, "lowpass", c))
    band = _unit(_filt(_white(rng, n), sr, "bandpass", (0.8 * c, 1.6 * c)))
    return low * e1 + 0.4 * band * e2


def _s_clock(rng, n, sr, p, r):
    times = _periodic(rng, n / sr, 0.5 / r, 0.01)
    t, env = _decay(sr, 0.015, 0.0025)
    f1, f2 = _fc(2600.0 * p, sr), _fc(4100.0 * p, sr)
    tick = env * (np.sin(2 * np.pi * f1 * t) + 0.6 * np.sin(2 * np.pi * f2 * t))
    tock = env * (np.sin(2 * np.pi * 0.8 * f1 * t) + 0.6 * np.sin(2 * np.pi * 0.8 * f2 * t))
    return _train(n, times[0::2], 1.0, tick, sr) + _train(n, times[1::2], 0.85, tock, sr)


def _s_knock(rng, n, sr, p, r):
    times = _grouped(rng, n / sr, (2, 4), 0.17 / r, (0.6 / r, 1.1 / r))
    t, env = _decay(sr, 0.15, 0.03)
    _, cl = _decay(sr, 0.15, 0.005)
    noise = _unit(_filt(rng.standard_normal(t.size), sr, "lowpass", 900.0))
    grain = np.sin(2 * np.pi * 110.0 * p * t) * env + 0.3 * noise * cl
    return _train(n, times, rng.uniform(0.7, 1.0, times.size), grain, sr)


def _s_bell(rng, n, sr, p, r):
    f0 = 420.0 * p
    m = min(int(1.8 * sr), n)
    t = _t(m, sr)
    grain = np.zeros(m)
    for ratio, a in zip((1.0, 2.0, 2.4, 3.0, 4.2, 5.4, 6.8), (1.0, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)):
        f = f0 * ratio
        if f < 0.45 * sr:
            grain += a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / (1.5 / ratio**0.6))
    grain *= np.minimum(1.0, t / 0.002)
    times = _periodic(rng, n / sr, 1.3 / r, 0.04)
    return _train(n, times, 1.0, grain, sr)


def _s_engine(rng, n, sr, p, r):
    f0 = 32.0 * p
    t = _t(n, sr)
    amps = [1.0 / k**0.5 for k in range(1, 21)]
    ph = _phase(f0 * (1.0 + 0.01 * _smooth(rng, n, sr, 2.0)), n, sr)
    x = _harmonics(ph, f0 * 1.03, amps, sr)
    x = _unit(_filt(x, sr, "lowpass", 700.0))
    rumble = _unit(_filt(_white(rng, n), sr, "lowpass", 250.0))
    pulse = 0.6 + 0.4 * np.abs(np.sin(np.pi * 5.0 * r * t))
    return (x + 0.35 * rumble) * pulse


def _s_dog(rng, n, sr, p, r):
    times = _grouped(rng, n / sr, (1, 3), 0.28 / r, (0.5 / r, 1.1 / r))
    out = np.zeros(n)
    noise = _filt(_white(rng, n), sr, "bandpass", (500.0, 3000.0))
    noise = _unit(noise)
    for t0 in times:
        length = rng.uniform(0.12, 0.2)
        i = int(t0 * sr)
        m = min(int(length * sr), n - i)
        if m < 16:
            continue
        tt = np.arange(m) / sr
        f0 = 480.0 * p * rng.uniform(0.92, 1.08) * (1.0 - 0.25 * tt / length)
        ph = _phase(f0, m, sr)
        form = 1100.0 * p
        amps = [math.exp(-(((k * 480.0 * p) - form) / 900.0) ** 2) + 0.3 / k for k in range(1, 11)]
        env = np.minimum(1.0, tt / 0.008) * (1.0 - tt / length) ** 1.5
        out[i:i + m] += env * (_harmonics(ph, f0, amps, sr) + 0.6 * noise[i:i + m])
    return out


def _s_footsteps(rng, n, sr, p, r):
    times = _periodic(rng, n / sr, 0.55 / r, 0.05)
    t, env = _decay(sr, 0.1, 0.015)
    _, env2 = _decay(sr, 0.1, 0.03)
    heel = _unit(_filt(rng.standard_normal(t.size), sr, "lowpass", 200.0)) * env
    scuff = _unit(_filt(rng.standard_normal(t.size), sr, "bandpass", (500.0, 2000.0))) * env2
    scuff = np.concatenate([np.zeros(int(0.01 * sr)), scuff])[: t.size]
    grain = heel + 0.5 * scuff
    return _train(n, times[0::2], 1.0, grain, sr) + _train(n, times[1::2], 0.8, grain, sr)


def _s_water(rng, n, sr, p, r):
    dur = n / sr
    m = int(0.02 * sr)
    tt = np.arange(m) / sr
    env = np.exp(-tt / 0.006)
    bank = []
    for f0 in np.geomspace(350.0, 1400.0, 12) * p:  # rising "Minnaert" bubbles
        f = _fc(f0 * (1.0 + 2.5 * tt / 0.02), sr)
        bank.append(env * np.sin(_phase(f, m, sr)))
    k = rng.poisson(45.0 * dur)
    starts = (rng.uniform(0, dur, k) * sr).astype(int)
    which = rng.integers(0, len(bank), k)
    amps = rng.uniform(0.3, 1.0, k)
    out = np.zeros(n + m)
    for i, w, a in zip(starts, which, amps):
        out[i:i + m] += a * bank[w]
    bed = _unit(_filt(_white(rng, n), sr, "bandpass", (400.0 * p, 2500.0 * p)))
    bed *= np.clip(0.7 + 0.3 * _smooth(rng, n, sr, 1.0), 0.2, 1.2)
    return _unit(out[:n]) + 0.3 * bed


def _s_alarm(rng, n, sr, p, r):
    f = _fc(2600.0 * p, sr)
    ph = _phase(f, n, sr)
    x = np.sin(ph) + 0.3 * np.sin(3 * ph) * (3 * f < 0.45 * sr)
    on, off, pause = 0.1 / r, 0.1 / r, 0.4 / r
    segs, t, dur = [], rng.uniform(0, 0.1), n / sr
    while t < dur:
        for _ in range(4):
            segs.append((t, min(t + on, dur)))
            t += on + off
        t += pause
    return x * _gate(n, sr, segs)


def _s_whistle(rng, n, sr, p, r):
    dur = n / sr
    f_base = 1300.0 * p
    fi = np.empty(n)
    segs = []
    t, semis, notes_left = 0.0, 0.0, int(rng.integers(3, 6))
    phrase_start = 0.0
    while t < dur:
        d = rng.uniform(0.2, 0.45) / r
        semis = float(np.clip(semis + rng.integers(-4, 5), -5, 7))
        a, b = int(t * sr), min(int((t + d) * sr), n)
        fi[a:b] = f_base * 2.0 ** (semis / 12.0)
        t += d
        notes_left -= 1
        if notes_left == 0:
            segs.append((phrase_start, min(t, dur)))
            gap = rng.uniform(0.12, 0.3)
            a, b = int(t * sr), min(int((t + gap) * sr), n)
            fi[a:b] = f_base * 2.0 ** (semis / 12.0)
            t += gap
            phrase_start, notes_left = t, int(rng.integers(3, 6))
    if phrase_start < dur:
        segs.append((phrase_start, dur))
    w = max(int(0.03 * sr), 1)
    c = np.cumsum(np.concatenate([[0.0], fi]))
    sm = fi.copy()
    sm[w:] = (c[w + 1:] - c[1:-w]) / w  # glide between notes (30 ms moving average)
    tt = _t(n, sr)
    sm = _fc(sm * (1.0 + 0.012 * np.sin(2 * np.pi * 5.5 * tt)), sr)
    tone = np.sin(_phase(sm, n, sr))
    breath = _unit(_filt(_white(rng, n), sr, "bandpass", (1000.0 * p, 3000.0 * p)))
    return (tone + 0.06 * breath) * _gate(n, sr, segs, 0.02)


def _s_fire(rng, n, sr, p, r):
    dur = n / sr
    k = rng.poisson(30.0 * r * dur)
    times = rng.uniform(0, dur, k)
    amps = np.minimum(rng.pareto(2.5, k) + 0.2, 6.0)
    _, env = _decay(sr, 0.002, 0.0004)
    crack = np.diff(rng.standard_normal(env.size + 1)) * env
    kp = rng.poisson(3.0 * r * dur)
    t, envp = _decay(sr, 0.012, 0.003)
    pop = _filt(rng.standard_normal(t.size), sr, "bandpass", (300.0, 1500.0)) * envp
    x = _unit(_train(n, times, amps, crack, sr)) + 0.6 * _unit(_train(n, rng.uniform(0, dur, kp), 1.0, pop, sr))
    rumble = _unit(_filt(_white(rng, n), sr, "lowpass", 250.0))
    hiss = _unit(_filt(_white(rng, n), sr, "bandpass", (1500.0, 4000.0)))
    return x + 0.25 * rumble + 0.06 * hiss


def _s_typing(rng, n, sr, p, r):
    dur = n / sr
    t, times = rng.uniform(0, 0.1), []
    while t < dur - 0.03:
        for _ in range(int(rng.integers(3, 10))):
            if t >= dur - 0.03:
                break
            times.append(t)
            t += rng.uniform(0.08, 0.16) / r
        t += rng.uniform(0.3, 0.9) / r
    g = int(0.06 * sr)
    tg = _t(g, sr)
    click = _unit(_filt(rng.standard_normal(g), sr, "bandpass", (3000.0, 7000.0))) * np.exp(-tg / 0.002)
    thud = _unit(_filt(rng.standard_normal(g), sr, "lowpass", 300.0)) * np.exp(-tg / 0.006)
    press = click + 0.3 * thud
    j = int(0.045 * sr)
    grain = press.copy()
    grain[j:] += 0.4 * press[: g - j]
    return _train(n, np.asarray(times), rng.uniform(0.6, 1.0, len(times)), grain, sr)


def _s_drum(rng, n, sr, p, r):
    times = _periodic(rng, n / sr, 0.5 / r, 0.02)
    if times.size > 2:  # occasional double hits
        extra = times[rng.random(times.size) < 0.2] + 0.25 / r
        times = np.sort(np.concatenate([times, extra]))
    t, env = _decay(sr, 0.5, 0.15)
    f = 70.0 * p + 90.0 * p * np.exp(-t / 0.04)
    body = np.sin(_phase(f, t.size, sr)) * env
    noise = _unit(_filt(rng.standard_normal(t.size), sr, "lowpass", 2000.0)) * np.exp(-t / 0.01)
    snare = _unit(_filt(rng.standard_normal(t.size), sr, "bandpass", (1000.0, 5000.0))) * np.exp(-t / 0.05)
    grain = body + 0.4 * noise + 0.45 * snare
    return _train(n, times, rng.uniform(0.75, 1.0, times.size), grain, sr)


def _s_insect(rng, n, sr, p, r):
    t = _t(n, sr)
    f0 = 230.0 * p
    f = f0 * (1.0 + 0.04 * np.sin(2 * np.pi * 2.5 * t + rng.uniform(0, 6.3)) + 0.02 * _smooth(rng, n, sr, 1.5))
    x = _harmonics(_phase(f, n, sr), f, [1.0 / k for k in range(1, 17)], sr)
    return x * np.clip(0.75 + 0.25 * _smooth(rng, n, sr, 0.5), 0.4, 1.0)


def _s_sweep(rng, n, sr, p, r):
    period = 0.7 / r
    c = 2500.0 * p
    b1 = _unit(_filt(_white(rng, n), sr, "bandpass", (c / 2.0, c * 2.0)))
    b2 = _unit(_filt(_white(rng, n), sr, "bandpass", (0.85 * c / 2.0, 0.85 * c * 2.0)))
    t = _t(n, sr)
    phase = (t - rng.uniform(0, period)) / period
    k = np.floor(phase)
    x = phase - k
    stroke = np.where(x < 0.55, np.sin(np.pi * np.minimum(x / 0.55, 1.0)) ** 1.5, 0.0)
    odd = (k.astype(int) % 2) == 1
    return stroke * np.where(odd, b2, b1)


def _s_horn(rng, n, sr, p, r):
    f1, f2 = 410.0 * p, 520.0 * p
    amps = [1.0 / k for k in range(1, 9)]
    x = _harmonics(_phase(f1, n, sr), f1, amps, sr) + _harmonics(_phase(f2, n, sr), f2, amps, sr)
    x = _filt(x, sr, "lowpass", 3000.0)
    segs, t, dur = [], rng.uniform(0, 0.1), n / sr
    while t < dur:
        for _ in range(int(rng.integers(1, 4))):
            d = rng.uniform(0.25, 0.7) / r
            segs.append((t, min(t + d, dur)))
            t += d + rng.uniform(0.15, 0.35) / r
        t += rng.uniform(0.4, 1.0) / r
    return x * _gate(n, sr, segs, 0.01)


def _s_phone(rng, n, sr, p, r):
    t = _t(n, sr)
    f1, f2 = _fc(650.0 * p, sr), _fc(790.0 * p, sr)
    x = np.sin(2 * np.pi * f1 * t) + np.sin(2 * np.pi * f2 * t)
    trem = 0.5 + 0.5 * np.tanh(4.0 * np.sin(2 * np.pi * 16.0 * t))
    segs, s, dur = [], rng.uniform(0, 0.2), n / sr
    while s < dur:
        segs.append((s, min(s + 0.4 / r, dur)))
        s += 0.6 / r
        segs.append((s, min(s + 0.4 / r, dur)))
        s += 0.4 / r + 1.1 / r
    return x * trem * _gate(n, sr, segs, 0.008)


def _s_hammer(rng, n, sr, p, r):
    times = _periodic(rng, n / sr, 0.6 / r, 0.06)
    t = _t(int(0.2 * sr), sr)
    grain = np.zeros(t.size)
    for ratio, tau, a in ((1.0, 0.08, 1.0), (2.76, 0.04, 0.6), (5.4, 0.02, 0.4)):
        f = 1200.0 * p * ratio
        if f < 0.45 * sr:
            grain += a * np.sin(2 * np.pi * f * t) * np.exp(-t / tau)
    grain += 0.8 * rng.standard_normal(t.size) * np.exp(-t / 0.001)
    return _train(n, times, rng.uniform(0.7, 1.0, times.size), grain, sr)


def _s_frog(rng, n, sr, p, r):
    dur = n / sr
    croaks = _periodic(rng, dur, 0.8 / r, 0.12)
    pulses = []
    for c in croaks:
        length = rng.uniform(0.2, 0.3)
        pulses.extend(np.arange(c, min(c + length, dur), 1.0 / 45.0))
    t, env = _decay(sr, 0.015, 0.004)
    f = 650.0 * p
    grain = env * (np.sin(2 * np.pi * f * t) + 0.4 * np.sin(2 * np.pi * _fc(2 * f, sr) * t))
    return _train(n, np.asarray(pulses), 1.0, grain, sr)


def _s_clapping(rng, n, sr, p, r):
    times = _periodic(rng, n / sr, 0.45 / r, 0.05)
    t = _t(int(0.04 * sr), sr)
    burst = _unit(_filt(rng.standard_normal(t.size), sr, "bandpass", (700.0, 2800.0)))
    grain = burst * np.minimum(1.0, t / 0.001) * np.exp(-t / 0.007)
    return _train(n, times, rng.uniform(0.8, 1.0, times.size), grain, sr)


# ============================================================================================ catalogue
@dataclass(frozen=True)
class EventType:
    """One sound-event type: its audio synthesiser and its caption vocabulary.

    ``nouns`` are singular or mass subject phrases with their article ("a dog", "rain", "someone");
    ``verbs`` are (3rd-person singular, -ing form) pairs that go with every noun ("barks", "barking").
    ``attributes`` lists the attribute dimensions (see ``ATTRIBUTE_DIMS``) that apply; ``texture`` marks
    continuous sounds that can act as a background bed; ``noisy`` makes the pitch attribute read as a
    brightness ("bright"/"dull"); ``adjectives`` says whether attribute adjectives fit the nouns.
    """

    name: str
    keyword: str
    description: str
    nouns: tuple[str, ...]
    verbs: tuple[tuple[str, str], ...]
    attributes: tuple[str, ...]
    synth: SynthFn = field(repr=False, compare=False)
    texture: bool = False
    noisy: bool = False
    adjectives: bool = True


_ALL = ("loudness", "pitch", "rate", "distance")
_NO_RATE = ("loudness", "pitch", "distance")
_NO_PITCH = ("loudness", "rate", "distance")

EVENT_TYPES: list[EventType] = [
    EventType("tone", "tone", "steady sine tone at ~1 kHz with a weak 2nd harmonic",
              ("a steady tone", "a continuous tone", "an electronic tone", "a test tone", "a sine tone"),
              (("sounds", "sounding"), ("plays", "playing"), ("drones on", "droning on")),
              _NO_RATE, _s_tone, texture=True),
    EventType("siren", "siren", "harmonic tone sweeping slowly up and down around ~850 Hz",
              ("a siren", "an emergency siren", "a police siren", "an ambulance siren"),
              (("wails", "wailing"), ("blares", "blaring"), ("sounds", "sounding")),
              _ALL, _s_siren),
    EventType("bird_chirp", "bird", "groups of fast upward chirps at 2.6-5 kHz",
              ("a bird", "a small bird", "a songbird", "a sparrow"),
              (("chirps", "chirping"), ("tweets", "tweeting"), ("sings", "singing")),
              _ALL, _s_bird),
    EventType("hum", "hum", "low harmonic drone at ~55 Hz (odd harmonics stronger)",
              ("a transformer", "an electrical device", "a machine", "a refrigerator"),
              (("hums", "humming"), ("drones", "droning"), ("buzzes steadily", "buzzing steadily")),
              _NO_RATE, _s_hum, texture=True),
    EventType("rain", "rain", "band-passed noise around ~3 kHz with many tiny clicks",
              ("rain", "rainfall", "the rain", "a rain shower"),
              (("falls", "falling"), ("patters", "pattering"), ("pours down", "pouring down")),
              _NO_RATE, _s_rain, texture=True, noisy=True),
    EventType("wind", "wind", "low-passed noise (~600 Hz) with slow gusts",
              ("the wind", "wind", "a gusty wind", "a breeze"),
              (("blows", "blowing"), ("howls", "howling"), ("gusts", "gusting")),
              _NO_RATE, _s_wind, texture=True, noisy=True),
    EventType("clock_tick", "clock", "regular tick-tock clicks (2.6/4.1 kHz resonances), ~2 per second",
              ("a clock", "a wall clock", "an old clock", "a mechanical clock"),
              (("ticks", "ticking"), ("ticks away", "ticking away"), ("tick-tocks", "tick-tocking")),
              _ALL, _s_clock),
    EventType("knocking", "knock", "groups of 2-4 low thumps (~110 Hz)",
              ("someone", "a person", "somebody", "a visitor"),
              (("knocks on a door", "knocking on a door"), ("knocks on the door", "knocking on the door"),
               ("raps on a wooden door", "rapping on a wooden door")),
              _ALL, _s_knock, adjectives=False),
    EventType("bell", "bell", "struck bell: inharmonic decaying partials from ~420 Hz",
              ("a bell", "a church bell", "a hand bell", "a large bell"),
              (("rings", "ringing"), ("chimes", "chiming"), ("tolls", "tolling")),
              _ALL, _s_bell),
    EventType("engine", "engine", "pulsed harmonic rumble at ~32 Hz, low-passed",
              ("an engine", "a car engine", "a motor", "a truck engine"),
              (("idles", "idling"), ("rumbles", "rumbling"), ("runs", "running")),
              _ALL, _s_engine, texture=True),
    EventType("dog_bark", "dog", "short harmonic bursts (~480 Hz, falling) with noise, in groups",
              ("a dog", "a hound", "a guard dog", "a puppy"),
              (("barks", "barking"), ("yaps", "yapping"), ("woofs", "woofing")),
              _ALL, _s_dog),
    EventType("footsteps", "footsteps", "alternating low heel thumps and 0.5-2 kHz scuffs, ~2 steps per second",
              ("someone", "a person", "a man", "a woman"),
              (("walks by", "walking by"), ("walks across a hard floor", "walking across a hard floor"),
               ("takes heavy steps", "taking heavy steps")),
              _NO_PITCH, _s_footsteps, adjectives=False),
    EventType("water_stream", "water", "dense rising-pitch bubbles (350-1400 Hz) over band noise",
              ("a stream", "a brook", "water", "a creek"),
              (("flows", "flowing"), ("bubbles", "bubbling"), ("trickles", "trickling")),
              _NO_RATE, _s_water, texture=True),
    EventType("alarm_beep", "alarm", "groups of four 2.6 kHz square-ish beeps",
              ("an alarm", "an alarm clock", "a smoke alarm", "a timer"),
              (("beeps", "beeping"), ("goes off", "going off"), ("beeps repeatedly", "beeping repeatedly")),
              _ALL, _s_alarm),
    EventType("whistle", "whistle", "whistled melody around ~1.3 kHz with vibrato and breath noise",
              ("someone", "a man", "a person", "a boy"),
              (("whistles", "whistling"), ("whistles a tune", "whistling a tune"),
               ("whistles a melody", "whistling a melody")),
              _ALL, _s_whistle, adjectives=False),
    EventType("fire_crackle", "fire", "sparse heavy-tailed clicks and pops over a low rumble",
              ("a fire", "a campfire", "a fireplace", "a wood fire"),
              (("crackles", "crackling"), ("pops", "popping"), ("burns", "burning")),
              ("loudness", "rate", "distance"), _s_fire, texture=True, noisy=True),
    EventType("typing", "keyboard", "bursts of keyboard clicks (3-7 kHz), ~8 per second, with pauses",
              ("someone", "a person", "an office worker", "a typist"),
              (("types on a keyboard", "typing on a keyboard"), ("types away on a keyboard",
                                                                 "typing away on a keyboard"),
               ("taps on a computer keyboard", "tapping on a computer keyboard")),
              ("loudness", "distance"), _s_typing, adjectives=False),
    EventType("drum", "drum", "drum hits: falling 160->70 Hz body plus a 1-5 kHz snare rattle, ~2 per second",
              ("someone", "a drummer", "a musician", "a child"),
              (("beats a drum", "beating a drum"), ("plays a drum", "playing a drum"),
               ("hits a drum", "hitting a drum")),
              _ALL, _s_drum, adjectives=False),
    EventType("insect_buzz", "insect", "buzzing sawtooth at ~230 Hz with wobble and swells",
              ("a fly", "a bee", "an insect", "a mosquito"),
              (("buzzes", "buzzing"), ("buzzes around", "buzzing around"), ("drones", "droning")),
              _NO_RATE, _s_insect, texture=True),
    EventType("sweeping", "broom", "alternating band-noise strokes (~2.5 kHz), ~1.4 strokes per second",
              ("someone", "a cleaner", "a person", "a janitor"),
              (("sweeps the floor", "sweeping the floor"), ("sweeps with a broom", "sweeping with a broom"),
               ("brushes the ground", "brushing the ground")),
              _ALL, _s_sweep, noisy=True, adjectives=False),
    EventType("car_horn", "horn", "two-tone (410/520 Hz) brassy blasts",
              ("a car horn", "a horn", "a truck horn", "a van horn"),
              (("honks", "honking"), ("blares", "blaring"), ("toots", "tooting")),
              _ALL, _s_horn),
    EventType("phone_ring", "phone", "double rings of a 650/790 Hz dual tone with 16 Hz tremolo",
              ("a phone", "a telephone", "a mobile phone", "an old telephone"),
              (("rings", "ringing"), ("rings repeatedly", "ringing repeatedly"), ("trills", "trilling")),
              _ALL, _s_phone),
    EventType("hammering", "hammer", "metallic impacts (1.2 kHz inharmonic ringing partials), ~1.7 per second",
              ("someone", "a worker", "a carpenter", "a builder"),
              (("hammers a nail", "hammering a nail"), ("hammers on metal", "hammering on metal"),
               ("pounds with a hammer", "pounding with a hammer")),
              _ALL, _s_hammer, adjectives=False),
    EventType("frog_croak", "frog", "croaks made of 45 Hz pulse trains of a 650 Hz resonance",
              ("a frog", "a toad", "a bullfrog", "a tree frog"),
              (("croaks", "croaking"), ("calls", "calling"), ("croaks repeatedly", "croaking repeatedly")),
              _ALL, _s_frog),
    EventType("clapping", "clapping", "rhythmic hand claps (band noise bursts), ~2 per second",
              ("someone", "a person", "a child", "an audience member"),
              (("claps", "clapping"), ("claps their hands", "clapping their hands"),
               ("claps along", "clapping along")),
              _NO_PITCH, _s_clapping, adjectives=False),
]
EVENT_NAMES = tuple(e.name for e in EVENT_TYPES)
_EVENT_BY_NAME = {e.name: e for e in EVENT_TYPES}


# -------------------------------------------------------------------------------------------- scenes
def _bg_street(rng, n, sr):
    return _unit(_filt(_white(rng, n), sr, "lowpass", 150.0)) * (0.7 + 0.3 * np.tanh(_smooth(rng, n, sr, 0.2)))


def _bg_kitchen(rng, n, sr):
    x = _harmonics(_phase(100.0, n, sr), 100.0, (1.0, 0.5, 0.3, 0.2), sr)
    return _unit(x) + 0.5 * _unit(_filt(_white(rng, n), sr, "bandpass", (4000.0, 6000.0)))


def _bg_forest(rng, n, sr):
    leaves = _unit(_filt(_white(rng, n), sr, "bandpass", (2500.0, 6000.0)))
    return leaves * np.clip(0.6 + 0.4 * _smooth(rng, n, sr, 0.5), 0.1, 1.2)


def _bg_office(rng, n, sr):
    hvac = _unit(_filt(_white(rng, n), sr, "lowpass", 400.0))
    return hvac + 0.3 * _unit(_harmonics(_phase(120.0, n, sr), 120.0, (1.0, 0.4), sr))


def _bg_park(rng, n, sr):
    band = _unit(_filt(_white(rng, n), sr, "bandpass", (200.0, 800.0)))
    return band * np.clip(0.7 + 0.3 * _smooth(rng, n, sr, 0.3), 0.2, 1.2)


def _bg_beach(rng, n, sr):
    t = _t(n, sr)
    waves = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(0.08, 0.15) * t + rng.uniform(0, 6.3))
    return _unit(_filt(_white(rng, n), sr, "lowpass", 1200.0)) * waves


def _bg_church(rng, n, sr):
    return _unit(_filt(_colored(rng, n, 1.0), sr, "lowpass", 500.0))


def _bg_factory(rng, n, sr):
    x = _harmonics(_phase(50.0, n, sr), 50.0, (1.0, 0.7, 0.5, 0.4, 0.3, 0.2), sr)
    return _unit(x) + 0.6 * _unit(_filt(_white(rng, n), sr, "bandpass", (1000.0, 2000.0)))


@dataclass(frozen=True)
class Scene:
    """A recording location: keyword, caption phrases and the scene-specific background component."""

    name: str
    phrases: tuple[str, ...]
    texture: Callable[[np.random.Generator, int, int], np.ndarray] = field(repr=False, compare=False)
    description: str = ""

    @property
    def keyword(self) -> str:
        return self.name


SCENES: list[Scene] = [
    Scene("street", ("in a busy street", "on a city street", "outside on a street", "next to a road"),
          _bg_street, "traffic rumble below 150 Hz with slow swells"),
    Scene("kitchen", ("in a kitchen", "inside a kitchen", "in a small kitchen", "in a home kitchen"),
          _bg_kitchen, "faint 100 Hz fridge hum and 4-6 kHz hiss"),
    Scene("forest", ("in a forest", "in the woods", "deep in a forest", "among the trees"),
          _bg_forest, "slowly modulated 2.5-6 kHz leaf rustle"),
    Scene("office", ("in an office", "inside an office building", "in an open-plan office", "at the office"),
          _bg_office, "HVAC noise below 400 Hz with a faint 120 Hz hum"),
    Scene("park", ("in a park", "outside in a park", "in a public park", "in a city park"),
          _bg_park, "modulated 200-800 Hz band (distant chatter)"),
    Scene("beach", ("on a beach", "at the beach", "by the sea", "on the seashore"),
          _bg_beach, "low-passed noise swelling like slow waves"),
    Scene("church", ("in a church", "inside a church", "in a large church", "inside a cathedral"),
          _bg_church, "dark pink room tone below 500 Hz"),
    Scene("factory", ("in a factory", "inside a factory", "in an industrial building", "in a workshop"),
          _bg_factory, "50 Hz machine hum with harmonics and a 1-2 kHz band"),
]
SCENE_NAMES = tuple(s.name for s in SCENES)
_ALL_KEYWORDS = tuple(e.keyword for e in EVENT_TYPES) + tuple(s.keyword for s in SCENES)


# ============================================================================================ captions
_ADJ = {
    "loud": ("loud",), "quiet": ("quiet", "faint", "soft"),
    "high": ("high-pitched", "shrill"), "low": ("low-pitched", "deep"),
    "near": ("nearby",), "far": ("distant", "faraway", "far-off"),
    "fast": (), "slow": (),
}
_ADJ_NOISY = {"high": ("bright", "high-pitched"), "low": ("dull", "low-pitched")}
_ADV = {
    "loud": ("loudly", "very loudly"), "quiet": ("quietly", "softly", "faintly"),
    "high": ("at a high pitch", "in a high tone"), "low": ("at a low pitch", "in a deep tone"),
    "fast": ("rapidly", "quickly", "at a fast pace", "in quick succession"),
    "slow": ("slowly", "at a slow pace", "at a leisurely pace"),
    "near": ("close by", "nearby", "up close", "close to the microphone"),
    "far": ("in the distance", "far away", "from far away", "from a distance"),
}
_ADV_NOISY = {"high": ("with a bright tone", "with a hissy sound"), "low": ("with a dull tone", "with a low rumble")}
_FILLERS = (("in this recording", "in this short clip", "during the recording", "on this recording",
             "throughout the clip"),
            ("for a few seconds", "for some time", "for several seconds"))

# Templates: {A} finite clause, {An} nominal ("a dog barking"), {Ap} progressive ("a dog is barking").
# The boolean says whether a scene phrase may be put in front.
_T1 = (("{A}", True), ("{Ap}", True), ("the sound of {An}", False), ("{An} can be heard", True),
       ("you can hear {An}", True), ("there is {An}", True), ("a recording of {An}", False),
       ("in this recording, {A}", False), ("{An} is audible", True), ("we hear {An}", True),
       ("this clip captures {An}", False), ("{An} is heard clearly", True))
_T_SEQ = (("{A} and then {B}", True), ("{A}, then {B}", True), ("{A}, followed by {Bn}", True),
          ("{A} before {B}", True), ("after {A}, {B}", False), ("{B} after {A}", True),
          ("first {A}, and then {B}", False), ("{An} is followed by {Bn}", True),
          ("you can hear {An} and then {Bn}", True), ("{A}, and afterwards {B}", True),
          ("{Ap}, and later {B}", True), ("{An} comes first, then {Bn}", True))
_T_OVL = (("{A} while {B}", True), ("{A} as {B}", True), ("while {B}, {A}", False),
          ("{An} and {Bn} can be heard at the same time", True), ("{A} and {B} at the same time", True),
          ("{An} and {Bn} are heard together", True), ("{A}, and meanwhile {B}", True),
          ("{Ap} while {Bp}", True))
# {G}: foreground event, {K}: the flagged background event
_T_BG = (("{G} with {Kn} in the background", True), ("{G} while {K} in the background", True),
         ("{Kn} in the background while {G}", False), ("in the background {K} while {G}", False),
         ("{G}, accompanied by {Kn}", True), ("{G} as {K} in the background", True),
         ("{Gp} over {Kn} in the background", True))
_T_SEQ3 = (("{A}, then {B}, and finally {C}", True), ("first {A}, then {B}, and then {C}", False),
           ("{A}, followed by {Bn} and then {Cn}", True), ("{A} before {B}, and then {C}", True),
           ("you can hear {An}, then {Bn}, then {Cn}", True), ("{A}, after which {B}, and lastly {C}", True),
           ("{A}, then {B}, then {C}", True))
_T_OVL_THEN = (("{A} while {B}, and then {C}", True), ("{A} as {B}, then {C}", True),
               ("{An} and {Bn} are heard together, followed by {Cn}", True),
               ("{A} and {B} at the same time, before {C}", True), ("first {A} while {B}, then {C}", False),
               ("while {B}, {A}, and then {C}", False))
_BG_SUFFIX = (" while {K} in the background", " with {Kn} in the background", ", all while {K}",
              " as {K} in the background")
_BG_PREFIX = ("while {K} in the background, ", "as {K}, ", "with {Kn} in the background, ")


def _with_adj(noun: str, adj: str) -> str:
    words = noun.split()
    if words[0] in ("a", "an"):
        art = "an" if adj[0] in "aeiou" else "a"
        return " ".join([art, adj] + words[1:])
    if words[0] == "the":
        return " ".join(["the", adj] + words[1:])
    return f"{adj} {noun}"


def _event_forms(rng: np.random.Generator, ev: EventType, attrs: dict[str, str | None],
                 terse: bool = False) -> dict[str, str]:
    """Finite / nominal / progressive clauses for one event mention, naming some of its attributes.

    ``terse`` (fallback for over-long captions) uses the shortest noun and verb and names no attribute.
    """
    if terse:
        noun = min(ev.nouns, key=lambda w: len(w.split()))
        v3, ving = min(ev.verbs, key=lambda v: len(v[0].split()))
    else:
        noun = ev.nouns[int(rng.integers(len(ev.nouns)))]
        v3, ving = ev.verbs[int(rng.integers(len(ev.verbs)))]
    values = [v for d in ATTRIBUTE_DIMS if (v := attrs.get(d)) is not None]
    mentioned = [v for v in values if not terse and rng.random() < P_MENTION_ATTRIBUTE]
    if len(mentioned) > 2:
        mentioned = [mentioned[i] for i in sorted(rng.choice(len(mentioned), 2, replace=False))]
    advs = []
    used_adj = False
    for v in mentioned:
        adj = _ADJ_NOISY.get(v, ()) if (ev.noisy and v in _ADJ_NOISY) else _ADJ[v]
        if ev.adjectives and adj and not used_adj and rng.random() < 0.55:
            noun = _with_adj(noun, adj[int(rng.integers(len(adj)))])
            used_adj = True
        else:
            adv = _ADV_NOISY[v] if (ev.noisy and v in _ADV_NOISY) else _ADV[v]
            advs.append(adv[int(rng.integers(len(adv)))])
    tail = (" " + " and ".join(advs)) if advs else ""
    return {"": f"{noun} {v3}{tail}", "n": f"{noun} {ving}{tail}", "p": f"{noun} is {ving}{tail}"}


def _fill(template: str, slots: dict[str, dict[str, str]]) -> str:
    out = template
    for key, forms in slots.items():
        for suffix in ("n", "p", ""):
            out = out.replace("{" + key + suffix + "}", forms[suffix])
    return out


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _one_caption(rng: np.random.Generator, clip: dict[str, Any], terse: bool = False) -> tuple[str, list[int]]:
    """One candidate caption (not yet length-checked) and the indices of the events it mentions."""
    events = clip["events"]
    types = [_EVENT_BY_NAME[e["type"]] for e in events]
    forms = [_event_forms(rng, t, e["attributes"], terse) for t, e in zip(types, events)]
    pattern = clip["pattern"]
    bg = [i for i, e in enumerate(events) if e["background"]]
    mentioned = list(range(len(events)))
    if pattern == "single":
        body, front = _pick(rng, _T1)
        body = _fill(body, {"A": forms[0]})
    elif pattern == "sequence":
        body, front = _pick(rng, _T_SEQ)
        body = _fill(body, {"A": forms[0], "B": forms[1]})
    elif pattern == "overlap":
        k = bg[0]
        g = 1 - k
        if rng.random() < 0.2:  # the background event is left out
            mentioned = [g]
            body, front = _pick(rng, _T1)
            body = _fill(body, {"A": forms[g]})
        elif rng.random() < 0.5:
            body, front = _pick(rng, _T_BG)
            body = _fill(body, {"G": forms[g], "K": forms[k]})
        else:
            order = [0, 1] if rng.random() < 0.5 else [1, 0]
            body, front = _pick(rng, _T_OVL)
            body = _fill(body, {"A": forms[order[0]], "B": forms[order[1]]})
    elif pattern == "sequence3":
        body, front = _pick(rng, _T_SEQ3)
        body = _fill(body, {"A": forms[0], "B": forms[1], "C": forms[2]})
    elif pattern == "sequence_bg":
        k = bg[0]
        a, b = [i for i in range(3) if i != k]
        body, front = _pick(rng, _T_SEQ)
        body = _fill(body, {"A": forms[a], "B": forms[b]})
        u = rng.random()
        if u < 0.3:
            mentioned = [a, b]
        elif u < 0.55 and front:
            body = _fill(_pick(rng, _BG_PREFIX), {"K": forms[k]}) + body
            front = False
        else:
            body = body + _fill(_pick(rng, _BG_SUFFIX), {"K": forms[k]})
    elif pattern == "overlap_then":
        order = [0, 1] if rng.random() < 0.5 else [1, 0]
        body, front = _pick(rng, _T_OVL_THEN)
        body = _fill(body, {"A": forms[order[0]], "B": forms[order[1]], "C": forms[2]})
    else:  # pragma: no cover
        raise AssertionError(pattern)

    if rng.random() < P_SCENE_IN_CAPTION and not (terse and len(body.split()) > 12):
        phrase = _pick(rng, _scene(clip["scene"]).phrases)
        if front and rng.random() < 0.4:
            body = f"{phrase}, {body}"
        else:
            body = f"{body} {phrase}"
    groups = [g for g in _FILLERS if not (g is _FILLERS[0] and ("record" in body or "clip" in body))]
    while len(body.split()) < 8 and groups:  # at most one filler of each kind; together they always suffice
        body = f"{body} {_pick(rng, groups.pop(int(rng.integers(len(groups)))))}"
    text = body.strip() + "."
    if rng.random() < 0.75:
        text = text[0].upper() + text[1:]
    return text, sorted(mentioned)


def _captions(rng: np.random.Generator, clip: dict[str, Any]) -> tuple[list[str], list[list[int]]]:
    caps: list[str] = []
    mentions: list[list[int]] = []
    tries = 0
    while len(caps) < 5:
        tries += 1
        if tries > 400:  # pragma: no cover - the terse fallback always fits
            raise RuntimeError(f"could not build five captions of 8-20 words for {clip['events']}")
        # after many over-long drafts (three events with long phrases), fall back to terse wording
        text, men = _one_caption(rng, clip, terse=tries > 40 * (len(caps) + 1))
        if not 8 <= len(text.split()) <= 20:
            continue
        if text.lower() in (c.lower() for c in caps) and tries < 300:
            continue
        caps.append(text)
        mentions.append(men)
    return caps, mentions


def _keywords(rng: np.random.Generator, clip: dict[str, Any]) -> list[str]:
    true_kw = [e["keyword"] for e in clip["events"]]
    kws = [k for k in true_kw if rng.random() < P_KEEP_EVENT_KEYWORD]
    scene_kw = _scene(clip["scene"]).keyword
    if rng.random() < P_SCENE_KEYWORD:
        kws.append(scene_kw)
    n_spurious = int(rng.choice(3, p=P_SPURIOUS))
    pool = [k for k in _ALL_KEYWORDS if k not in true_kw and k != scene_kw]
    kws += [pool[i] for i in rng.choice(len(pool), n_spurious, replace=False)]
    if rng.random() < P_GENERIC:
        m = int(rng.integers(1, 3))
        kws += [GENERIC_TAGS[i] for i in rng.choice(len(GENERIC_TAGS), m, replace=False)]
    if not kws:
        kws = [_pick(rng, GENERIC_TAGS)]
    order = rng.permutation(len(kws))
    return [kws[i] for i in order]


def _scene(name: str) -> Scene:
    return SCENES[SCENE_NAMES.index(name)]


# ============================================================================================ clip sampler
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


# ============================================================================================ rendering
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


# ============================================================================================ writing
def default_root(cache_dir: str | Path, size: str, seed: int) -> Path:
    """The conventional folder for a generated set: ``cache_dir / f"synthcaps-{size}-seed{seed}-v{version}"``.

    The generator version is part of the name, so a cache made by an older generator is never mistaken for the
    current data (and is left alone)."""
    return Path(cache_dir).expanduser() / f"synthcaps-{size}-seed{seed}-v{GENERATOR_VERSION}"


def load_manifest(root: str | Path) -> dict[str, Any]:
    """Read ``root/synthcaps.json`` (raises ``FileNotFoundError`` if the data set is not complete)."""
    with open(Path(root) / MANIFEST_NAME, encoding="utf-8") as fh:
        return json.load(fh)


def _to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def _write_split(tmp: Path, split: str, n: int, seed: int, sr: int, progress: bool) -> list[dict[str, Any]]:
    folder = tmp / split
    folder.mkdir()
    indices: Any = range(n)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"SynthCaps {split}", unit="clip", leave=True)
    entries = []
    for i in indices:
        entry, audio = render_clip(seed, split, i, sample_rate=sr)
        sf.write(folder / entry["file_name"], _to_pcm16(audio), sr, subtype="PCM_16", format="WAV")
        entries.append(entry)
    with open(tmp / f"clotho_captions_{split}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CAPTION_HEADER)
        for e in entries:
            w.writerow([e["file_name"], *e["captions"]])
    with open(tmp / f"clotho_metadata_{split}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(METADATA_HEADER)
        for e in entries:
            w.writerow([e["file_name"], ";".join(e["keywords"]), str(e["sound_id"]),
                        f"https://freesound.org/s/{e['sound_id']}", f"[0, {e['num_samples']}]", "synthcaps",
                        "CC0"])
    return entries


def _existing(out: Path, size: str, seed: int, sr: int) -> dict[str, Any] | None:
    """The manifest of a complete matching data set in ``out``; None if ``out`` is absent or an empty folder.

    Raises FileExistsError if ``out`` holds anything else.
    """
    if not out.exists():
        return None
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; refusing to write SynthCaps there")
    manifest_path = out / MANIFEST_NAME
    if not manifest_path.exists():
        if not any(out.iterdir()):
            return None
        raise FileExistsError(f"{out} exists but is not a complete SynthCaps data set (no {MANIFEST_NAME}); "
                              "remove it or choose another folder")
    try:
        manifest = load_manifest(out)
    except (OSError, ValueError) as exc:
        raise FileExistsError(f"{out} holds an unreadable {MANIFEST_NAME} ({exc}); remove it or choose "
                              "another folder") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("clips"), dict):
        raise FileExistsError(f"{out} holds a {MANIFEST_NAME} that is not a SynthCaps manifest; remove it or "
                              "choose another folder")
    want = {"version": GENERATOR_VERSION, "size": size, "seed": seed, "sample_rate": sr}
    have = {k: manifest.get(k) for k in want}
    if have != want:
        raise FileExistsError(f"{out} holds a different SynthCaps data set ({have}, wanted {want}); remove it "
                              "or choose another folder")
    for split in SPLITS:
        for name in (f"clotho_captions_{split}.csv", f"clotho_metadata_{split}.csv"):
            if not (out / name).is_file():
                raise FileExistsError(f"{out} is an incomplete SynthCaps data set (missing {name})")
        clips = manifest["clips"].get(split)
        if not isinstance(clips, list) or len(clips) != SIZES[size][SPLITS.index(split)]:
            raise FileExistsError(f"{out} is an incomplete SynthCaps data set (manifest lacks {split} clips)")
        for e in clips:
            if not (out / split / e["file_name"]).is_file():
                raise FileExistsError(f"{out} is an incomplete SynthCaps data set (missing "
                                      f"{split}/{e['file_name']})")
    return manifest


def generate(out_dir: str | Path, size: str = "small", seed: int = 0, *, sample_rate: int = 16000,
             progress: bool = False) -> dict:
    """Generate SynthCaps in the ClothoV2 layout into ``out_dir`` and return its manifest.

    ``size`` is one of :data:`SIZES` (``tiny``, ``small``, ``default``); ``seed`` an integer >= 0;
    ``sample_rate`` in Hz (>= 8000). The data set is written into a temporary sibling folder which is renamed
    to ``out_dir`` when complete, so ``out_dir`` never holds a half-written set. If ``out_dir`` already holds
    a complete set with the same (size, seed, sample_rate, generator version), its manifest is returned
    without regenerating; an absent or empty ``out_dir`` is generated; anything else raises
    ``FileExistsError`` naming the folder (nothing is ever deleted). ``progress=True`` prints a tqdm bar per
    split to stderr. Unknown ``size`` raises ``ValueError``.
    """
    if size not in SIZES:
        raise ValueError(f"unknown SynthCaps size {size!r}; expected one of {', '.join(SIZES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 8000:
        raise ValueError(f"sample_rate must be an integer >= 8000, got {sample_rate!r}")
    seed, sr = int(seed), int(sample_rate)
    out = Path(out_dir).expanduser()
    found = _existing(out, size, seed, sr)
    if found is not None:
        return found
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        clips = {}
        for split, n in zip(SPLITS, SIZES[size]):
            clips[split] = _write_split(tmp, split, n, seed, sr, progress)
        manifest = {
            "dataset": "SynthCaps",
            "version": GENERATOR_VERSION,
            "size": size,
            "seed": seed,
            "sample_rate": sr,
            "counts": {s: len(clips[s]) for s in SPLITS},
            "shifted_splits": list(SHIFTED_SPLITS),
            "event_types": [e.name for e in EVENT_TYPES],
            "event_keywords": {e.name: e.keyword for e in EVENT_TYPES},
            "scenes": [s.name for s in SCENES],
            "clips": clips,
        }
        with open(tmp / MANIFEST_NAME, "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        try:
            os.rename(tmp, out)  # atomic; also replaces an empty folder
        except OSError:
            found = _existing(out, size, seed, sr)  # a concurrent generator may have finished first
            if found is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return found
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_manifest(out)
