"""Caption variation files: loading, errors, matching to recordings, swapping with probability p."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.augment.text import TextAugment, check_text_augment_requirements
from retrieval.augment.variations import CaptionVariations, load_variations
from retrieval.config import ConfigError, TrialConfig
from retrieval.data.errors import DataError


def aug_cfg(**kw):
    return TrialConfig.from_dict({"augment": kw}).augment


@pytest.fixture
def var_file(tmp_path):
    path = tmp_path / "variations.json"
    path.write_text(json.dumps({
        "Bird&#39;s song at dawn.wav": ["Birds sing at sunrise.", "Chirping at daybreak &amp; more."],
        "rain.wav": {"rain falls": ["Rain is falling.", "It rains."], "drops": ["Drops hit."]},
        "elsewhere.wav": ["Not in this split."],
    }))
    return path


def test_load_and_match(var_file):
    v = load_variations(var_file)
    assert len(v) == 3
    assert v.by_file["Bird&#39;s song at dawn.wav"] == ("Birds sing at sunrise.", "Chirping at daybreak & more.")
    # the recording on disk is "Bird's song at dawn.wav": matched through the unescaped spelling
    with pytest.warns(UserWarning, match="1 of 3 caption-variation entries"):
        keys = v.match(["Bird's song at dawn.wav", "rain.wav", "other.wav", None], warn=True)
    assert keys == ["Bird&#39;s song at dawn.wav", "rain.wav", None, None]
    assert v.unmatched == 1
    # per-caption entries: that caption's own variations; another caption: any of the file's
    assert v.choices("rain.wav", "rain falls") == ("Rain is falling.", "It rains.")
    assert v.choices("rain.wav", "thunder") == ("Rain is falling.", "It rains.", "Drops hit.")
    assert v.choices(None, "x") == ()


@pytest.mark.parametrize("text, needle", [
    ("{not json", "not valid JSON at line 1"),
    ("[1, 2]", "expected a JSON object"),
    ('{"a.wav": "one caption"}', "field 'a.wav': expected a list of captions"),
    ('{"a.wav": ["ok", 3]}', "field 'a.wav[1]': expected a non-empty caption"),
    ('{"a.wav": ["ok", "  "]}', "field 'a.wav[1]'"),
])
def test_bad_files_name_file_and_key(error_from_file, text, needle):
    path, msg = error_from_file("v.json", text, load_variations, DataError)
    assert msg.startswith(str(path)) and needle in msg


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="caption variation file not found"):
        load_variations(tmp_path / "nope.json")
    cfg = aug_cfg(variations={"file": str(tmp_path / "nope.json"), "p": 0.3})
    with pytest.raises(ConfigError, match="augment.variations.file"):
        check_text_augment_requirements(cfg)
    with pytest.raises(ConfigError, match="augment.variations.file: is required"):
        aug_cfg(variations={"p": 0.3})


def test_swapping_follows_p_and_is_deterministic(var_file, naive_swaps):
    v = load_variations(var_file)
    aug = TextAugment(aug_cfg(variations={"file": str(var_file), "p": 0.3}), variations=v)
    captions = ["rain falls", "a bird sings", "no entry"] * 1000
    keys = ["rain.wav", "Bird&#39;s song at dawn.wav", None] * 1000
    a = aug(captions, np.random.default_rng(3), keys=keys)
    assert a == aug(captions, np.random.default_rng(3), keys=keys)
    assert a == naive_swaps(v, captions, keys, 0.3, seed=3)  # naive reference with the same generator
    swapped = np.array([x != c for x, c in zip(a, captions)]).reshape(-1, 3)
    assert not swapped[:, 2].any()  # no entry: never swapped
    assert 0.25 < swapped[:, :2].mean() < 0.35
    assert set(a[0::3]) <= {"rain falls", "Rain is falling.", "It rains."}


def test_variations_then_back_translation_then_eda_order():
    v = CaptionVariations(path="x", by_file={"k": ("variant",)})
    cfg = aug_cfg(variations={"file": "x", "p": 1.0}, bt={"p_bt": 1.0}, eda={"p_eda": 1.0, "p_del": 1e-9})
    aug = TextAugment(cfg, variations=v, back_translations={"variant": "translated variant", "orig": "t orig"})
    assert aug(["orig"], np.random.default_rng(0), keys=["k"]) == ["translated variant"]
    assert aug(["orig"], np.random.default_rng(0), keys=[None]) == ["t orig"]
    assert aug.stats()["variation"] == 1 and aug.stats()["back_translation"] == 2
