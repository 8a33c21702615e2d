"""Leaderboard library: scoring against a naive reference, both ground-truth formats, validation, boards, standings."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from benchmarks.leaderboard.board import BoardError, BoardStore, resolve_boards_url
from benchmarks.leaderboard.formats import DCASE_HEADER, GroundTruth, InputError, fingerprint_of, read_ground_truth
from benchmarks.leaderboard.submissions import read_submission
from benchmarks.leaderboard.scoring import score_submission
from benchmarks.leaderboard.tables import csv_table, latex_table, markdown_report, standings
from reports.render import csv_text


# ----------------------------------------------------------------------------------------------------- helpers
def write_csv(path, header, rows):
    path.write_text(csv_text(header, rows), encoding="utf-8")
    return path


def write_multi_gt(path, mapping):
    return write_csv(path, ["query", "audio_filenames"], [[q, repr(list(files))] for q, files in mapping.items()])


def write_submission(path, rankings):
    """``rankings``: ``{caption: [file, ...]}`` (<= 10, padded with empty cells)."""
    return write_csv(path, DCASE_HEADER, [[c, *files, *[""] * (10 - len(files))] for c, files in rankings.items()])


def naive_metrics(mapping, rankings):
    """Reference AP@10 / R@k straight from the DESIGN definitions, one query at a time."""
    ap, rec = [], {1: [], 5: [], 10: []}
    for q, relevant in mapping.items():
        ranking = rankings.get(q, [])[:10]
        hits, total = 0, 0.0
        for pos, f in enumerate(ranking, start=1):
            if f in relevant:
                hits += 1
                total += hits / pos
        ap.append(total / len(relevant))
        for k in rec:
            rec[k].append(float(any(f in relevant for f in ranking[:k])))
    return {"map10": float(np.mean(ap)), **{f"r{k}": float(np.mean(v)) for k, v in rec.items()}}, ap


def random_case(seed, n_queries=60, n_files=40, max_rel=4):
    rng = np.random.default_rng(seed)
    files = [f"clip_{i:03d}.wav" for i in range(n_files)]
    mapping = {f"query number {q}": [files[j] for j in rng.choice(n_files, size=int(rng.integers(1, max_rel + 1)),
                                                                   replace=False)]
               for q in range(n_queries)}
    files = sorted({f for rel in mapping.values() for f in rel})  # the evaluation set: files named in the truth
    rankings = {}
    for q, rel in mapping.items():
        order = list(rng.permutation(files))
        if rng.random() < 0.5:  # a "good" system: pull relevant files near the top
            for f in rel:
                order.remove(f)
                order.insert(int(rng.integers(0, 12)), f)
        rankings[q] = order[: int(rng.integers(0, 11))]  # 0 .. 10 files (trailing padding)
    return mapping, rankings


# ----------------------------------------------------------------------------------------------------- scoring
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_match_a_naive_reference_on_random_multi_positive_submissions(tmp_path, seed):
    mapping, rankings = random_case(seed)
    gt = read_ground_truth(write_multi_gt(tmp_path / "gt.csv", mapping))
    result = score_submission(gt, read_submission(write_submission(tmp_path / "sub.csv", rankings), gt))
    expected, ap = naive_metrics(mapping, rankings)
    s = result.summary()
    for key, value in expected.items():
        assert s[key] == pytest.approx(value, abs=1e-12), key
    np.testing.assert_allclose(result.ap, ap, atol=1e-12)
    assert s["n_queries"] == len(mapping) and s["n_missing"] == 0


def test_hand_computed_example_and_ranks(tmp_path):
    gt = read_ground_truth(write_multi_gt(tmp_path / "gt.csv", {"q1": ["a.wav"], "q2": ["a.wav", "b.wav"],
                                                                "q3": ["c.wav"]}))
    sub = write_submission(tmp_path / "sub.csv", {"q1": ["b.wav", "a.wav"], "q2": ["c.wav", "b.wav", "a.wav"],
                                                  "q3": ["a.wav", "b.wav"]})
    r = score_submission(gt, read_submission(sub, gt))
    # q1: 1/2; q2: (1/2 + 2/3) / 2; q3: c.wav not listed -> 0
    np.testing.assert_allclose(r.ap, [0.5, (0.5 + 2 / 3) / 2, 0.0])
    assert r.rank[0] == 2 and r.rank[1] == 2 and math.isnan(r.rank[2])
    assert r.summary()["r1"] == 0.0 and r.summary()["r5"] == pytest.approx(2 / 3)


def test_a_short_ranking_never_credits_an_unlisted_relevant_file(tmp_path):
    # the relevant file is the FIRST item of the evaluation set: a naive score matrix with ties at 0 would rank
    # it right after the listed files (rank 2) -- the placeholders must push it beyond 10
    gt = read_ground_truth(write_multi_gt(tmp_path / "gt.csv", {"q": ["a.wav"], "p": ["b.wav"]}))
    r = score_submission(gt, read_submission(write_submission(tmp_path / "s.csv", {"q": ["b.wav"], "p": []}), gt))
    assert r.ap.tolist() == [0.0, 0.0] and r.summary()["r10"] == 0.0


def test_clotho_and_multi_positive_formats_give_the_same_fingerprint_and_scores(tmp_path):
    clotho = write_csv(tmp_path / "clotho.csv", ["file_name", *(f"caption_{i}" for i in range(1, 6))],
                       [["a.wav", "a1", "a2", "a3", "a4", "a5"], ["b.wav", "b1", "b2", "b3", "b4", "b5"]])
    multi = write_multi_gt(tmp_path / "multi.csv", {**{f"a{i}": ["a.wav"] for i in range(1, 6)},
                                                    **{f"b{i}": ["b.wav"] for i in range(1, 6)}})
    g1, g2 = read_ground_truth(clotho), read_ground_truth(multi)
    assert g1.format == "clotho" and g2.format == "multi"
    assert g1.fingerprint == g2.fingerprint == fingerprint_of(g2.mapping())
    rankings = {f"{x}{i}": (["a.wav", "b.wav"] if i % 2 else ["b.wav"]) for x in "ab" for i in range(1, 6)}
    sub = write_submission(tmp_path / "s.csv", rankings)
    s1 = score_submission(g1, read_submission(sub, g1)).summary()
    s2 = score_submission(g2, read_submission(sub, g2)).summary()
    assert s1 == s2
    assert s1["map10"] == pytest.approx(naive_metrics(g2.mapping(), rankings)[0]["map10"])


def test_clotho_caption_shared_by_two_files_is_one_query_with_both_relevant(tmp_path):
    header = ["file_name", *(f"caption_{i}" for i in range(1, 6))]
    gt_path = write_csv(tmp_path / "gt.csv", header, [
        ["a.wav", "a dog barks", "a1", "a2", "a3", "a3"],  # "a3" twice for one file: one query, one file
        ["b.wav", "b0", "b1", "b2", "b3", " a  dog barks "],  # same caption (after whitespace normalisation)
    ])
    gt = read_ground_truth(gt_path)
    assert gt.n_queries == 8
    q = gt.index("a dog barks")
    assert set(gt.relevant_files(q)) == {"a.wav", "b.wav"}
    assert gt.relevant_files(gt.index("a3")) == ("a.wav",)
    assert gt.rows[q] == (2, 3)
    # the multi-positive file with the merged query has the same fingerprint
    multi = write_multi_gt(tmp_path / "m.csv", gt.mapping())
    assert read_ground_truth(multi).fingerprint == gt.fingerprint
    rankings = {query: ["b.wav"] for query in gt.queries}
    r = score_submission(gt, read_submission(write_submission(tmp_path / "s.csv", rankings), gt))
    assert r.ap[q] == pytest.approx(0.5)  # one of two relevant files, at position 1
    # a submission may use the caption text with other whitespace; it is the same query
    rankings2 = {("a dog   barks " if k == "a dog barks" else k): v for k, v in rankings.items()}
    r2 = score_submission(gt, read_submission(write_submission(tmp_path / "s2.csv", rankings2), gt))
    np.testing.assert_array_equal(r2.ap, r.ap)


def test_missing_queries_are_an_error_or_zero_with_allow_missing(tmp_path):
    mapping = {f"q{i}": [f"f{i}.wav"] for i in range(8)}
    gt = read_ground_truth(write_multi_gt(tmp_path / "gt.csv", mapping))
    sub = write_submission(tmp_path / "s.csv", {"q0": ["f0.wav"], "q1": ["f1.wav"]})
    with pytest.raises(InputError) as err:
        read_submission(sub, gt)
    msg = str(err.value)
    assert "6 of 8 ground-truth queries have no row" in msg and "'q2' (ground truth row 4)" in msg
    assert "and 1 more" in msg and "--allow-missing" in msg
    r = score_submission(gt, read_submission(sub, gt, allow_missing=True))
    assert r.summary()["map10"] == pytest.approx(2 / 8) and r.summary()["n_missing"] == 6
    assert "q7,f7.wav,,1,,0.000000,0,0,0" in r.per_query_csv()


# ------------------------------------------------------------------------------------------------- validation
GT_MAP = {"a dog barks": ["a.wav"], "rain falls": ["b.wav", "c.wav"], "a bird sings": ["c.wav"]}
HEADER = ",".join(DCASE_HEADER)
PAD7 = ",,,,,,,"


def _row(caption, *files):
    return ",".join([caption, *files, *[""] * (10 - len(files))])


SUBMISSION_ERRORS = {
    "duplicate query": ([_row("a dog barks", "a.wav"), _row("rain falls", "b.wav"), _row("a dog barks", "b.wav"),
                         _row("a bird sings")], ["row 4: duplicate query 'a dog barks' (first at row 2)"]),
    "caption not in ground truth": ([_row("a dog barks"), _row("rain falls"), _row("a bird sings"),
                                     _row("a cat meows", "a.wav")],
                                    ["row 5: caption 'a cat meows' is not a query of the ground truth"]),
    "file not in evaluation set": ([_row("a dog barks", "a.wav", "x.wav"), _row("rain falls"),
                                    _row("a bird sings")],
                                   ["row 2: file_name_2 'x.wav' is not in the evaluation set"]),
    "file repeated in a row": ([_row("a dog barks"), _row("rain falls", "b.wav", "c.wav", "b.wav"),
                                _row("a bird sings")], ["row 3: file 'b.wav' repeated (file_name_3 and file_name_1)"]),
    "empty cell before a filled one": ([_row("a dog barks", "a.wav", "", "b.wav"), _row("rain falls"),
                                        _row("a bird sings")], ["row 2: file_name_2 is empty but a later column"]),
    "ragged row": ([_row("a dog barks"), "rain falls,b.wav", _row("a bird sings")],
                   ["row 3: expected 11 fields (as in the header), got 2"]),
    "missing query": ([_row("a dog barks"), _row("a bird sings")],
                      ["1 of 3 ground-truth queries have no row: 'rain falls' (ground truth row 3)"]),
}


@pytest.mark.parametrize("case", list(SUBMISSION_ERRORS))
def test_submission_row_errors_name_the_row(tmp_path, case):
    gt = read_ground_truth(write_multi_gt(tmp_path / "gt.csv", GT_MAP))
    rows, expected = SUBMISSION_ERRORS[case]
    path = tmp_path / "sub.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_submission(path, gt)
    for text in expected:
        assert text in str(err.value)
    assert str(err.value).startswith(str(path))


FILE_ERRORS = {
    "wrong header": (b"caption,file_1,file_2\nx,a.wav,b.wav\n", "row 1: wrong header 'caption,file_1,file_2'"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file: it holds NUL bytes"),
    "not utf-8": ((HEADER + "\n" + _row("caf\xe9 noise", "a.wav") + "\n").encode("latin-1"),
                  "not a UTF-8 text file: byte 0xe9 at line 2"),
    "unterminated quote": ((HEADER + "\n" + _row("a dog barks") + '\n"rain falls,b.wav' + PAD7 + "\n").encode(),
                           "row 3: not a parsable CSV file"),
    "empty": (b"\n\n", "empty submission (no header)"),
}


@pytest.mark.parametrize("case", list(FILE_ERRORS))
def test_a_submission_that_is_not_a_dcase_csv_is_refused(tmp_path, case):
    gt = read_ground_truth(write_multi_gt(tmp_path / "gt.csv", GT_MAP))
    data, expected = FILE_ERRORS[case]
    path = tmp_path / "sub.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        read_submission(path, gt)
    assert expected in str(err.value)


def test_all_row_problems_are_reported_together(tmp_path):
    gt = read_ground_truth(write_multi_gt(tmp_path / "gt.csv", GT_MAP))
    rows = [_row("a dog barks", "x.wav"), _row("nope"), _row("rain falls", "a.wav", "a.wav"), _row("a bird sings")]
    path = tmp_path / "s.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_submission(path, gt)
    msg = str(err.value)
    assert "3 problems" in msg and "row 2:" in msg and "row 3:" in msg and "row 4:" in msg


GT_ERRORS = {
    "unknown header": ("file,caption\na.wav,x\n", "row 1: unknown ground-truth header 'file,caption'"),
    "bad list literal": ('query,audio_filenames\nq1,"[\'a.wav\']"\nq2,"[\'a.wav\', "\n',
                         "row 3: audio_filenames \"['a.wav', \" is not a Python list literal"),
    "not a list of names": ("query,audio_filenames\nq1,\"{'a': 1}\"\n", "row 2: audio_filenames must be a list"),
    "empty list": ("query,audio_filenames\nq1,[]\n", "row 2: audio_filenames is an empty list"),
    "repeated file": ("query,audio_filenames\nq1,\"['a.wav', 'a.wav']\"\n", "row 2: file 'a.wav' repeated"),
    "duplicate query": ("query,audio_filenames\nq1,\"['a.wav']\"\nq1,\"['b.wav']\"\n",
                        "row 3: query 'q1' already given at row 2"),
    "clotho duplicate file": ("file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
                              "a.wav,1,2,3,4,5\na.wav,6,7,8,9,10\n", "row 3: file 'a.wav' already listed at row 2"),
    "clotho empty caption": ("file_name,caption_1,caption_2,caption_3,caption_4,caption_5\na.wav,1,2,,4,5\n",
                             "row 2: empty caption_3"),
    "no rows": ("query,audio_filenames\n", "the ground truth has no queries"),
}


@pytest.mark.parametrize("case", list(GT_ERRORS))
def test_ground_truth_errors_name_the_row(tmp_path, case):
    text, expected = GT_ERRORS[case]
    path = tmp_path / "gt.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_ground_truth(path)
    assert expected in str(err.value)


def test_ground_truth_in_latin1_is_read_like_the_clotho_loader(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_bytes("query,audio_filenames\ncafé noise,\"['a.wav']\"\n".encode("latin-1"))
    gt = read_ground_truth(path)
    assert gt.queries == ("café noise",)  # and a UTF-8 submission with "café noise" matches it
    sub = write_submission(tmp_path / "s.csv", {"café noise": ["a.wav"]})
    assert score_submission(gt, read_submission(sub, gt)).summary()["map10"] == 1.0


# ------------------------------------------------------------------------------------------------------- boards
def _result(gt, rankings):
    from benchmarks.leaderboard.formats import Submission

    ranks = tuple(tuple(gt.file_index(f) for f in rankings.get(q, [])) for q in gt.queries)
    return score_submission(gt, Submission(rankings=ranks, rows=tuple(range(2, gt.n_queries + 2)), missing=()))


def test_board_binds_to_its_ground_truth_and_never_overwrites(tmp_path):
    gt = GroundTruth.from_mapping({"q1": ["a.wav"], "q2": ["b.wav"], "q3": ["a.wav", "b.wav"]})
    other = GroundTruth.from_mapping({"q1": ["a.wav"], "q2": ["b.wav"]})
    url = f"sqlite:///{tmp_path / 'b.db'}"
    good = _result(gt, {"q1": ["a.wav"], "q2": ["b.wav"], "q3": ["b.wav", "a.wav"]})
    bad = _result(gt, {"q1": ["b.wav"]})
    with BoardStore(url) as store:
        first = store.submit("dev", gt, bad, team="T", system="S", source="s1.csv")
        with pytest.raises(BoardError) as err:
            store.submit("dev", other, _result(other, {}), team="U", system="S", source="x.csv")
        assert gt.fingerprint in str(err.value) and other.fingerprint in str(err.value)
        with pytest.raises(BoardError, match="already has an entry for team 'T', system 'S'.*--replace"):
            store.submit("dev", gt, good, team="T", system="S", source="s2.csv")
        second = store.submit("dev", gt, good, team="T", system="S", source="s2.csv", replace=True)
        store.submit("dev", gt, bad, team="U", system="S", source="s3.csv")
    with BoardStore(url, create=False) as store:  # reopened: persisted
        active = store.entries("dev")
        assert [(e.team, e.map10) for e in active] == [("T", 1.0), ("U", bad.summary()["map10"])]
        history = store.entries("dev", include_superseded=True)
        old = next(e for e in history if e.id == first.id)
        assert old.status == "superseded" and old.replaced_by == second.id and old.source == "s1.csv"
        # per-query scores are stored in the canonical (sorted-query) order
        assert active[0].ap.tolist() == [1.0, 1.0, 1.0]
        mapping = store.ground_truth_mapping("dev")
        assert [q for q, _ in mapping] == ["q1", "q2", "q3"] and mapping[2][1] == ["a.wav", "b.wav"]
        assert [b.n_entries for b in store.list_boards()] == [2]
        with pytest.raises(BoardError, match="no board named 'nope'.*'dev'"):
            store.get_board("nope")


def test_boards_url_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("LEADERBOARD_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_boards_url() == f"sqlite:///{tmp_path / 'runs/leaderboards/boards.db'}"
    monkeypatch.setenv("LEADERBOARD_DB", "sqlite:///x.db")
    assert resolve_boards_url() == f"sqlite:///{tmp_path / 'x.db'}"
    assert resolve_boards_url("plain/file.db") == f"sqlite:///{tmp_path / 'plain/file.db'}"
    assert resolve_boards_url("postgres://u:pw@h/db").startswith("postgresql")
    with pytest.raises(BoardError, match="unsupported URL 'mysql://u:\\*\\*\\*@h/db'"):
        resolve_boards_url("mysql://u:secret@h/db")
    with pytest.raises(BoardError, match="no boards database"):
        BoardStore(f"sqlite:///{tmp_path / 'absent.db'}", create=False)


def test_standings_rank_test_against_the_leader_with_holm(tmp_path):
    from reports.stats import holm, paired_randomization_test, significance_mark

    rng = np.random.default_rng(0)
    files = [f"f{i}.wav" for i in range(30)]
    gt = GroundTruth.from_mapping({f"q{i:02d}": [files[i % 30]] for i in range(60)})
    with BoardStore(f"sqlite:///{tmp_path / 'b.db'}") as store:
        # hits: the first n queries have their file at position 1, the others not in the top 10
        for name, n_hits in [("weak", 6), ("best", 60), ("close", 58), ("mid", 30)]:
            rankings = {}
            for i, (q, rel) in enumerate(gt.mapping().items()):
                order = [f for f in rng.permutation(files) if f != rel[0]]
                if i < n_hits:
                    order.insert(0, rel[0])
                rankings[q] = order[:10]
            store.submit("b", gt, _result(gt, rankings), team=name, system="sys_1", source=name)
        entries, info = store.entries("b"), store.get_board("b")
    rows = standings(entries, n_resamples=2000, seed=3)
    assert [r.entry.team for r in rows] == ["best", "close", "mid", "weak"] and rows[0].is_leader
    assert [r.rank for r in rows] == [1, 2, 3, 4]
    raw = [paired_randomization_test(rows[0].entry.ap, r.entry.ap, n_resamples=2000, seed=3) for r in rows[1:]]
    np.testing.assert_allclose([r.p for r in rows[1:]], raw)
    np.testing.assert_allclose([r.p_holm for r in rows[1:]], holm(raw))
    assert [r.mark for r in rows[1:]] == [significance_mark(p) for p in holm(raw)]
    assert rows[1].same_as_leader and not rows[3].same_as_leader
    assert rows[3].mark == "**"  # p >= 1/2001 with 2000 resamples, x 3 by Holm

    md = markdown_report(info, rows, n_resamples=2000, seed=3)
    assert "| 1 | best | sys_1 |" in md and "leader" in md and "Holm" in md
    tex = latex_table(info, rows, n_resamples=2000, seed=3)
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and r"sys\_1" in tex
    assert r"\textbf{" in tex and "$^{**}$" in tex
    table = list(csv.DictReader(io.StringIO(csv_table(info, rows))))
    assert [t["team"] for t in table] == ["best", "close", "mid", "weak"] and table[0]["p_holm"] == ""
    assert float(table[3]["p_holm"]) == pytest.approx(rows[3].p_holm)


def test_equal_map_shares_a_rank():
    from benchmarks.leaderboard.board import Entry

    def entry(i, ap):
        ap = np.asarray(ap, dtype=float)
        return Entry(id=i, board="b", team=f"t{i}", system="s", status="active", submitted_at="", superseded_at=None,
                     replaced_by=None, source="", source_sha256=None, map10=float(ap.mean()), r1=0.0, r5=0.0,
                     r10=0.0, n_queries=ap.size, n_missing=0, ap=ap, rank=np.full(ap.size, np.nan))

    rows = standings([entry(1, [1, 0, 0.5]), entry(2, [0, 1, 0.5]), entry(3, [0, 0, 0.1])], n_resamples=100)
    assert [r.rank for r in rows] == [1, 1, 3] and rows[1].p == 1.0


# ------------------------------------------------------------------------------------------------- PostgreSQL
@pytest.mark.slow
def test_boards_on_postgresql(postgres_url):
    gt = GroundTruth.from_mapping({"q1": ["a.wav"], "q2": ["b.wav"]})
    other = GroundTruth.from_mapping({"q1": ["b.wav"], "q2": ["b.wav"]})
    with BoardStore(postgres_url) as store:
        store.submit("pg", gt, _result(gt, {"q1": ["a.wav"]}), team="T", system="S", source="s")
        with pytest.raises(BoardError, match="already has an entry"):
            store.submit("pg", gt, _result(gt, {}), team="T", system="S", source="s")
        store.submit("pg", gt, _result(gt, {"q2": ["b.wav"]}), team="T", system="S", source="s2", replace=True)
        with pytest.raises(BoardError, match=other.fingerprint):
            store.submit("pg", other, _result(other, {}), team="U", system="S", source="s")
    with BoardStore(postgres_url.replace("postgresql://", "postgres://")) as store:
        entries = store.entries("pg", include_superseded=True)
    assert [(e.status, e.ap.tolist()) for e in entries] == [("superseded", [1.0, 0.0]), ("active", [0.0, 1.0])]


def test_exported_top10_with_ties_scores_like_retrieval_metrics(tmp_path):
    """Export order (stable top-10, ties by item order) + leaderboard scoring == retrieval.metrics on the scores."""
    import torch

    from retrieval.submission import stable_top_k, submission_text
    from retrieval.metrics import query_metrics

    rng = np.random.default_rng(5)
    n_q, n_items = 50, 25
    scores = torch.from_numpy(rng.integers(0, 4, size=(n_q, n_items)).astype(np.float32))  # many ties
    relevant = [list(rng.choice(n_items, size=int(rng.integers(1, 4)), replace=False)) for _ in range(n_q)]
    files = [f"f{j:02d}.wav" for j in range(n_items)]
    mapping = {f"q{i}": [files[j] for j in rel] for i, rel in enumerate(relevant)}
    mapping["q_all"] = files  # every file in the evaluation set
    top = stable_top_k(scores, 10).tolist()
    rows = [(f"q{i}", [files[j] for j in idx]) for i, idx in enumerate(top)] + [("q_all", files[:10])]
    sub = tmp_path / "s.csv"
    sub.write_text(submission_text(rows), encoding="utf-8")
    gt = read_ground_truth(write_multi_gt(tmp_path / "gt.csv", mapping))
    result = score_submission(gt, read_submission(sub, gt))
    expected = query_metrics(scores, relevant)
    np.testing.assert_allclose(result.ap[:n_q], expected.ap, atol=1e-12)
    for k in (1, 5, 10):
        np.testing.assert_array_equal(result.recall[k][:n_q], expected.recall[k])
    in_top = expected.rank <= 10
    np.testing.assert_array_equal(result.rank[:n_q][in_top], expected.rank[in_top])
    assert np.isnan(result.rank[:n_q][~in_top]).all()
