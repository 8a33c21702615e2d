"""AudioCaps loader on tiny format-exact copies (see tests.fixtures.tiny.write_tiny_audiocaps for the layout)."""

from __future__ import annotations

import pytest

from retrieval.data.audiocaps import load_audiocaps_split, read_audioset_keywords
from retrieval.data.errors import DataError
from tests.fixtures.tiny import write_tiny_audiocaps, write_tone

HEADER = "audiocap_id,youtube_id,start_time,caption\n"


def test_splits_counts_grouping_and_audio_pairing(tmp_path):
    root = write_tiny_audiocaps(tmp_path)
    train = load_audiocaps_split(root, "train")
    # 5 clips listed, the last without audio: 4 recordings, one caption each
    assert len(train.recordings) == 4 and train.n_captions == 4
    assert train.missing_audio == ("audio/train/tr04-YtId__70.wav",)
    test = load_audiocaps_split(root, "test")
    assert len(test.recordings) == 2 and test.n_captions == 10 and len(test.missing_audio) == 1
    # captions grouped per clip although the CSV interleaves clips; file order kept
    first = test.recordings[0]
    assert first.captions == tuple(f"Sound 0 of test & more, version {k}" for k in range(5))  # &amp; unescaped
    assert first.source_id == "te00-YtId_" and first.file_name == "audio/test/te00-YtId__30.wav"
    # the audio path follows the pattern; every third clip is FLAC
    tr = {r.source_id: r for r in train.recordings}
    assert tr["tr02-YtId_"].path.suffix == ".flac" and tr["tr02-YtId_"].path.is_file()
    assert tr["tr00-YtId_"].path == root / "audio" / "train" / "tr00-YtId__30.wav"


def test_audioset_labels_become_keywords(tmp_path):
    root = write_tiny_audiocaps(tmp_path)
    train = {r.source_id: r for r in load_audiocaps_split(root, "train").recordings}
    assert train["tr00-YtId_"].keywords == ()  # no segment row
    # labels from two segment files are merged in order, the repeated "Speech" once; quoted commas kept
    assert train["tr01-YtId_"].keywords == ("speech", "male speech, man speaking", "dog")
    assert train["tr02-YtId_"].keywords == ("water",)
    assert train["tr03-YtId_"].keywords == ("vehicle",)
    assert load_audiocaps_split(root, "train").has_metadata


def test_without_label_files_no_keywords(tmp_path):
    root = write_tiny_audiocaps(tmp_path)
    for p in list(root.glob("*_segments.csv")) + [root / "class_labels_indices.csv"]:
        p.unlink()
    split = load_audiocaps_split(root, "val")
    assert not split.has_metadata and all(r.keywords == () for r in split.recordings)


def test_labels_dir_elsewhere(tmp_path):
    root = write_tiny_audiocaps(tmp_path / "ac")
    other = tmp_path / "audioset"
    other.mkdir()
    for p in list(root.glob("*_segments.csv")) + [root / "class_labels_indices.csv"]:
        p.rename(other / p.name)
    assert not load_audiocaps_split(root, "train").has_metadata
    split = load_audiocaps_split(root, "train", labels_dir=other)
    assert split.has_metadata and sum(bool(r.keywords) for r in split.recordings) == 3


def test_custom_audio_pattern(tmp_path):
    (tmp_path / "train.csv").write_text(HEADER + "7,abc,0,a dog barks\n8,abc,0,a dog barks again\n")
    write_tone(tmp_path / "wavs" / "7.wav", 1)
    split = load_audiocaps_split(tmp_path, "train", audio_pattern="wavs/{audiocap_id}.{ext}")
    assert split.recordings[0].file_name == "wavs/7.wav" and len(split.recordings[0].captions) == 2


def test_strict_missing_audio_names_row(tmp_path):
    root = write_tiny_audiocaps(tmp_path)
    with pytest.raises(DataError, match=r"train.csv: row 6, field 'youtube_id': audio for clip"):
        load_audiocaps_split(root, "train", strict=True)


@pytest.mark.parametrize("row, field", [
    ("x,abc,30,a caption", "audiocap_id"),
    ("1,,30,a caption", "youtube_id"),
    ("1,abc,thirty,a caption", "start_time"),
    ("1,abc,30,   ", "caption"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, row, field):
    (tmp_path / "val.csv").write_text(HEADER + "5,zzz,0,fine\n" + row + "\n")
    with pytest.raises(DataError) as err:
        load_audiocaps_split(tmp_path, "val")
    assert str(err.value).startswith(f"{tmp_path / 'val.csv'}: row 3, field '{field}'")


def test_duplicated_id_wrong_header_and_missing_file(tmp_path):
    (tmp_path / "test.csv").write_text(HEADER + "5,a,0,x\n5,b,0,y\n")
    with pytest.raises(DataError, match="row 3.*duplicated audiocap_id 5"):
        load_audiocaps_split(tmp_path, "test")
    (tmp_path / "test.csv").write_text("id,youtube,start,caption\n1,a,0,x\n")
    with pytest.raises(DataError, match="row 1: missing required column"):
        load_audiocaps_split(tmp_path, "test")
    with pytest.raises(DataError, match="split 'val' not found.*test.csv"):
        load_audiocaps_split(tmp_path, "val")


@pytest.mark.parametrize("line, needle", [
    ('abc, 30.000, 40.000, "/m/nope"', "label '/m/nope' is not in class_labels_indices.csv"),
    ('abc, 30.000, 40.000', "expected 4 fields"),
    ('abc, soon, 40.000, "/m/09x0r"', "field 'start_seconds'"),
    ('abc, 30.000, 40.000, ""', "no labels"),
])
def test_malformed_segment_rows(tmp_path, line, needle):
    (tmp_path / "class_labels_indices.csv").write_text('index,mid,display_name\n0,/m/09x0r,"Speech"\n')
    seg = tmp_path / "eval_segments.csv"
    seg.write_text("# comment\n# YTID, start_seconds, end_seconds, positive_labels\n"
                   'other, 0.000, 10.000, "/m/bad-but-not-wanted"\n' + line + "\n")
    with pytest.raises(DataError) as err:
        read_audioset_keywords(tmp_path, {"abc"})
    assert str(err.value).startswith(f"{seg}: row 4") and needle in str(err.value)


def test_segments_without_class_labels_file(tmp_path):
    (tmp_path / "eval_segments.csv").write_text('abc, 0.000, 10.000, "/m/09x0r"\n')
    with pytest.raises(DataError, match="class_labels_indices.csv.*segment files found"):
        read_audioset_keywords(tmp_path, {"abc"})
