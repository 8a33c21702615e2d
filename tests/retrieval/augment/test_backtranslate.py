"""Back-translation with Apertium: one call per direction, cached by content + version, picked with p_bt."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from retrieval.augment import backtranslate as bt
from retrieval.augment.text import TextAugment, check_text_augment_requirements
from retrieval.config import AugmentConfig, ConfigError, TrialConfig

needs_apertium = pytest.mark.skipif(shutil.which("apertium") is None,
                                    reason="apertium is not installed (apt-get install apertium apertium-eng-spa)")

CAPTIONS = ["a dog barks loudly", "birds are singing in the trees", "A woman speaks. Then a door closes",
            "rain falls on a metal roof"]


@needs_apertium
def test_back_translate_matches_the_shell_pipeline_and_keeps_order():
    out = bt.back_translate(CAPTIONS)
    assert len(out) == len(CAPTIONS)
    for caption, got in zip(CAPTIONS, out):
        ref = subprocess.run(f'echo "{caption}" | apertium -u eng-spa | apertium -u spa-eng', shell=True,
                             capture_output=True, text=True).stdout.strip()
        assert got == " ".join(ref.split()), caption
    assert out[0] != CAPTIONS[0]  # it does change captions


@needs_apertium
def test_table_is_computed_once_with_one_call_per_direction_and_cached(tmp_path, monkeypatch):
    calls = []
    real_run = bt._run

    def counting(direction, lines, **kw):
        calls.append((direction, len(lines)))
        return real_run(direction, lines, **kw)

    monkeypatch.setattr(bt, "_run", counting)
    captions = CAPTIONS + CAPTIONS[:2]  # repeats are translated once
    table = bt.back_translation_table(captions, tmp_path)
    assert calls == [("eng-spa", 4), ("spa-eng", 4)]
    assert set(table) == set(CAPTIONS)
    path = bt.cache_path(tmp_path, captions, bt.apertium_version())
    assert path.is_file() and path.parent.name == "backtranslation"
    again = bt.back_translation_table(list(reversed(captions)), tmp_path)  # same content: cache hit
    assert again == table and len(calls) == 2
    # another caption set or another Apertium version -> another file
    assert bt.cache_path(tmp_path, CAPTIONS[:3], "v") != bt.cache_path(tmp_path, CAPTIONS, "v")
    assert bt.cache_path(tmp_path, CAPTIONS, "v1") != bt.cache_path(tmp_path, CAPTIONS, "v2")
    # a corrupt cache file is recomputed, not trusted
    path.write_text("{not json")
    assert bt.back_translation_table(captions, tmp_path) == table and len(calls) == 4


def test_marks_are_removed_unless_the_caption_has_them():
    assert bt._clean("the #dogs @barks  loudly", "x") == "the dogs barks loudly"
    assert bt._clean("tag #1", "tag #1") == "tag #1"


def test_missing_apertium_fails_with_the_apt_command(monkeypatch):
    monkeypatch.setattr(bt, "_apertium", lambda: None)
    cfg = TrialConfig.from_dict({"augment": {"bt": {"p_bt": 0.3}}})
    with pytest.raises(ConfigError) as err:
        check_text_augment_requirements(cfg.augment)
    assert "augment.bt.p_bt" in str(err.value) and "apt-get install apertium apertium-eng-spa" in str(err.value)
    check_text_augment_requirements(AugmentConfig())  # off: nothing checked


def test_missing_apertium_fails_fit_before_work(monkeypatch, tmp_path):
    from retrieval.train import fit

    monkeypatch.setattr(bt, "_apertium", lambda: None)
    cfg = TrialConfig.load("synthcaps-tiny").with_overrides({"augment.bt.p_bt": 0.5, "train.progress": False})
    with pytest.raises(bt.ApertiumMissing):
        fit(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_picking_is_deterministic_and_follows_p_bt():
    table = {c: c.upper() for c in CAPTIONS}
    cfg = AugmentConfig().__class__(bt=TrialConfig.from_dict({"augment": {"bt": {"p_bt": 0.25}}}).augment.bt)
    aug = TextAugment(cfg, back_translations=table)
    assert aug.enabled and not aug.eda_enabled
    batch = CAPTIONS * 500
    a = aug(batch, np.random.default_rng(7))
    b = aug(batch, np.random.default_rng(7))
    assert a == b
    frac = np.mean([x != y for x, y in zip(batch, a)])
    assert 0.21 < frac < 0.29  # 2000 draws at p = 0.25
    # a naive reference: the same generator, one uniform per caption
    rng = np.random.default_rng(7)
    assert a == [table[c] if rng.random() < 0.25 else c for c in batch]
    # no table or p_bt = 0: off, and no random numbers are drawn
    off = TextAugment(AugmentConfig(), back_translations=table)
    rng = np.random.default_rng(1)
    assert not off.enabled and off(CAPTIONS, rng) == CAPTIONS and rng.random() == np.random.default_rng(1).random()
