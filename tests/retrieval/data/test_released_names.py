"""File names as the ClothoV2.1 release has them: leading spaces (unquoted in the CSV and on disk), trailing spaces,
commas, quotes, HTML entities, NFC/NFD. The loader keeps them as written; `data summary` agrees with training."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata

import pytest

from retrieval.data.clotho import find_audio, load_clotho_split, read_csv_rows
from retrieval.data.datasets import load_split, summarize
from retrieval.data.errors import DataError
from retrieval.data.names import NameIndex, base_name, loose_key
from tests.fixtures.tiny import CLOTHO_META_HEADER, write_released_clotho, write_tone

HEADER = "file_name,caption_1,caption_2,caption_3,caption_4,caption_5"


def write_lines(path, lines, encoding="iso-8859-1"):
    """A CSV written byte for byte (no csv module): exactly how the release spells its rows."""
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))


def caps(i):
    return ",".join(f"caption {i} number {k}" for k in range(1, 6))


# ------------------------------------------------------------------------------------------- the release's names
def test_leading_space_names_as_released_load_and_keep_their_space(tmp_path):
    """The released development CSV lists ' Ambience Birds.wav' unquoted after the line break; the file on disk
    carries the space. Before the fix the loader stripped the field and training stopped on row 3."""
    root = tmp_path
    for i, name in enumerate([" Ambience Birds.wav", " typical neighborhood in Porto.wav", "plain.wav"]):
        write_tone(root / "development" / name, i)
    write_lines(root / "clotho_captions_development.csv",
                [HEADER, f" Ambience Birds.wav,{caps(1)}", f" typical neighborhood in Porto.wav,{caps(2)}",
                 f"plain.wav,{caps(3)}"])
    raw = (root / "clotho_captions_development.csv").read_bytes()
    assert b"\r\n Ambience Birds.wav,caption 1" in raw and b'" Ambience' not in raw  # unquoted, as released
    split = load_clotho_split(root, "development")  # strict, as training loads it
    names = [r.file_name for r in split.recordings]
    assert names == [" Ambience Birds.wav", " typical neighborhood in Porto.wav", "plain.wav"]
    assert all(r.path.is_file() and r.path.name == r.file_name for r in split.recordings)
    assert split.missing_audio == ()
    # the header and the rows are not stripped either: the parsed cell has its space
    header, rows = read_csv_rows(root / "clotho_captions_development.csv")
    assert header[0] == "file_name" and rows[0][0] == " Ambience Birds.wav"


@pytest.mark.parametrize("csv_cell, listed, on_disk", [
    ("trailing space.wav ", "trailing space.wav ", "trailing space.wav "),
    ('"Traffic, busy street.wav"', "Traffic, busy street.wav", "Traffic, busy street.wav"),
    ('"The ""big"" bell.wav"', 'The "big" bell.wav', 'The "big" bell.wav'),
    ('" quoted leading space.wav"', " quoted leading space.wav", " quoted leading space.wav"),
    ("Bird&#39;s song.wav", "Bird&#39;s song.wav", "Bird's song.wav"),
    ("rock &amp; roll.wav", "rock &amp; roll.wav", "rock & roll.wav"),
    ("crème brûlée.wav", "crème brûlée.wav", unicodedata.normalize("NFD", "crème brûlée.wav")),
    (unicodedata.normalize("NFD", "déjà vu.wav"), unicodedata.normalize("NFD", "déjà vu.wav"), "déjà vu.wav"),
])
def test_every_kind_of_released_name_loads(tmp_path, csv_cell, listed, on_disk):
    write_tone(tmp_path / "evaluation" / on_disk, 1)
    write_lines(tmp_path / "clotho_captions_evaluation.csv", [HEADER, f"{csv_cell},{caps(1)}"], encoding="utf-8")
    rec = load_clotho_split(tmp_path, "evaluation").recordings[0]
    assert rec.file_name == on_disk and rec.path == tmp_path / "evaluation" / on_disk
    assert find_audio(tmp_path / "evaluation", listed) == rec.path


def test_metadata_joins_leading_space_names_in_either_spelling(tmp_path):
    write_tone(tmp_path / "development" / " Ambience Birds.wav", 1)
    write_tone(tmp_path / "development" / " e ieio ieai.wav", 2)
    write_lines(tmp_path / "clotho_captions_development.csv",
                [HEADER, f" Ambience Birds.wav,{caps(1)}", f" e ieio ieai.wav,{caps(2)}"])
    # the first metadata row spells the name as the captions file, the second without its space
    write_lines(tmp_path / "clotho_metadata_development.csv",
                [",".join(CLOTHO_META_HEADER), " Ambience Birds.wav,birds; ambience,1,NA,,x,CC0",
                 "e ieio ieai.wav,voice,2,NA,,x,CC0"])
    recs = load_clotho_split(tmp_path, "development").recordings
    assert [r.keywords for r in recs] == [("birds", "ambience"), ("voice",)]
    assert [r.source_id for r in recs] == ["1", "2"]


def test_a_name_without_its_space_on_disk_is_found_but_never_merged(tmp_path):
    """Listed with a leading space, on disk without it (an unpacker that trims names): found as a last resort.
    When the trimmed name is listed as well, the two stay different recordings."""
    write_tone(tmp_path / "development" / "a.wav", 1)
    write_lines(tmp_path / "clotho_captions_development.csv", [HEADER, f" a.wav,{caps(1)}"])
    rec = load_clotho_split(tmp_path, "development").recordings[0]
    assert rec.file_name == "a.wav"
    write_lines(tmp_path / "clotho_captions_development.csv", [HEADER, f" a.wav,{caps(1)}", f"a.wav,{caps(2)}"])
    with pytest.raises(DataError) as err:
        load_clotho_split(tmp_path, "development")
    assert "row 2" in str(err.value) and "' a.wav'" in str(err.value) and "file_name" in str(err.value)
    split = load_clotho_split(tmp_path, "development", strict=False)
    assert split.missing_audio == (" a.wav",) and [r.file_name for r in split.recordings] == ["a.wav"]


def test_two_spellings_of_one_file_are_an_error(tmp_path):
    nfc = "crème.wav"
    write_tone(tmp_path / "development" / nfc, 1)
    write_lines(tmp_path / "clotho_captions_development.csv",
                [HEADER, f"{nfc},{caps(1)}", f"{unicodedata.normalize('NFD', nfc)},{caps(2)}"], encoding="utf-8")
    with pytest.raises(DataError, match=r"row 3, field 'file_name': .*same audio file .* as row 2"):
        load_clotho_split(tmp_path, "development")


def test_empty_or_blank_file_name_is_still_an_error(tmp_path):
    (tmp_path / "development").mkdir()
    write_lines(tmp_path / "clotho_captions_development.csv", [HEADER, f"   ,{caps(1)}"])
    with pytest.raises(DataError, match=r"row 2, field 'file_name': empty file_name"):
        load_clotho_split(tmp_path, "development")


def test_name_helpers():
    assert base_name("/mnt/x/clotho/development/ Ambience Birds.wav") == " Ambience Birds.wav"
    assert base_name("C:\\data\\evaluation\\a b.wav ") == "a b.wav "
    assert base_name("plain.wav") == "plain.wav"
    assert loose_key(" Bird&#39;s.wav ") == "Bird's.wav"
    index = NameIndex([" a.wav", "a.wav", "it&#39;s.wav", " b.wav", "café.wav"])
    assert index.find(" a.wav") == (0, "exact") and index.find("a.wav") == (1, "exact")
    assert index.find(" a.wav ") == (None, "")  # ' a.wav' and 'a.wav' share the loose key: ambiguous
    assert index.find("it's.wav") == (2, "variant") and index.find("b.wav") == (3, "loose")
    assert index.find(unicodedata.normalize("NFD", "café.wav")) == (4, "variant")


# ------------------------------------------------------------------------------------------- the released layout
def test_released_layout_copy_loads_every_split(tmp_path):
    root = write_released_clotho(tmp_path)
    raw = (root / "clotho_captions_development.csv").read_bytes()
    assert b"\r\n Ambience Birds.wav,\"A " in raw and b"\r\n typical neighborhood in Porto.wav," in raw
    assert b'\r\n"Traffic, busy street.wav",' in raw and b'"The ""big"" bell.wav"' in raw
    dev = load_split("clotho", root, "development")
    assert [r.file_name for r in dev.recordings][:2] == [" Ambience Birds.wav", " typical neighborhood in Porto.wav"]
    val = load_split("clotho", root, "validation")
    assert val.recordings[0].file_name == " e ieio ieai.wav"
    ev = load_split("clotho", root, "evaluation")
    assert len(ev.recordings) == 8 and ev.n_captions == 40 and all(r.keywords for r in ev.recordings)
    assert all("&#" not in c and "&amp;" not in c for r in ev.recordings for c in r.captions)


# ------------------------------------------------------------------------------------------- data summary
def test_summary_agrees_with_training_and_names_missing_files(tmp_path):
    root = write_released_clotho(tmp_path)
    summary = summarize("clotho", root)
    assert all(s["missing_audio"] == 0 and s["missing_files"] == [] and s["strict"] for s in summary.values())
    assert summary["development"]["recordings"] == 8 and summary["validation"]["recordings"] == 4
    # remove the leading-space files: the summary names them (as listed) and training stops at the first one
    (root / "development" / " Ambience Birds.wav").unlink()
    (root / "development" / " typical neighborhood in Porto.wav").unlink()
    dev = summarize("clotho", root, splits=["development"])["development"]
    assert dev["missing_audio"] == 2
    assert dev["missing_files"] == [" Ambience Birds.wav", " typical neighborhood in Porto.wav"]
    with pytest.raises(DataError) as err:
        load_split("clotho", root, "development")
    assert "row 2" in str(err.value) and "' Ambience Birds.wav'" in str(err.value)


def test_summary_lists_at_most_five_names_and_the_count(tmp_path):
    names = [f" missing {i}.wav" for i in range(7)] + ["there.wav"]
    write_tone(tmp_path / "development" / "there.wav", 1)
    write_lines(tmp_path / "clotho_captions_development.csv", [HEADER] + [f"{n},{caps(i)}" for i, n in
                                                                           enumerate(names)])
    dev = summarize("clotho", tmp_path)["development"]
    assert dev["missing_audio"] == 7 and dev["missing_files"] == names[:5] and dev["recordings"] == 1


def test_cli_summary_fails_when_training_would_and_names_the_files(tmp_path):
    root = write_released_clotho(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "retrieval", "data", "summary", "--dataset", "clotho", "--root",
                           str(root), "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert json.loads(proc.stdout)["validation"]["missing_audio"] == 0
    (root / "validation" / " e ieio ieai.wav").unlink()
    proc = subprocess.run([sys.executable, "-m", "retrieval", "data", "summary", "--dataset", "clotho", "--root",
                           str(root)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "validation" in proc.stdout  # the table is still printed
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: clotho validation: 1 listed file without audio")
    assert "' e ieio ieai.wav'" in lines[0] and "training on this split would stop" in lines[0]


def test_wavcaps_ids_are_kept_as_written(tmp_path):
    """A WavCaps id is looked up as written first, then without surrounding whitespace; never merged."""
    from retrieval.data.wavcaps import load_wavcaps_split

    entries = [{"id": " 15", "caption": "A bell.", "duration": 0.5, "title": "Bell"},
               {"id": "16 ", "caption": "A door.", "duration": 0.5, "title": "Door"},
               {"id": "Y-abc.wav", "caption": "Speech.", "duration": 0.5, "title": "x"}]
    (tmp_path / "json_files" / "SoundBible").mkdir(parents=True)
    (tmp_path / "json_files" / "SoundBible" / "sb_final.json").write_text(json.dumps({"data": entries}))
    for i, stem in enumerate([" 15", "16", "Y-abc"]):
        write_tone(tmp_path / "audio" / "SoundBible" / f"{stem}.flac", i)
    split = load_wavcaps_split(tmp_path, exclude=())
    assert [r.file_name for r in split.recordings] == ["audio/SoundBible/ 15.flac", "audio/SoundBible/16.flac",
                                                       "audio/SoundBible/Y-abc.flac"]
    assert [r.source_id for r in split.recordings] == ["SoundBible/ 15", "SoundBible/16 ", "SoundBible/Y-abc"]
