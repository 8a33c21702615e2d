"""Shared by the text-augmentation tests: a WordNet-free environment and the naive reference of variation swaps."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.augment import wordnet as wn_mod
from retrieval.augment.wordnet import load_wordnet


@pytest.fixture
def fresh_wordnet_cache():
    """``load_wordnet``'s cache empty before and after the test (``pytestmark = usefixtures(...)`` per module)."""
    load_wordnet.cache_clear()
    yield
    load_wordnet.cache_clear()


@pytest.fixture
def no_wordnet(tmp_path, monkeypatch):
    """No WordNet anywhere: $WORDNET_DIR and the default search path point at empty directories."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("WORDNET_DIR", str(empty))
    monkeypatch.setattr(wn_mod, "DEFAULT_WORDNET_DIRS", (str(tmp_path / "nowhere"),))
    return empty


@pytest.fixture
def naive_swaps():
    """``naive_swaps(variations, captions, keys, p, seed)``: the captions after variation swapping, drawn one caption
    at a time as the existing code draws them (one uniform per caption, one integer per swap)."""

    def swaps(variations, captions, keys, p: float, seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        out = []
        for caption, key in zip(captions, keys):
            swap = rng.random() < p
            choices = variations.choices(key, caption)
            out.append(choices[int(rng.integers(len(choices)))] if swap and choices else caption)
        return out

    return swaps
