"""SynthCaps scenes: the scene-specific background textures and the :class:`Scene` catalogue (:data:`SCENES`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .dsp import _colored, _filt, _harmonics, _phase, _smooth, _t, _unit, _white


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


def _scene(name: str) -> Scene:
    return SCENES[SCENE_NAMES.index(name)]
