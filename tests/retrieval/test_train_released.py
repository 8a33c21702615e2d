"""End to end on a ClothoV2.1-layout folder whose names carry the release's quirks (leading spaces, a trailing space,
commas, quotes, entities, NFD on disk), with the released-format GPT variations at p=1.0: train 1 epoch, export the
DCASE submission, score it with the leaderboard against the released captions CSV."""

from __future__ import annotations

import csv
import html
import json
import re

import pytest
import torch

from benchmarks.leaderboard.cli import main as leaderboard
from retrieval.cli import main as retrieval_cli
from retrieval.config import TrialConfig
from tests.fixtures.tiny import write_released_clotho, write_released_variations
from retrieval.submission import DCASE_2023_HEADER, DCASE_HEADER
from retrieval.train import fit


@pytest.fixture(scope="module")
def released_run(tmp_path_factory, cache_dir):
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("released")
    root = write_released_clotho(base / "clotho")
    variations = write_released_variations(root, "development", base / "clotho_gpt" / "variations.json")
    cfg = TrialConfig.load("synthcaps-tiny").with_overrides({
        "data.dataset": "clotho", "data.root": str(root), "data.cache_dir": str(cache_dir), "train.epochs": 1,
        "train.batch_size": 8, "train.num_threads": 1, "train.progress": False,
        "augment.variations.file": str(variations), "augment.variations.p": 1.0})
    result = fit(cfg, base / "run")
    return {"root": root, "run": base / "run", "result": result, "base": base}


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_submission_scores_exactly_the_runs_own_per_query_map(released_run, tmp_path, capsys):
    root, run = released_run["root"], released_run["run"]
    sub = tmp_path / "submission.csv"
    assert retrieval_cli(["evaluate", "--run", str(run), "--submission", str(sub), "--quiet"]) == 0
    assert "40 queries (40 captions) x 8 recordings of split 'evaluation'" in capsys.readouterr().out
    raw = sub.read_text(encoding="utf-8")
    assert ", Ambience Birds.wav" in raw and '" Ambience' not in raw  # unquoted after the comma, space kept
    rows = list(csv.reader(sub.open(newline="", encoding="utf-8")))
    assert tuple(rows[0]) == DCASE_HEADER and len(rows) == 41
    assert any(" Ambience Birds.wav" in r[1:] for r in rows[1:]) and any("wind chimes.wav " in r for r in rows)

    # scored against the released captions CSV (ISO-8859-1, entities, the names as listed)
    gt = root / "clotho_captions_evaluation.csv"
    per_query = tmp_path / "leaderboard_per_query.csv"
    assert leaderboard(["score", "--ground-truth", str(gt), "--submission", str(sub), "--json", "--per-query",
                        str(per_query)]) == 0
    scored = json.loads(capsys.readouterr().out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert scored["n_queries"] == 40 and scored["n_missing"] == 0 and scored["n_reduced"] == 0
    assert scored["map10"] == metrics["test"]["test_map10"]  # exactly, not approximately
    for k in (1, 5, 10):
        assert scored[f"r{k}"] == metrics["test"][f"test_r{k}"]
    ours, theirs = read_rows(run / "per_query.csv"), read_rows(per_query)
    assert len(ours) == len(theirs) == 40
    assert len({r["ap10"] for r in ours}) > 1  # not a trivial all-equal ranking
    for a, b in zip(ours, theirs):  # the same queries in the same order, the same AP@10 digit for digit
        assert a["query"] == html.unescape(b["query"])
        assert a["ap10"] == b["ap10"]
        assert (a["rank"] if int(a["rank"]) <= 10 else "") == b["rank"]

    # the same rankings as a DCASE 2023 system output with directory prefixes: the same scores, names reduced
    prefixed = tmp_path / "fname.csv"
    with prefixed.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(DCASE_2023_HEADER)
        for r in rows[1:]:
            w.writerow([r[0], *(f"/mnt/team/clotho/evaluation/{f}" if f else "" for f in r[1:])])
    assert leaderboard(["score", "--ground-truth", str(gt), "--submission", str(prefixed), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["map10"] == scored["map10"] and again["header"] == "dcase2023"
    assert again["n_reduced"] == sum(1 for r in rows[1:] for f in r[1:] if f) == 40 * 8


def test_released_variations_at_p1_match_every_training_caption(released_run):
    result = released_run["result"]
    stats = result.extra["variations"]
    assert stats["format"] == "released"
    assert stats["matched_captions"] == stats["training_captions"] == 40
    assert stats["unmatched_records"] == 0 and stats["unmatched_captions"] == 0 and stats["records"] == 40
    metrics = json.loads((released_run["run"] / "metrics.json").read_text())
    assert metrics["extra"]["variations"] == stats
    # p=1.0: every caption the epoch saw was swapped for one of its own variations
    aug = result.extra["text_augment"]
    assert aug["captions"] > 0 and aug["variation"] == aug["captions"]


def test_resume_with_released_variations_is_bit_identical(released_run, cache_dir, tmp_path):
    root, base = released_run["root"], released_run["base"]
    cfg = TrialConfig.load("synthcaps-tiny").with_overrides({
        "data.dataset": "clotho", "data.root": str(root), "data.cache_dir": str(cache_dir), "train.epochs": 2,
        "train.batch_size": 8, "train.num_threads": 1, "train.progress": False,
        "augment.variations.file": str(base / "clotho_gpt" / "variations.json"), "augment.variations.p": 0.3})
    from .test_train import assert_same_run, crash_and_resume

    full, resumed = crash_and_resume(cfg, tmp_path, crash_after=1)
    assert_same_run(tmp_path / "full", tmp_path / "resumed")
    assert resumed.extra["variations"] == full.extra["variations"]
    assert 0 < full.extra["text_augment"]["variation"] < full.extra["text_augment"]["captions"]


def test_vocab_augment_passes_learn_the_words_augmentation_brings_in(released_run, cache_dir):
    """``text_encoder.vocab_augment_passes``: the tiny-bert vocabulary also sees that many passes of the captions
    through the run's text augmentations, so words only the variations file holds become whole pieces; 0 keeps the
    corpus (and the fingerprint) of before the key existed."""
    from retrieval.encoders.text import train_wordpiece_tokenizer
    from retrieval.data.loading import load_run_data
    from retrieval.train import vocabulary_corpus

    cfg = TrialConfig.load(released_run["run"] / "config.yaml").with_overrides(
        {"data.cache_dir": str(cache_dir), "text_encoder.vocab_augment_passes": 0})
    data = load_run_data(cfg)
    captions = [c for r in data.train.split.recordings for c in r.captions]
    plain = vocabulary_corpus(cfg, data)
    assert plain == captions + data.train.metadata()

    more = cfg.with_overrides({"text_encoder.vocab_augment_passes": 2})
    assert more.fingerprint() != cfg.fingerprint()
    corpus = vocabulary_corpus(more, data)
    assert corpus[:len(plain)] == plain and len(corpus) == len(plain) + 2 * len(captions)
    assert corpus == vocabulary_corpus(more, data)  # deterministic
    assert corpus[len(plain):len(plain) + len(captions)] != corpus[len(plain) + len(captions):]  # fresh draws

    def words(texts):
        return {w for t in texts for w in re.findall(r"[a-z]+", t.lower())}

    new = sorted(w for w in words(corpus[len(plain):]) - words(plain) if len(w) > 3)
    assert new == ["variation"]  # what the variations file adds to every caption
    before = train_wordpiece_tokenizer(plain, cfg.text_encoder.vocab_size)
    after = train_wordpiece_tokenizer(corpus, cfg.text_encoder.vocab_size)
    whole = lambda tok: sum(len(tok.encode(w, add_special_tokens=False).tokens) == 1 for w in new)  # noqa: E731
    assert whole(after) > whole(before) and whole(before) == 0
