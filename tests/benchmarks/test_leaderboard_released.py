"""Submissions and ground truth as they really are: the DCASE 2023-2025 `fname_` header, directory-prefixed file
names, and released Clotho names that begin with a space (kept in the ground truth, never stripped)."""

from __future__ import annotations

import json
import sqlite3
import unicodedata

import numpy as np
import pytest

from benchmarks.leaderboard.board import BoardStore
from benchmarks.leaderboard.cli import main as leaderboard
from benchmarks.leaderboard.formats import DCASE_2023_HEADER, DCASE_HEADER, InputError, read_ground_truth
from benchmarks.leaderboard.submissions import read_submission
from benchmarks.leaderboard.scoring import score_submission
from reports.render import csv_text

FILES = [" Ambience Birds.wav", "Traffic, busy street.wav", "Bird&#39;s song.wav", "crème brûlée.wav", "plain.wav"]


def write_gt(path):
    """A released-style Clotho captions CSV (ISO-8859-1, the leading-space name unquoted)."""
    lines = ["file_name,caption_1,caption_2,caption_3,caption_4,caption_5"]
    for i, f in enumerate(FILES):
        cell = f'"{f}"' if "," in f else f
        lines.append(",".join([cell] + [f"caption {i}&#39;s take {k}" for k in range(1, 6)]))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("iso-8859-1"))
    return path


def rankings(seed=0):
    """Per query (the unescaped caption, as a run writes it) a ranking of the files as they are on disk."""
    rng = np.random.default_rng(seed)
    disk = [" Ambience Birds.wav", "Traffic, busy street.wav", "Bird's song.wav",
            unicodedata.normalize("NFD", "crème brûlée.wav"), "plain.wav"]
    out = {}
    for i in range(len(FILES)):
        for k in range(1, 6):
            out[f"caption {i}'s take {k}"] = [disk[j] for j in rng.permutation(len(disk))]
    return out


def write_sub(path, ranks, header=DCASE_HEADER, prefix=""):
    rows = [[caption, *(prefix + f for f in files), *[""] * (10 - len(files))] for caption, files in ranks.items()]
    path.write_text(csv_text(header, rows), encoding="utf-8")
    return path


def test_ground_truth_keeps_released_names_exactly(tmp_path):
    gt = read_ground_truth(write_gt(tmp_path / "gt.csv"))
    assert gt.files == tuple(FILES)  # ' Ambience Birds.wav' keeps its space
    assert gt.resolve_file(" Ambience Birds.wav") == (0, "exact")
    assert gt.resolve_file("Ambience Birds.wav") == (0, "respelled")  # a stripped name still finds it
    assert gt.resolve_file("Bird's song.wav") == (2, "respelled")
    assert gt.resolve_file(unicodedata.normalize("NFD", "crème brûlée.wav")) == (3, "respelled")
    assert gt.resolve_file("/data/clotho/evaluation/ Ambience Birds.wav") == (0, "reduced")
    assert gt.resolve_file("evaluation\\plain.wav") == (4, "reduced")
    assert gt.resolve_file("/data/clotho/evaluation/unknown.wav") == (None, "")
    assert gt.index("caption 0's take 1") == gt.index("caption 0&#39;s take 1") == 0  # entity in the truth


def test_fname_header_and_file_name_header_score_the_same(tmp_path):
    gt = read_ground_truth(write_gt(tmp_path / "gt.csv"))
    ranks = rankings()
    old = read_submission(write_sub(tmp_path / "a.csv", ranks), gt)
    new = read_submission(write_sub(tmp_path / "b.csv", ranks, header=DCASE_2023_HEADER), gt)
    assert old.header == "dcase2022" and new.header == "dcase2023"
    assert old.rankings == new.rankings
    a, b = score_submission(gt, old), score_submission(gt, new)
    assert np.array_equal(a.ap, b.ap) and a.summary()["map10"] == b.summary()["map10"]
    # the names a run writes (unescaped, NFD from disk) resolve; none needed a prefix reduced
    assert old.n_reduced == 0 and old.n_respelled == 2 * 25  # "Bird's song.wav" and the NFD name, every row


def test_directory_prefixes_are_reduced_and_counted(tmp_path):
    gt = read_ground_truth(write_gt(tmp_path / "gt.csv"))
    ranks = rankings(1)
    plain = read_submission(write_sub(tmp_path / "a.csv", ranks), gt)
    prefixed = read_submission(write_sub(tmp_path / "b.csv", ranks, header=DCASE_2023_HEADER,
                                         prefix="/mnt/team/clotho/evaluation/"), gt)
    assert prefixed.rankings == plain.rankings and prefixed.n_reduced == 25 * 5
    assert score_submission(gt, prefixed).summary()["n_reduced"] == 125


