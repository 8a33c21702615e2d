"""SynthCaps sound events: the 25 audio synthesisers and the :class:`EventType` catalogue (:data:`EVENT_TYPES`)
with each type's caption vocabulary, keyword and applicable attributes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .dsp import (_decay, _fc, _filt, _gate, _grouped, _harmonics, _periodic, _phase, _smooth, _t, _train, _unit,
                  _white)


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
