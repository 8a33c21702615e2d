"""The released ClothoV2_GPT variations (clotho_gpt/variations.json): a list of per-caption records, paired with the
training captions by the base name of `path` plus the caption (never by `idx`), swapped per caption."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.augment.text import TextAugment
from retrieval.augment.variations import load_variations, normalise_caption
from retrieval.config import TrialConfig
from retrieval.data.clotho import load_clotho_split
from retrieval.data.errors import DataError
from tests.fixtures.tiny import write_released_clotho, write_released_variations

PREFIX = "/share/someone/clotho_v2/development/"


def aug_cfg(**kw):
    return TrialConfig.from_dict({"augment": kw}).augment


def record(idx, name, caption, variations, **extra):
    return {"idx": idx, "path": PREFIX + name, "caption": caption, "query": "q", "response": "r",
            "variations": variations, "finish_reason": "stop", "usage": {"total_tokens": 1}, **extra}


@pytest.fixture
def released(tmp_path):
    """Two recordings of the training set, records shuffled and with misleading idx values."""
    records = [
        record(7, " Ambience Birds.wav", "Birds chirp in the morning.", [f"birds v{k}" for k in range(5)]),
        record(0, "Bird&#39;s song.wav", "A bird&#39;s song   at DAWN", [f"song v{k}" for k in range(5)]),
        record(3, " Ambience Birds.wav", "Wind blows through the trees.", [f"wind v{k}" for k in range(5)]),
        record(1, "elsewhere.wav", "Not a training file.", ["x"] * 5),
        record(2, " Ambience Birds.wav", "A caption the CSV does not have.", ["y"] * 5),
    ]
    path = tmp_path / "variations.json"
    path.write_text(json.dumps(records))
    names = [" Ambience Birds.wav", "Bird's song.wav", "no record.wav"]
    captions = [("Birds chirp in the morning.", "Wind blows through the trees.", "Someone walks by."),
                ("A bird's song at dawn.",), ("Rain falls.",)]
    return path, names, captions


def test_released_list_is_paired_per_caption(released):
    path, names, captions = released
    v = load_variations(path)
    assert v.format == "released" and len(v) == 5
    assert v.records[0].name == " Ambience Birds.wav"  # base name of path, leading space kept
    keys = v.match(names, captions)
    assert keys == [" Ambience Birds.wav", "Bird's song.wav", None]
    # each caption gets exactly its own record's variations; a caption without a record gets none
    assert v.choices(keys[0], "Birds chirp in the morning.") == tuple(f"birds v{k}" for k in range(5))
    assert v.choices(keys[0], "Wind blows through the trees.") == tuple(f"wind v{k}" for k in range(5))
    assert v.choices(keys[0], "Someone walks by.") == ()
    # the entity, the case and the spacing differ: matched in the normalised form
    assert v.choices(keys[1], "A bird's song at dawn.") == tuple(f"song v{k}" for k in range(5))
    s = v.stats
    assert s["format"] == "released" and s["records"] == 5
    assert s["matched_records"] == 3 and s["unmatched_records"] == 2
    assert s["unmatched_records_file"] == 1 and s["unmatched_records_caption"] == 1
    assert s["matched_exact"] == 2 and s["matched_normalised"] == 1
    assert s["training_captions"] == 5 and s["matched_captions"] == 3 and s["unmatched_captions"] == 2
    assert s["matched_recordings"] == 2 and v.unmatched == 2


def test_row_order_and_idx_are_not_used(released):
    path, names, captions = released
    recs = json.loads(path.read_text())
    for i, r in enumerate(recs):
        r["idx"] = 1000 - i
    path.write_text(json.dumps(recs[::-1]))
    v = load_variations(path)
    keys = v.match(names, captions)
    assert v.choices(keys[0], "Birds chirp in the morning.") == tuple(f"birds v{k}" for k in range(5))
    assert v.stats["matched_captions"] == 3


def test_match_warns_once_about_unmatched_records(released, capsys):
    path, names, captions = released
    with pytest.warns(UserWarning, match=r"2 of 5 caption-variation records match no training caption"):
        load_variations(path).match(names, captions, warn=True)
    assert "1 name files that are not among the training recordings" in capsys.readouterr().err


def test_released_list_needs_the_captions(released):
    path, names, _ = released
    with pytest.raises(ValueError, match="needs the captions"):
        load_variations(path).match(names)


def test_p1_swaps_every_matched_caption_for_one_of_its_own(released, naive_swaps):
    path, names, captions = released
    v = load_variations(path)
    keys = v.match(names, captions)
    aug = TextAugment(aug_cfg(variations={"file": str(path), "p": 1.0}), variations=v)
    batch = [c for cs in captions for c in cs] * 50
    batch_keys = [k for k, cs in zip(keys, captions) for _ in cs] * 50
    out = aug(batch, np.random.default_rng(0), keys=batch_keys)
    for caption, key, new in zip(batch, batch_keys, out):
        own = v.choices(key, caption)
        assert (new in own) if own else (new == caption)
    assert aug.stats()["variation"] == 3 * 50
    # the draws are those of the existing code: one uniform per caption, one integer per swap
    assert out == naive_swaps(v, batch, batch_keys, 1.0, seed=0)


def test_swapping_at_p_0_3_is_per_caption_and_deterministic(released):
    path, names, captions = released
    v = load_variations(path)
    keys = v.match(names, captions)
    aug = TextAugment(aug_cfg(variations={"file": str(path), "p": 0.3}), variations=v)
    batch = ["Birds chirp in the morning.", "Someone walks by."] * 2000
    bkeys = [keys[0]] * 4000
    a = aug(batch, np.random.default_rng(5), keys=bkeys)
    assert a == aug(batch, np.random.default_rng(5), keys=bkeys)
    first = np.array([x != "Birds chirp in the morning." for x in a[0::2]])
    assert 0.26 < first.mean() < 0.34 and set(a[0::2]) - {"Birds chirp in the morning."} <= {
        f"birds v{k}" for k in range(5)}
    assert set(a[1::2]) == {"Someone walks by."}  # no record: never swapped (no file-level pool)


def test_generated_release_copy_matches_every_training_caption(tmp_path):
    root = write_released_clotho(tmp_path / "clotho")
    path = write_released_variations(root, "development", tmp_path / "variations.json")
    recs = json.loads(path.read_text())
    assert [r["idx"] for r in recs] != list(range(len(recs)))  # shuffled
    assert any(r["path"].endswith("/development/ Ambience Birds.wav") for r in recs)
    assert any("&#39;" in r["caption"] for r in recs)  # the CSV cell as written
    split = load_clotho_split(root, "development")
    v = load_variations(path)
    keys = v.match([r.file_name for r in split.recordings], [r.captions for r in split.recordings])
    assert all(k is not None for k in keys)
    assert v.stats["matched_captions"] == v.stats["training_captions"] == split.n_captions == 40
    assert v.stats["unmatched_records"] == 0 and v.stats["matched_exact"] == 40


@pytest.mark.parametrize("records, needle", [
    ([{"idx": 0, "path": PREFIX + "a.wav", "caption": "c", "variations": ["v"]},
      {"idx": 1, "path": PREFIX + "a.wav", "caption": "d"}], "record 1: no 'variations' (the record has: idx, path, "),
    ([{"path": PREFIX + "a.wav", "caption": "c", "variations": "one string"}],
     "record 0: 'variations' must be a non-empty list"),
    ([{"path": PREFIX + "a.wav", "caption": "c", "variations": []}], "record 0: 'variations' must be a non-empty"),
    ([{"path": PREFIX + "a.wav", "caption": "c", "variations": ["ok", 3]}],
     "record 0: variations[1] must be a non-empty caption string"),
    ([{"path": PREFIX + "a.wav", "caption": "c", "variations": ["ok", "  "]}], "record 0: variations[1]"),
    ([{"path": 5, "caption": "c", "variations": ["v"]}], "record 0: 'path' must be a non-empty string"),
    ([{"path": PREFIX + "a.wav", "variations": ["v"]}], "record 0: 'caption' must be a non-empty string"),
    ([{"path": "/data/clotho/", "caption": "c", "variations": ["v"]}], "record 0: 'path' '/data/clotho/' does not"),
    ([{"path": PREFIX + "a.wav", "caption": "c", "variations": ["v"]}, "text"],
     "record 1: expected a JSON object"),
    ([], "the list holds no records"),
])
def test_bad_records_are_one_line_errors_naming_file_and_record(error_from_file, records, needle):
    path, msg = error_from_file("variations.json", json.dumps(records), load_variations, DataError)
    assert msg.startswith(f"{path}: ") and needle in msg and "\n" not in msg


def test_normalise_caption():
    assert normalise_caption("A bird&#39;s  song, at DAWN!") == normalise_caption("a bird’s song at dawn")
    assert normalise_caption(" Rock &amp; roll ") == "rock roll"  # "&" is punctuation


def test_mapping_format_matches_names_as_written(tmp_path):
    """The project's own mapping keeps working; a key spelled without the release's leading space still matches
    (a file made by the old, stripping loader), a key with it matches exactly."""
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"Ambience Birds.wav": ["a", "b"], " e ieio ieai.wav": {"c1": ["x"]}}))
    v = load_variations(path)
    keys = v.match([" Ambience Birds.wav", " e ieio ieai.wav", "other.wav"], [("c1", "c2"), ("c1", "c2"), ("c",)])
    assert keys == ["Ambience Birds.wav", " e ieio ieai.wav", None]
    assert v.stats["format"] == "mapping" and v.stats["unmatched_records"] == 0
    # file-level pool for the first recording; per caption (then the file's pool) for the second
    assert v.stats["matched_captions"] == 4 and v.stats["unmatched_captions"] == 1
