"""SynthCaps metadata keywords: true event keywords kept at random, the scene keyword, spurious and generic tags."""

from __future__ import annotations

from typing import Any

import numpy as np

from .captions import _pick
from .constants import GENERIC_TAGS, P_GENERIC, P_KEEP_EVENT_KEYWORD, P_SCENE_KEYWORD, P_SPURIOUS
from .events import EVENT_TYPES
from .scenes import SCENES, _scene

_ALL_KEYWORDS = tuple(e.keyword for e in EVENT_TYPES) + tuple(s.keyword for s in SCENES)


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

