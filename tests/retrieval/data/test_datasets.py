"""Dispatch (name -> loader), split naming, concatenation and `data summary` over every format."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from retrieval.data.datasets import (LoadOptions, concat_splits, load_split, role_split, split_name, split_stats,
                                     summarize)
from tests.fixtures.tiny import write_tiny_audiocaps, write_tiny_clotho, write_tiny_wavcaps

FIELDS = {"recordings", "captions", "with_keywords", "missing_audio", "excluded"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {"clotho": write_tiny_clotho(root / "clotho"), "audiocaps": write_tiny_audiocaps(root / "audiocaps"),
            "wavcaps": write_tiny_wavcaps(root / "wavcaps")}


def test_split_names_by_role():
    assert split_name("audiocaps", "evaluation") == "test" and split_name("audiocaps", "validation") == "val"
    assert split_name("audiocaps", "development") == "train" and split_name("audiocaps", "val") == "val"
    assert split_name("clotho", "evaluation") == "evaluation" and split_name("wavcaps", "development") == "train"
    assert split_name("wavcaps", "evaluation") == "evaluation"  # no such role: the loader will refuse it
    assert role_split("wavcaps", "test") is None and role_split("clotho", "val") == "validation"
    with pytest.raises(ValueError, match="unknown data set 'foo'"):
        split_name("foo", "x")


def test_dispatch_and_strictness(tiny):
    assert len(load_split("audiocaps", tiny["audiocaps"], "evaluation").recordings) == 2  # lenient by default
    assert len(load_split("wavcaps", tiny["wavcaps"], "development").recordings) == 7
    assert load_split("clotho", tiny["clotho"], "validation").recordings[0].file_name == "Bird's song at dawn.wav"
    opts = LoadOptions(audiocaps_audio_pattern="nowhere/{youtube_id}.wav")
    assert load_split("audiocaps", tiny["audiocaps"], "val", options=opts).recordings == ()


def test_concat(tiny):
    a = load_split("clotho", tiny["clotho"], "development")
    b = load_split("audiocaps", tiny["audiocaps"], "train")
    c = concat_splits([a, b], name="mix")
    assert c.name == "mix" and len(c.recordings) == 10 and c.recordings[6] == b.recordings[0]
    assert c.missing_audio == b.missing_audio and c.n_captions == 34


def test_summary_same_fields_for_every_format(tiny):
    expect = {
        ("clotho", "development"): dict(recordings=6, captions=30, with_keywords=5, missing_audio=0, excluded=0),
        ("audiocaps", "train"): dict(recordings=4, captions=4, with_keywords=3, missing_audio=1, excluded=0),
        ("audiocaps", "test"): dict(recordings=2, captions=10, with_keywords=1, missing_audio=1, excluded=0),
        ("wavcaps", "train"): dict(recordings=7, captions=7, with_keywords=5, missing_audio=1, excluded=2),
    }
    for (dataset, split), want in expect.items():
        got = summarize(dataset, tiny[dataset])[split]
        assert FIELDS <= set(got)
        assert {k: got[k] for k in want} == want, (dataset, split)
    w = summarize("wavcaps", tiny["wavcaps"])["train"]
    assert w["excluded_zero_duration"] == 1 and w["excluded_list"] == 1 and set(w["sources"]) == {
        "AudioSet_SL", "BBC_Sound_Effects", "FreeSound", "SoundBible"}
    assert list(summarize("audiocaps", tiny["audiocaps"])) == ["train", "val", "test"]


def test_split_stats_mean_duration(tiny):
    s = split_stats(load_split("wavcaps", tiny["wavcaps"], "train"))
    assert s["mean_duration_s"] == pytest.approx(0.5)


@pytest.mark.parametrize("dataset", ["clotho", "audiocaps", "wavcaps"])
def test_cli_summary_json(tiny, dataset):
    proc = subprocess.run([sys.executable, "-m", "retrieval", "data", "summary", "--dataset", dataset, "--root",
                           str(tiny[dataset]), "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out and all(FIELDS <= set(s) for s in out.values())


def test_cli_summary_bad_input_is_one_line(tmp_path, tiny):
    path = tiny["wavcaps"]
    proc = subprocess.run([sys.executable, "-m", "retrieval", "data", "summary", "--dataset", "audiocaps", "--root",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no audiocaps split found" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "retrieval", "data", "summary", "--dataset", "wavcaps", "--root",
                           str(path), "--exclude", str(tmp_path / "nope.csv")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "nope.csv" in proc.stderr and "Traceback" not in proc.stderr
