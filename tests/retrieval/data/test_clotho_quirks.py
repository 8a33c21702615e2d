"""ClothoV2.1 quirks: ISO-8859-1 CSVs, names with spaces/accents/HTML entities, "Not found"/"NA" metadata,
empty or bracketed start_end_samples, NFD names on disk, metadata spelled differently from the captions file."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pytest

from retrieval.data.clotho import find_audio, load_clotho_split, name_variants, parse_keywords, parse_sound_id
from retrieval.data.errors import DataError
from tests.fixtures.tiny import CLOTHO_META_HEADER, write_tiny_clotho, write_tone

CAP_HEADER = ["file_name"] + [f"caption_{i}" for i in range(1, 6)]


def _csv(path: Path, header, rows, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_tiny_release_copy_loads_with_every_quirk(tmp_path):
    root = write_tiny_clotho(tmp_path)
    raw = (root / "clotho_captions_development.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really ISO-8859-1, as in the release
    assert b"&#39;" in raw
    split = load_clotho_split(root, "development")
    names = [r.file_name for r in split.recordings]
    # the CSV's "Bird&#39;s song at dawn.wav" is found on disk under its unescaped name
    assert names[:3] == ["Bird's song at dawn.wav", "café crème.wav", "rain on a tin roof.wav"]
    assert all(r.path.is_file() and r.path.name == r.file_name for r in split.recordings)
    # captions: entities unescaped, accents decoded
    assert split.recordings[0].captions[0] == "A cafe's sound number 1, take 1"
    assert all("&#" not in c for r in split.recordings for c in r.captions)
    # metadata: "Not found" -> None, numeric ids kept; keywords split on ';', lowercased; last one empty
    assert [r.source_id for r in split.recordings[:3]] == [None, "100002", "200003"]
    assert split.recordings[0].keywords == ("cafe", "tone 1", "loud")
    assert split.recordings[-1].keywords == ()
    assert split.n_captions == 30 and len(split.recordings) == 6 and split.missing_audio == ()


def test_helpers():
    assert parse_sound_id(" Not found ") is None and parse_sound_id("NA") is None and parse_sound_id("") is None
    assert parse_sound_id("123") == "123"
    assert parse_keywords("rock &amp; roll; Bird&#39;s") == ("rock & roll", "bird's")
    nfd = unicodedata.normalize("NFD", "café.wav")
    assert name_variants("a&#39;b.wav") == ["a&#39;b.wav", "a'b.wav"]
    assert nfd in name_variants("café.wav") and len(nfd) != len("café.wav")


def test_nfd_names_on_disk_and_literal_entity_names(tmp_path):
    """An archive made on macOS stores NFD names; a file whose name really contains '&#39;' is used as is."""
    nfc = "crème brûlée.wav"
    write_tone(tmp_path / "development" / unicodedata.normalize("NFD", nfc), 1)
    write_tone(tmp_path / "development" / "it&#39;s literal.wav", 2)  # the literal name exists: taken first
    write_tone(tmp_path / "development" / "it's literal.wav", 3)
    _csv(tmp_path / "clotho_captions_development.csv", CAP_HEADER,
         [[nfc] + ["c"] * 5, ["it&#39;s literal.wav"] + ["d"] * 5], encoding="iso-8859-1")
    split = load_clotho_split(tmp_path, "development")
    assert split.recordings[0].path.name == unicodedata.normalize("NFD", nfc)
    assert split.recordings[1].file_name == "it&#39;s literal.wav"
    assert find_audio(tmp_path / "development", "nothing.wav") is None


def test_metadata_spelled_differently_still_joins(tmp_path):
    """The captions CSV has the entity, the metadata CSV the plain apostrophe: keywords still attach."""
    write_tone(tmp_path / "development" / "dog's bark.wav", 1)
    _csv(tmp_path / "clotho_captions_development.csv", CAP_HEADER, [["dog&#39;s bark.wav"] + ["a dog"] * 5])
    _csv(tmp_path / "clotho_metadata_development.csv", CLOTHO_META_HEADER,
         [["dog's bark.wav", "dog;bark", "Not found", "NA", "", "x", "CC0"]], encoding="iso-8859-1")
    rec = load_clotho_split(tmp_path, "development").recordings[0]
    assert rec.keywords == ("dog", "bark") and rec.source_id is None


@pytest.mark.parametrize("start_end", ["", "[]", "[0, 441000]", "[1234,5678]"])
def test_start_end_samples_never_fails(tmp_path, start_end):
    write_tone(tmp_path / "evaluation" / "a.wav", 1)
    _csv(tmp_path / "clotho_captions_evaluation.csv", CAP_HEADER, [["a.wav"] + ["x"] * 5])
    _csv(tmp_path / "clotho_metadata_evaluation.csv", CLOTHO_META_HEADER,
         [["a.wav", "k", "42", "NA", start_end, "", ""]])
    rec = load_clotho_split(tmp_path, "evaluation").recordings[0]
    assert rec.keywords == ("k",) and rec.source_id == "42"


def test_missing_audio_error_names_both_spellings(tmp_path):
    (tmp_path / "development").mkdir()
    _csv(tmp_path / "clotho_captions_development.csv", CAP_HEADER, [["x&#39;y.wav"] + ["c"] * 5])
    with pytest.raises(DataError) as err:
        load_clotho_split(tmp_path, "development")
    msg = str(err.value)
    assert "row 2" in msg and "x&#39;y.wav" in msg and "x'y.wav" in msg
    assert load_clotho_split(tmp_path, "development", strict=False).missing_audio == ("x&#39;y.wav",)