def test_an_unknown_name_with_a_prefix_is_still_a_row_error(tmp_path):
    gt = read_ground_truth(write_gt(tmp_path / "gt.csv"))
    ranks = rankings(2)
    first = next(iter(ranks))
    ranks[first] = ranks[first][:4] + ["nowhere.wav"]
    path = write_sub(tmp_path / "s.csv", ranks, header=DCASE_2023_HEADER, prefix="eval/")
    with pytest.raises(InputError) as err:
        read_submission(path, gt)
    assert "row 2: fname_5 'eval/nowhere.wav' is not in the evaluation set" in str(err.value)
    assert "1 problem" in str(err.value)


def test_a_file_repeated_in_two_spellings_is_a_repeat(tmp_path):
    gt = read_ground_truth(write_gt(tmp_path / "gt.csv"))
    ranks = rankings(3)
    first = next(iter(ranks))
    ranks[first] = ["plain.wav", "evaluation/plain.wav"]
    with pytest.raises(InputError, match=r"row 2: file 'evaluation/plain.wav' repeated \(file_name_2 and "
                                         r"file_name_1\)"):
        read_submission(write_sub(tmp_path / "s.csv", ranks), gt)


def test_two_ground_truth_names_differing_only_in_a_space_stay_apart(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text("file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
                    " a.wav,a1,a2,a3,a4,a5\na.wav,b1,b2,b3,b4,b5\n", encoding="utf-8")
    gt = read_ground_truth(path)
    assert gt.files == (" a.wav", "a.wav")
    assert gt.resolve_file(" a.wav") == (0, "exact") and gt.resolve_file("a.wav") == (1, "exact")
    assert gt.resolve_file("a.wav ") == (None, "")  # ambiguous: not guessed


def test_cli_and_board_report_reduced_names(tmp_path, capsys):
    gt = write_gt(tmp_path / "gt.csv")
    sub = write_sub(tmp_path / "s.csv", rankings(4), header=DCASE_2023_HEADER, prefix="clotho/evaluation/")
    assert leaderboard(["score", "--ground-truth", str(gt), "--submission", str(sub)]) == 0
    out = capsys.readouterr().out
    assert "header dcase2023" in out and "125 reduced to their base name" in out
    boards = f"sqlite:///{tmp_path / 'b.db'}"
    assert leaderboard(["submit", "--board", "eval", "--team", "t", "--system", "s", "--submission", str(sub),
                        "--ground-truth", str(gt), "--boards", boards, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["n_reduced"] == 125 and payload["header"] == "dcase2023"
    with BoardStore(boards) as store:
        assert store.entries("eval")[0].n_reduced == 125
    assert leaderboard(["show", "eval", "--history", "--boards", boards]) == 0
    assert "Reduced names" in capsys.readouterr().out


def test_an_older_boards_database_gets_the_column(tmp_path):
    """A database written before n_reduced existed: opened, migrated, old entries read as None."""
    db = tmp_path / "old.db"
    gt = read_ground_truth(write_gt(tmp_path / "gt.csv"))
    result = score_submission(gt, read_submission(write_sub(tmp_path / "s.csv", rankings()), gt))
    with BoardStore(f"sqlite:///{db}") as store:
        store.submit("eval", gt, result, team="old", system="s", source="x")
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE lb_entries DROP COLUMN n_reduced")
    con.commit()
    con.close()
    with BoardStore(f"sqlite:///{db}") as store:
        assert store.entries("eval")[0].n_reduced is None
        store.submit("eval", gt, result, team="new", system="s", source="y")
        assert [e.n_reduced for e in store.entries("eval")] == [None, 0]


def test_an_older_boards_database_gets_the_column_on_postgresql(postgres_url, tmp_path):
    from sqlalchemy import text

    gt = read_ground_truth(write_gt(tmp_path / "gt.csv"))
    result = score_submission(gt, read_submission(write_sub(tmp_path / "s.csv", rankings(), prefix="e/"), gt))
    with BoardStore(postgres_url) as store:
        store.submit("released-pg", gt, result, team="old", system="s", source="x")
        with store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE lb_entries DROP COLUMN n_reduced"))
    with BoardStore(postgres_url) as store:
        store.submit("released-pg", gt, result, team="new", system="s", source="y")
        assert [e.n_reduced for e in store.entries("released-pg")] == [None, 125]
