"""ClothoV2 loader: tiny Clotho-format folders written in tmp_path."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from retrieval.data.clotho import (
    Recording,
    Split,
    load_clotho_split,
    parse_keywords,
    read_csv_rows,
    summarize_clotho,
)
from retrieval.data.errors import DataError

SR = 16000
CAP_HEADER = ["file_name"] + [f"caption_{i}" for i in range(1, 6)]
META_HEADER = ["file_name", "keywords", "sound_id", "sound_link", "start_end_samples", "manufacturer", "license"]


# --------------------------------------------------------------------------------------------- helpers
def write_wav(path: Path, seconds: float = 0.25, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    sf.write(path, (0.1 * rng.standard_normal(int(round(seconds * sr)))).astype(np.float32), sr)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def caps(name: str) -> list[str]:
    return [name] + [f"{name} caption {i}" for i in range(1, 6)]


def meta(name: str, keywords: str) -> list[str]:
    return [name, keywords, "123", "https://freesound.org/x", "[0, 1]", "someone", "CC0"]


def make_split(root: Path, split: str, names: list[str], *, keywords: dict[str, str] | None = None,
               durations: dict[str, float] | None = None, no_audio: tuple[str, ...] = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_csv(root / f"clotho_captions_{split}.csv", CAP_HEADER, [caps(n) for n in names])
    if keywords is not None:
        write_csv(root / f"clotho_metadata_{split}.csv", META_HEADER, [meta(n, k) for n, k in keywords.items()])
    for n in names:
        if n not in no_audio:
            write_wav(root / split / n, (durations or {}).get(n, 0.25))
    return root


def expect_error(root: Path, split: str = "development", **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_clotho_split(root, split, **kwargs)
    return str(info.value)


# --------------------------------------------------------------------------------------------- happy path
def test_happy_path(tmp_path):
    names = ["zeta.wav", "alpha beta.wav", "m.wav"]  # file order, not sorted
    make_split(tmp_path, "development", names,
               keywords={"zeta.wav": "Birds; Wind;;rain ", "alpha beta.wav": "a; b;;c", "m.wav": ""})
    split = load_clotho_split(tmp_path, "development")
    assert isinstance(split, Split) and split.name == "development" and split.root == tmp_path
    assert [r.file_name for r in split.recordings] == names
    assert split.has_metadata and split.missing_audio == ()
    assert split.n_captions == 15
    rec = split.recordings[0]
    assert isinstance(rec, Recording)
    assert rec.path == tmp_path / "development" / "zeta.wav"
    assert rec.captions == tuple(f"zeta.wav caption {i}" for i in range(1, 6))
    assert rec.keywords == ("birds", "wind", "rain")
    assert split.recordings[1].keywords == ("a", "b", "c")
    assert split.recordings[2].keywords == ()
    queries = split.queries()
    assert len(queries) == 15
    assert queries[:6] == [(f"zeta.wav caption {i}", 0) for i in range(1, 6)] + [("alpha beta.wav caption 1", 1)]
    assert all(split.recordings[i].captions.count(c) == 1 for c, i in queries)
    with pytest.raises(dataclasses.FrozenInstanceError):
        split.name = "x"  # type: ignore[misc]


def test_parse_keywords():
    assert parse_keywords("a; b;;c") == ("a", "b", "c")
    assert parse_keywords(" Rain ;WIND; ; ") == ("rain", "wind")
    assert parse_keywords("") == ()


def test_no_metadata_and_partial_metadata(tmp_path):
    make_split(tmp_path / "a", "development", ["x.wav", "y.wav"])
    split = load_clotho_split(tmp_path / "a", "development")
    assert not split.has_metadata
    assert all(r.keywords == () for r in split.recordings)

    # metadata for a file not in captions is ignored; a file without a metadata row gets ()
    make_split(tmp_path / "b", "development", ["x.wav", "y.wav"], keywords={"x.wav": "dog", "other.wav": "cat"})
    split = load_clotho_split(tmp_path / "b", "development")
    assert split.has_metadata
    assert [r.keywords for r in split.recordings] == [("dog",), ()]


def test_any_split_name_and_blank_lines(tmp_path):
    make_split(tmp_path, "mysplit", ["x.wav", "y.wav"])
    path = tmp_path / "clotho_captions_mysplit.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + ["", "   "] + lines[2:] + ["", ""]) + "\n")
    split = load_clotho_split(tmp_path, "mysplit")
    assert [r.file_name for r in split.recordings] == ["x.wav", "y.wav"]


def test_latin1_captions(tmp_path):
    root = tmp_path
    write_csv(root / "clotho_captions_development.csv", CAP_HEADER,
              [["café.wav", "a café with people", "naïve birds", "c", "d", "e"]], encoding="iso-8859-1")
    write_csv(root / "clotho_metadata_development.csv", META_HEADER, [meta("café.wav", "Café; Crème")],
              encoding="iso-8859-1")
    write_wav(root / "development" / "café.wav")
    assert b"caf\xe9" in (root / "clotho_captions_development.csv").read_bytes()
    split = load_clotho_split(root, "development")
    rec = split.recordings[0]
    assert rec.file_name == "café.wav" and rec.path.is_file()
    assert rec.captions[:2] == ("a café with people", "naïve birds")
    assert rec.keywords == ("café", "crème")


def test_utf8_bom(tmp_path):
    write_csv(tmp_path / "clotho_captions_development.csv", CAP_HEADER,
              [["x.wav", "a café", "naïve", "c", "d", "e"]], encoding="utf-8-sig")
    assert (tmp_path / "clotho_captions_development.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    write_wav(tmp_path / "development" / "x.wav")
    header, rows = read_csv_rows(tmp_path / "clotho_captions_development.csv")
    assert header == CAP_HEADER
    split = load_clotho_split(tmp_path, "development")
    assert split.recordings[0].captions[:2] == ("a café", "naïve")


def test_quoted_fields(tmp_path):
    write_csv(tmp_path / "clotho_captions_development.csv", CAP_HEADER,
              [["x.wav", 'a "loud", dog, barks', "two\nlines", "c", "d", "e"]])
    write_wav(tmp_path / "development" / "x.wav")
    rec = load_clotho_split(tmp_path, "development").recordings[0]
    assert rec.captions[:2] == ('a "loud", dog, barks', "two\nlines")


# --------------------------------------------------------------------------------------------- errors
def test_missing_captions_csv_lists_existing(tmp_path):
    make_split(tmp_path, "development", ["x.wav"], keywords={"x.wav": "a"})
    msg = expect_error(tmp_path, "validation")
    assert "clotho_captions_validation.csv" in msg
    assert "clotho_captions_development.csv" in msg and "clotho_metadata_development.csv" in msg
    msg = expect_error(tmp_path / "nowhere", "development")
    assert "clotho_captions_development.csv" in msg and "does not exist" in msg


def test_missing_columns(tmp_path):
    header = [c for c in CAP_HEADER if c not in ("caption_3", "caption_5")]
    write_csv(tmp_path / "clotho_captions_development.csv", header, [["x.wav", "a", "b", "d"]])
    msg = expect_error(tmp_path)
    assert "clotho_captions_development.csv" in msg and "row 1" in msg
    assert "caption_3" in msg and "caption_5" in msg


def test_metadata_missing_column(tmp_path):
    make_split(tmp_path, "development", ["x.wav"])
    write_csv(tmp_path / "clotho_metadata_development.csv", ["file_name", "tags"], [["x.wav", "a"]])
    msg = expect_error(tmp_path)
    assert "clotho_metadata_development.csv" in msg and "keywords" in msg and "row 1" in msg


def test_wrong_number_of_fields(tmp_path):
    make_split(tmp_path, "development", ["x.wav", "y.wav", "z.wav"])
    path = tmp_path / "clotho_captions_development.csv"
    lines = path.read_text().splitlines()
    lines[2] += ",extra"  # row 3
    path.write_text("\n".join(lines) + "\n")
    msg = expect_error(tmp_path)
    assert "clotho_captions_development.csv" in msg and "row 3" in msg and "expected 6 fields" in msg and "got 7" in msg

    lines[2] = "y.wav,only one caption"
    path.write_text("\n".join(lines) + "\n")
    msg = expect_error(tmp_path)
    assert "row 3" in msg and "got 2" in msg


def test_metadata_wrong_number_of_fields(tmp_path):
    make_split(tmp_path, "development", ["x.wav", "y.wav"], keywords={"x.wav": "a", "y.wav": "b"})
    path = tmp_path / "clotho_metadata_development.csv"
    lines = path.read_text().splitlines()
    lines[1] = "x.wav,a"
    path.write_text("\n".join(lines) + "\n")
    msg = expect_error(tmp_path)
    assert "clotho_metadata_development.csv" in msg and "row 2" in msg


def test_empty_file_name(tmp_path):
    make_split(tmp_path, "development", ["x.wav"])
    write_csv(tmp_path / "clotho_captions_development.csv", CAP_HEADER, [caps("x.wav"), ["  "] + caps("y")[1:]])
    msg = expect_error(tmp_path)
    assert "clotho_captions_development.csv" in msg and "row 3" in msg and "'file_name'" in msg


def test_empty_caption(tmp_path):
    make_split(tmp_path, "development", ["x.wav", "y.wav"])
    row = caps("y.wav")
    row[3] = " "  # caption_3
    write_csv(tmp_path / "clotho_captions_development.csv", CAP_HEADER, [caps("x.wav"), row])
    msg = expect_error(tmp_path)
    assert "clotho_captions_development.csv" in msg and "row 3" in msg and "caption_3" in msg and "y.wav" in msg


def test_duplicated_file_name(tmp_path):
    make_split(tmp_path, "development", ["x.wav", "y.wav"])
    write_csv(tmp_path / "clotho_captions_development.csv", CAP_HEADER,
              [caps("x.wav"), caps("y.wav"), caps("x.wav")])
    msg = expect_error(tmp_path)
    assert "clotho_captions_development.csv" in msg and "row 4" in msg and "x.wav" in msg and "row 2" in msg


def test_strict_missing_audio(tmp_path):
    make_split(tmp_path, "development", ["x.wav", "y.wav", "z.wav"], no_audio=("y.wav",))
    msg = expect_error(tmp_path, strict=True)
    assert "clotho_captions_development.csv" in msg and "row 3" in msg
    assert str(tmp_path / "development" / "y.wav") in msg


def test_not_parsable_csv(tmp_path):
    make_split(tmp_path, "development", ["x.wav"])
    path = tmp_path / "clotho_captions_development.csv"
    path.write_text(",".join(CAP_HEADER) + '\nx.wav,"unterminated,b,c,d,e\n')
    msg = expect_error(tmp_path)
    assert "clotho_captions_development.csv" in msg and "row 2" in msg and "parsable" in msg

    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    msg = expect_error(tmp_path)
    assert "clotho_captions_development.csv" in msg and "NUL" in msg

    path.write_bytes(b"")
    msg = expect_error(tmp_path)
    assert "clotho_captions_development.csv" in msg and "empty" in msg


def test_data_error_is_value_error_and_picklable():
    import pickle

    err = DataError("/x/a.csv", "bad", row=3, field="caption_2")
    assert isinstance(err, ValueError)
    assert str(err) == "/x/a.csv: row 3, field 'caption_2': bad"
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.row == 3 and again.field == "caption_2"


# --------------------------------------------------------------------------------------------- strict=False, summary
def test_non_strict_counts_missing(tmp_path):
    make_split(tmp_path, "development", ["x.wav", "y.wav", "z.wav"], no_audio=("y.wav",))
    split = load_clotho_split(tmp_path, "development", strict=False)
    assert [r.file_name for r in split.recordings] == ["x.wav", "z.wav"]
    assert split.missing_audio == ("y.wav",)
    assert split.n_captions == 10
    assert [i for _, i in split.queries()] == [0] * 5 + [1] * 5


def test_summarize_clotho(tmp_path):
    names = ["a.wav", "b.wav", "c.wav", "d.wav"]
    make_split(tmp_path, "development", names,
               keywords={"a.wav": "Rain; wind", "b.wav": "rain;;thunder", "c.wav": "", "d.wav": "rain; dog"},
               durations={"a.wav": 0.25, "b.wav": 0.5, "c.wav": 0.75}, no_audio=("d.wav",))
    make_split(tmp_path, "validation", ["v.wav"], durations={"v.wav": 0.1})
    summary = summarize_clotho(tmp_path)
    assert list(summary) == ["development", "validation"]
    json.dumps(summary)  # plain python types only
    dev = summary["development"]
    assert dev["recordings"] == 3
    assert dev["captions"] == 15
    assert dev["with_keywords"] == 2
    assert dev["missing_audio"] == 1
    assert dev["mean_duration_s"] == pytest.approx(0.5, abs=1e-3)
    assert dev["mean_keywords"] == pytest.approx(4 / 3)
    assert dev["distinct_keywords"] == 3  # rain, wind, thunder (d.wav has no audio)
    assert dev["top_keywords"][0] == ["rain", 2]
    assert sorted(dev["top_keywords"][1:]) == [["thunder", 1], ["wind", 1]]
    for key in ("recordings", "captions", "with_keywords", "missing_audio", "distinct_keywords"):
        assert type(dev[key]) is int
    assert type(dev["mean_duration_s"]) is float and type(dev["mean_keywords"]) is float
    val = summary["validation"]
    assert (val["recordings"], val["captions"], val["with_keywords"], val["missing_audio"]) == (1, 5, 0, 0)
    assert val["mean_duration_s"] == pytest.approx(0.1, abs=1e-3)
    assert val["top_keywords"] == [] and val["mean_keywords"] == 0.0

    # only the requested splits whose captions CSV exists
    assert list(summarize_clotho(tmp_path, ["evaluation", "validation"])) == ["validation"]
