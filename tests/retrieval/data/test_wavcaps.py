"""WavCaps loader on a tiny format-exact copy (see tests.fixtures.tiny.write_tiny_wavcaps)."""

from __future__ import annotations

import json

import pytest

from retrieval.data.errors import DataError
from tests.fixtures.tiny import write_tiny_wavcaps
from retrieval.data.wavcaps import load_wavcaps_split, scan_wavcaps


def test_counts_keywords_and_audio_pairing(tmp_path):
    root = write_tiny_wavcaps(tmp_path)
    split, per_source = scan_wavcaps(root)
    assert split.name == "train" and len(split.recordings) == 7 and split.n_captions == 7
    assert split.missing_audio == ("audio/SoundBible/2220.flac",)
    assert sorted(split.excluded) == ["audio/FreeSound/13.flac", "audio/FreeSound/14.flac"]
    assert per_source["FreeSound"] == {"recordings": 2, "captions": 2, "missing_audio": 0,
                                       "excluded_zero_duration": 1, "excluded_list": 1}
    recs = {r.source_id: r for r in split.recordings}
    # FreeSound tags (lowercased, repeats dropped); caption entities unescaped
    assert recs["FreeSound/11"].keywords == ("dog", "bark")
    assert recs["FreeSound/11"].captions == ("Freesound clip 11 'here'.",)
    # BBC category: a Python-list string, and a plain string
    assert recs["BBC_Sound_Effects/07070215"].keywords == ("nature", "birds")
    assert recs["BBC_Sound_Effects/07070216"].keywords == ("transport",)
    # SoundBible title is one keyword
    assert recs["SoundBible/2219"].keywords == ("airplane landing airport",)
    # AudioSet_SL: ".wav" ids keep their stem, no keywords
    a = recs["AudioSet_SL/Y-0wJxM4pkYA"]
    assert a.keywords == () and a.file_name == "audio/AudioSet_SL/Y-0wJxM4pkYA.flac" and a.path.is_file()


def test_exclusion_list_default_explicit_and_none(tmp_path):
    root = write_tiny_wavcaps(tmp_path)
    ids = lambda split: {r.source_id for r in split.recordings}  # noqa: E731
    assert "FreeSound/13" not in ids(load_wavcaps_split(root))  # default: *excluded_freesound_ids.csv
    assert "FreeSound/13" in ids(load_wavcaps_split(root, exclude=()))  # no list
    other = tmp_path / "mine.csv"
    other.write_text("sound_id,reason\n0011,clotho\n")  # leading zeros do not matter
    got = ids(load_wavcaps_split(root, exclude=other))
    assert "FreeSound/11" not in got and "FreeSound/13" in got
    bad = tmp_path / "bad.csv"
    bad.write_text("id\n11\n")
    with pytest.raises(DataError, match="bad.csv: row 1: missing required column"):
        load_wavcaps_split(root, exclude=bad)


def test_duplicate_ids_group_captions_and_missing_sources_are_skipped(tmp_path):
    root = write_tiny_wavcaps(tmp_path)
    path = root / "json_files" / "SoundBible" / "sb_final.json"
    obj = json.loads(path.read_text())
    obj["data"].append(dict(obj["data"][0], caption="Another caption."))
    path.write_text(json.dumps(obj))
    (root / "json_files" / "BBC_Sound_Effects" / "bbc_final.json").unlink()
    split, per_source = scan_wavcaps(root)
    assert "BBC_Sound_Effects" not in per_source
    rec = next(r for r in split.recordings if r.source_id == "SoundBible/2219")
    assert rec.captions == ("An airplane lands.", "Another caption.")


@pytest.mark.parametrize("mutate, needle", [
    (lambda t: t[:-5], "broken JSON at line"),
    (lambda t: json.dumps([1, 2]), 'expected an object with a "data" list'),
    (lambda t: json.dumps({"data": [{"id": "1", "duration": 1.0}]}), "field 'data[0].caption'"),
    (lambda t: json.dumps({"data": [{"caption": "x", "duration": 1.0}]}), "field 'data[0].id'"),
    (lambda t: json.dumps({"data": [{"id": "1", "caption": "x", "duration": "long"}]}), "field 'data[0].duration'"),
    (lambda t: json.dumps({"data": [{"id": "1", "caption": "x", "duration": 1, "tags": 5}]}), "data[0].tags"),
])
def test_broken_json_names_file_and_entry(tmp_path, mutate, needle):
    root = write_tiny_wavcaps(tmp_path)
    path = root / "json_files" / "FreeSound" / "fsd_final.json"
    path.write_text(mutate(path.read_text()))
    with pytest.raises(DataError) as err:
        load_wavcaps_split(root)
    assert str(err.value).startswith(str(path)) and needle in str(err.value)


def test_not_a_wavcaps_folder_and_other_splits(tmp_path):
    with pytest.raises(DataError, match="has no json_files folder"):
        load_wavcaps_split(tmp_path)
    root = write_tiny_wavcaps(tmp_path / "w")
    with pytest.raises(DataError, match="one split, 'train'"):
        load_wavcaps_split(root, "test")
    with pytest.raises(DataError, match="audio for id '2220' not found"):
        load_wavcaps_split(root, strict=True)
