"""DCASE 2025: mAP@16 against multi-relevance ground truth (the organisers' ``query,audio_filenames`` layout),
score-matrix submissions (the 2025 baseline's prediction CSV), top-k lists of any length, k as a property of a board.

The reference is a naive, independent implementation of the organisers' definition (their baseline's
``average_precision_at_k`` over 0-based ranks from sorting each row), one query at a time in plain Python.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import numpy as np
import pytest

from benchmarks.leaderboard.board import BoardError, BoardStore
from benchmarks.leaderboard.cli import main as leaderboard
from benchmarks.leaderboard.formats import GroundTruth, InputError, read_eval_files, read_ground_truth
from benchmarks.leaderboard.submissions import read_submission
from benchmarks.leaderboard.scoring import score_submission

K = 16


# ----------------------------------------------------------------------------------------------- fixtures
def organisers_case(seed, n_queries=40, n_named=50, n_other=6, ties=False):
    """A small ground truth in the organisers' exact layout (``query,audio_filenames``, the second column a Python
    list literal, 1-12 files per query, names with spaces, commas and ``&#39;`` as in metadata_eval.csv), plus
    evaluation files relevant to no query, and a score matrix over all files (columns shuffled)."""
    rng = np.random.default_rng(seed)
    named = [f"clip {j:03d}, take d&#39;eau.wav" if j % 7 == 0 else f"Recording_{j:03d}.wav" for j in range(n_named)]
    other = [f"unlabelled {j}.wav" for j in range(n_other)]
    queries = [f"A sound, number {i}: \"quoted\" birds sing" if i % 9 == 0 else f"rain falls on roof {i}"
               for i in range(n_queries)]
    relevant = {q: [named[j] for j in rng.choice(n_named, size=int(rng.integers(1, 13)), replace=False)]
                for q in queries}
    files = named + other
    if ties:
        scores = rng.integers(0, 4, size=(n_queries, len(files))).astype(float)
    else:
        scores = rng.standard_normal((n_queries, len(files)))
    for i, q in enumerate(queries):  # a useful system: relevant files score higher on average
        for f in relevant[q]:
            scores[i, files.index(f)] += (1 if ties else 1.2) * (rng.random() < 0.6)
    cols = list(rng.permutation(len(files)))
    return {"queries": queries, "relevant": relevant, "files": files, "other": other, "scores": scores,
            "cols": [files[c] for c in cols], "matrix": scores[:, cols]}


def write_gt(path, case):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "audio_filenames"])
        for q in case["queries"]:
            w.writerow([q, str(case["relevant"][q])])
    return path


def write_eval_files(path, case):
    path.write_text("\n".join(case["files"]) + "\n", encoding="utf-8")
    return path


def write_matrix(path, case, *, rows=None, header=None, index_name="index"):
    """The 2025 baseline's layout: ``index,<file>,...``, one row per query."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header or [index_name, *case["cols"]])
    for q, row in (rows if rows is not None else zip(case["queries"], case["matrix"])):
        w.writerow([q, *(repr(float(v)) for v in row)])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def stable_order(row):
    """Positions of a row by descending score, ties by column order (pure Python)."""
    return sorted(range(len(row)), key=lambda c: (-row[c], c))


def write_top(path, case, k=K, prefix="fname_"):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["caption", *(f"{prefix}{p}" for p in range(1, k + 1))])
        for q, row in zip(case["queries"], case["matrix"]):
            w.writerow([q, *(case["cols"][c] for c in stable_order(list(row))[:k])])
    return path


def naive(case, k=K, columns=None, matrix=None):
    """The organisers' definition, one query at a time: 0-based ranks of the relevant files from sorting the row
    (ties: column order), AP@k = sum over sorted ranks < k of i / (rank + 1), divided by the number of relevant
    files; R@n: a relevant file ranked < n."""
    columns = columns or case["cols"]
    matrix = case["matrix"] if matrix is None else matrix
    ap, rec, ties = [], {1: [], 5: [], 10: []}, 0
    for q, row in zip(case["queries"], matrix):
        row = [float(v) for v in row]
        position = {columns[c]: r for r, c in enumerate(stable_order(row))}
        ranks = sorted(position[f] for f in case["relevant"][q])
        total = 0.0
        for i, rank in enumerate(ranks, start=1):
            if rank >= k:
                break
            total += i / (rank + 1)
        ap.append(total / len(ranks))
        for n in rec:
            rec[n].append(float(ranks[0] < n))
        rel_cols = [columns.index(f) for f in case["relevant"][q]]
        ties += any(sum(1 for v in row if v == row[c]) > 1 for c in rel_cols)
    return {f"map{k}": sum(ap) / len(ap), **{f"r{n}": sum(v) / len(v) for n, v in rec.items()}}, ap, ties


def load_gt(tmp_path, case):
    gt = read_ground_truth(write_gt(tmp_path / "metadata_eval.csv", case))
    return gt.with_eval_files(read_eval_files(write_eval_files(tmp_path / "eval_files.txt", case)))


# ---------------------------------------------------------------------------------------------- acceptance
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matrix_and_top16_list_score_the_organisers_map16(tmp_path, seed):
    case = organisers_case(seed)
    gt = load_gt(tmp_path, case)
    assert gt.format == "multi" and gt.n_other == len(case["other"])
    matrix = read_submission(write_matrix(tmp_path / "scores.csv", case), gt, k=K)
    top16 = read_submission(write_top(tmp_path / "top16.csv", case), gt, k=K)
    assert matrix.header == "matrix" and top16.header == "dcase2023" and top16.depth == 16
    m = score_submission(gt, matrix, k=K)
    t = score_submission(gt, top16, k=K)
    expected, ap, ties = naive(case)
    assert ties == 0
    sm, st = m.summary(), t.summary()
    assert sm["k"] == st["k"] == 16
    for key, value in expected.items():
        assert sm[key] == pytest.approx(value, abs=1e-12), key
        assert st[key] == pytest.approx(value, abs=1e-12), key
    np.testing.assert_allclose(m.ap, ap, atol=1e-12)
    np.testing.assert_array_equal(m.ap, t.ap)
    # mAP@10 too: the same definition at 10
    assert sm["map10"] == pytest.approx(naive(case, k=10)[0]["map10"], abs=1e-12) == st["map10"]
    assert sm["n_ties"] == 0 and "map16" in sm and sm["n_files"] == len(case["files"])


def test_ties_are_broken_by_column_order_and_counted(tmp_path):
    case = organisers_case(3, ties=True)  # integer scores 0..4: ties everywhere
    gt = load_gt(tmp_path, case)
    result = score_submission(gt, read_submission(write_matrix(tmp_path / "s.csv", case), gt, k=K), k=K)
    expected, ap, ties = naive(case)
    assert ties > 0 and result.n_ties == ties == result.summary()["n_ties"]
    np.testing.assert_allclose(result.ap, ap, atol=1e-12)
    assert result.summary()["map16"] == pytest.approx(expected["map16"], abs=1e-12)
    # the same scores with the columns in reverse order: the rule follows the columns
    rev = dict(case, cols=case["cols"][::-1], matrix=case["matrix"][:, ::-1])
    result_rev = score_submission(gt, read_submission(write_matrix(tmp_path / "r.csv", rev), gt, k=K), k=K)
    np.testing.assert_allclose(result_rev.ap, naive(rev)[1], atol=1e-12)
    assert not np.array_equal(result_rev.ap, result.ap)
    assert "tied" in result.per_query_csv().splitlines()[0]


def test_ap_at_k_counts_only_ranks_up_to_k_and_divides_by_all_relevant(tmp_path):
    files = [f"f{j:02d}.wav" for j in range(20)]
    gt = GroundTruth.from_mapping({"q": ["f00.wav", "f01.wav", "f02.wav"]}, other_files=files)
    # f00 at rank 1, f01 at rank 16, f02 at rank 17
    order = ["f00.wav", *[f for f in files if f not in ("f00.wav", "f01.wav", "f02.wav")][:14], "f01.wav", "f02.wav"]
    order += [f for f in files if f not in order]
    text = "index," + ",".join(order) + "\nq," + ",".join(str(20 - i) for i in range(20)) + "\n"
    r = score_submission(gt, read_submission("s.csv", gt, data=text.encode(), k=K), k=K)
    assert r.ap[0] == pytest.approx((1 / 1 + 2 / 16) / 3)
    assert r.ap10[0] == pytest.approx(1 / 3) and r.rank[0] == 1


def test_a_top16_list_at_k10_scores_like_its_first_ten(tmp_path):
    case = organisers_case(4)
    gt = load_gt(tmp_path, case)
    s16 = score_submission(gt, read_submission(write_top(tmp_path / "t16.csv", case), gt))
    s10 = score_submission(gt, read_submission(write_top(tmp_path / "t10.csv", case, k=10, prefix="file_name_"),
                                               gt))
    assert s16.summary()["map10"] == s10.summary()["map10"] == pytest.approx(naive(case, k=10)[0]["map10"])
    assert s16.k == 10 and "map16" not in s16.summary()


def test_missing_matrix_rows_score_zero_with_allow_missing(tmp_path):
    case = organisers_case(5)
    gt = load_gt(tmp_path, case)
    rows = list(zip(case["queries"], case["matrix"]))[:-3]
    path = write_matrix(tmp_path / "s.csv", case, rows=rows)
    with pytest.raises(InputError, match="3 of 40 ground-truth queries have no row"):
        read_submission(path, gt, k=K)
    r = score_submission(gt, read_submission(path, gt, k=K, allow_missing=True), k=K)
    _, ap, _ = naive(case)
    np.testing.assert_allclose(r.ap[:-3], ap[:-3], atol=1e-12)
    assert r.ap[-3:].tolist() == [0.0, 0.0, 0.0] and r.summary()["n_missing"] == 3
    assert np.isnan(r.rank[-3:]).all()


def test_clotho_single_relevance_ground_truth_works_at_k16(tmp_path):
    header = ["file_name", *(f"caption_{i}" for i in range(1, 6))]
    files = [f"c{j}.wav" for j in range(20)]
    gt_path = tmp_path / "clotho.csv"
    with open(gt_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for f in files:
            w.writerow([f, *(f"{f} caption {i}" for i in range(1, 6))])
    gt = read_ground_truth(gt_path)
    rng = np.random.default_rng(0)
    case = {"queries": list(gt.queries), "relevant": {q: list(gt.relevant_files(i)) for i, q in enumerate(gt.queries)},
            "cols": files, "matrix": rng.standard_normal((gt.n_queries, len(files)))}
    r = score_submission(gt, read_submission(write_matrix(tmp_path / "s.csv", case), gt, k=K), k=K)
    assert r.summary()["map16"] == pytest.approx(naive(case)[0]["map16"], abs=1e-12)


# ------------------------------------------------------------------------------------------------ refusals
def _matrix_text(case, edit):
    lines = [["index", *case["cols"]]] + [[q, *(repr(float(v)) for v in row)]
                                          for q, row in zip(case["queries"], case["matrix"])]
    edit(lines)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(lines)
    return buf.getvalue()


def _set(r, c, v):
    def edit(lines):
        lines[r][c] = v
    return edit


MATRIX_ERRORS = {
    "unknown column": (_set(0, 3, "nope.wav"), "row 1, column 4: 'nope.wav' is not a file of the evaluation set"),
    "duplicate column": (lambda ls: ls[0].__setitem__(5, ls[0][2]), "row 1, column 6: "),
    "missing file column": (lambda ls: [row.pop() for row in ls], "row 1: no column for 1 of the 56 files"),
    "empty file name": (_set(0, 2, ""), "row 1, column 3: empty file name"),
    "duplicate query": (lambda ls: ls.__setitem__(5, [ls[2][0], *ls[5][1:]]),
                        "row 6, column 1: duplicate query 'rain falls on roof 1' (first at row 3)"),
    "unknown query": (_set(4, 0, "a cat meows"), "row 5, column 1: query 'a cat meows' is not a query"),
    "empty query": (_set(4, 0, ""), "row 5, column 1: empty query"),
    "missing query": (lambda ls: ls.pop(7), "1 of 40 ground-truth queries have no row: 'rain falls on roof 6'"),
    "nan score": (_set(3, 7, "nan"), "row 4, column 8 ("),
    "infinite score": (_set(3, 7, "-inf"), "row 4, column 8 ("),
    "empty score": (_set(9, 2, ""), "row 10, column 3 ("),
    "text score": (_set(9, 2, "high"), "row 10, column 3 ("),
    "too many fields": (lambda ls: ls[6].append("0.5"), "row 7: expected 57 fields (as in the header), got 58"),
}


@pytest.mark.parametrize("case_name", list(MATRIX_ERRORS))
def test_matrix_refusals_name_the_row_and_column(tmp_path, case_name):
    case = organisers_case(6)
    gt = load_gt(tmp_path, case)
    edit, expected = MATRIX_ERRORS[case_name]
    path = tmp_path / "s.csv"
    path.write_text(_matrix_text(case, edit), encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_submission(path, gt, k=K)
    assert expected in str(err.value), str(err.value)
    if "score" in case_name:
        assert "is not a finite number" in str(err.value)


def test_the_same_file_in_two_spellings_is_a_duplicate_column(tmp_path):
    case = organisers_case(7)
    gt = load_gt(tmp_path, case)
    name = next(f for f in case["cols"] if "&#39;" in f)
    cols = list(case["cols"])
    cols[cols.index(name) - 1 if cols.index(name) else 1] = name.replace("&#39;", "'")
    path = tmp_path / "s.csv"
    path.write_text(_matrix_text(case, lambda ls: ls.__setitem__(0, ["index", *cols])), encoding="utf-8")
    with pytest.raises(InputError, match="is the same file as column"):
        read_submission(path, gt, k=K)


def test_a_list_shorter_than_k_is_refused_naming_k(tmp_path):
    case = organisers_case(8)
    gt = load_gt(tmp_path, case)
    path = write_top(tmp_path / "t10.csv", case, k=10)
    with pytest.raises(InputError) as err:
        read_submission(path, gt, k=K)
    assert "row 1: the submission ranks 10 files per query (fname_1..fname_10), fewer than k=16" in str(err.value)
    assert "mAP@16 needs a top-16 list" in str(err.value)


def test_eval_files_lists(tmp_path):
    (tmp_path / "a.txt").write_text(" Ambience Birds.wav\nb.wav\n\nc.wav\n", encoding="utf-8")
    assert read_eval_files(tmp_path / "a.txt") == [" Ambience Birds.wav", "b.wav", "c.wav"]
    (tmp_path / "c.csv").write_text("file_name,caption_1\n\"x, y.wav\",a\nz.wav,b\n", encoding="utf-8")
    assert read_eval_files(tmp_path / "c.csv") == ["x, y.wav", "z.wav"]
    (tmp_path / "d.txt").write_text("a.wav\nb.wav\na.wav\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 3: file 'a.wav' already listed at row 1"):
        read_eval_files(tmp_path / "d.txt")
    gt = GroundTruth.from_mapping({"q": ["a.wav", "q.wav"]})
    with pytest.raises(InputError, match="1 file\\(s\\) of the ground truth .* are not in this list.*'q.wav'"):
        gt.with_eval_files(["a.wav", "b.wav"], source="list.txt")
    wide = gt.with_eval_files(["b.wav", "a.wav", "q.wav"])
    assert wide.files == ("a.wav", "q.wav", "b.wav") and wide.other_files == ("b.wav",)
    assert wide.fingerprint != gt.fingerprint  # the evaluation set is part of what a board is bound to
    assert GroundTruth.from_mapping({"q": ["a.wav", "q.wav"]}).fingerprint == gt.fingerprint


# ---------------------------------------------------------------------------------------------- command line
def run(capsys, *argv):
    rc = leaderboard([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def files2025(tmp_path):
    case = organisers_case(9)
    return {"case": case, "gt": write_gt(tmp_path / "metadata_eval.csv", case),
            "eval": write_eval_files(tmp_path / "eval_files.txt", case),
            "matrix": write_matrix(tmp_path / "scores.csv", case), "top16": write_top(tmp_path / "top16.csv", case),
            "top10": write_top(tmp_path / "top10.csv", case, k=10)}


def test_score_json_has_k_and_map_k(tmp_path, capsys, files2025):
    f = files2025
    rc, out, err = run(capsys, "score", "--ground-truth", f["gt"], "--eval-files", f["eval"], "--submission",
                       f["matrix"], "--k", 16, "--json", "--per-query", tmp_path / "pq.csv")
    assert rc == 0, err
    payload = json.loads(out)
    expected = naive(f["case"])[0]
    assert payload["k"] == 16 and payload["header"] == "matrix" and payload["n_ties"] == 0
    for key in ("map16", "r1", "r5", "r10"):
        assert payload[key] == pytest.approx(expected[key], abs=1e-12)
    assert "map10" in payload
    rows = list(csv.DictReader((tmp_path / "pq.csv").open(encoding="utf-8")))
    assert {"ap16", "ap10", "tied"} <= set(rows[0]) and len(rows) == 40
    rc, out, _ = run(capsys, "score", "--ground-truth", f["gt"], "--eval-files", f["eval"], "--submission",
                     f["top16"], "--k", 16)
    assert rc == 0 and f"mAP@16  {expected['map16']:.4f}" in out and "top 16" in out


REFUSALS = {  # argv after the files' names are filled in, the text the one error line must hold
    "list shorter than k": (["score", "--submission", "{top10}", "--k", "16"], "row 1: the submission ranks 10 files "
                            "per query (fname_1..fname_10), fewer than k=16"),
    "k out of range": (["score", "--submission", "{top16}", "--k", "5"], "--k 5: the cut-off of mAP@k must be"),
    "unknown column": (["score", "--submission", "{bad_col}", "--k", "16"], "row 1, column 2: 'x.wav' is not a file"),
    "nan score": (["score", "--submission", "{bad_nan}", "--k", "16"], "row 3, column 4 ("),
    "submit at another k": (["submit", "--board", "b16", "--team", "Z", "--system", "z", "--submission", "{top16}",
                             "--k", "10"], "board 'b16' ranks by mAP@16 (k=16, set when it was created): --k 10"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_cli_refusals_are_one_error_and_exit_2_writing_nothing(tmp_path, capsys, files2025, name):
    f = dict(files2025)
    case = f["case"]
    bad_col = tmp_path / "bad_col.csv"
    bad_col.write_text(_matrix_text(case, _set(0, 1, "x.wav")), encoding="utf-8")
    bad_nan = tmp_path / "bad_nan.csv"
    bad_nan.write_text(_matrix_text(case, _set(2, 3, "NaN")), encoding="utf-8")
    f.update(bad_col=bad_col, bad_nan=bad_nan)
    boards = f"sqlite:///{tmp_path / 'boards.db'}"
    if name == "submit at another k":
        assert run(capsys, "submit", "--board", "b16", "--team", "A", "--system", "a", "--submission", f["matrix"],
                   "--ground-truth", f["gt"], "--eval-files", f["eval"], "--k", 16, "--boards", boards)[0] == 0
    argv, expected = REFUSALS[name]
    argv = [a.format(**{k: v for k, v in f.items() if k != "case"}) for a in argv]
    extra = ["--boards", boards] if argv[0] == "submit" else ["--per-query", tmp_path / "pq.csv"]
    rc, out, err = run(capsys, *argv, "--ground-truth", f["gt"], "--eval-files", f["eval"], *extra)
    assert rc == 2 and out == "" and err.startswith("error: ") and err.count("error:") == 1
    assert expected in err, err
    assert not (tmp_path / "pq.csv").exists()
    if name != "submit at another k":
        assert not (tmp_path / "boards.db").exists()
    else:
        with BoardStore(boards) as store:
            assert [e.team for e in store.entries("b16")] == ["A"]


def test_a_k16_board_ranks_two_2025_entries_with_the_paired_test(tmp_path, capsys, files2025):
    f = files2025
    case = f["case"]
    boards = f"sqlite:///{tmp_path / 'b.db'}"
    common = ["--ground-truth", f["gt"], "--boards", boards]
    assert run(capsys, "submit", "--board", "dcase2025", "--team", "A", "--system", "matrix", "--submission",
               f["matrix"], "--eval-files", f["eval"], "--k", 16, *common)[0] == 0
    # a weaker system as a top-16 list; the board remembers k and its evaluation set
    weak = dict(case, matrix=case["matrix"] + np.random.default_rng(1).standard_normal(case["matrix"].shape) * 2)
    rc, out, err = run(capsys, "submit", "--board", "dcase2025", "--team", "B", "--system", "list", "--submission",
                       write_top(tmp_path / "weak16.csv", weak), "--json", *common)
    assert rc == 0, err
    assert json.loads(out)["k"] == 16 and json.loads(out)["map16"] == pytest.approx(naive(weak)[0]["map16"])
    rc, md, _ = run(capsys, "show", "dcase2025", "--boards", boards, "--resamples", 2000)
    assert rc == 0 and "| mAP@16 | mAP@10 |" in md and "Ranked by mAP@16" in md and "AP@16 against the leader" in md
    with BoardStore(boards) as store:
        info, entries = store.get_board("dcase2025"), store.entries("dcase2025")
    assert info.k == 16 and info.n_other == len(case["other"]) and [e.k for e in entries] == [16, 16]
    from benchmarks.leaderboard.tables import standings
    from reports.stats import paired_randomization_test

    rows = standings(entries, n_resamples=2000, seed=0)
    assert [r.entry.team for r in rows] == ["A", "B"]
    assert rows[1].p == pytest.approx(paired_randomization_test(rows[0].entry.ap, rows[1].entry.ap,
                                                                n_resamples=2000, seed=0))
    assert rows[0].entry.map_k == pytest.approx(naive(case)[0]["map16"])
    rc, text, _ = run(capsys, "show", "dcase2025", "--format", "csv", "--boards", boards, "--resamples", 500)
    table = list(csv.DictReader(io.StringIO(text)))
    assert {"map16", "map10", "delta_map16"} <= set(table[0]) and table[0]["team"] == "A"
    rc, listing, _ = run(capsys, "list", "--boards", boards)
    assert "| dcase2025 | 2 | 40 | 56 |" in listing and listing.rstrip().endswith("| 16 |")
    rc, _, err = run(capsys, "show", "dcase2025", "--k", 10, "--boards", boards)
    assert rc == 2 and "ranks by mAP@16" in err


def test_a_board_from_before_k_reads_as_k10(tmp_path):
    gt = GroundTruth.from_mapping({"q1": ["a.wav"], "q2": ["b.wav", "a.wav"]})
    text = "caption," + ",".join(f"file_name_{i}" for i in range(1, 11)) + "\nq1,a.wav" + "," * 9 + "\nq2,b.wav" \
        + "," * 9 + "\n"
    result = score_submission(gt, read_submission("s.csv", gt, data=text.encode()))
    db = tmp_path / "old.db"
    with BoardStore(f"sqlite:///{db}") as store:
        store.submit("old", gt, result, team="T", system="S", source="s")
    con = sqlite3.connect(db)
    for table, column in (("lb_boards", "k"), ("lb_boards", "other_files"), ("lb_entries", "map_k"),
                          ("lb_entries", "n_ties")):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.commit()
    con.close()
    with BoardStore(f"sqlite:///{db}") as store:
        assert store.get_board("old").k == 10
        (entry,) = store.entries("old")
        assert entry.k == 10 and entry.map_k == entry.map10 == pytest.approx(0.75) and entry.n_ties is None
        with pytest.raises(BoardError, match="ranks by mAP@10"):
            matrix = b"index,a.wav,b.wav\nq1,1,0\nq2,0,1\n"
            store.submit("old", gt, score_submission(gt, read_submission("m.csv", gt, data=matrix, k=16), k=16),
                         team="U", system="S", source="m")


def test_the_scale_benchmark_runs_and_checks_its_scores(tmp_path):
    """``python -m benchmarks leaderboard_scale`` on a small case: JSON + Markdown, both layouts equal the naive
    mAP@16 (the timings and the memory figure are the benchmark's, not asserted here)."""
    from benchmarks.leaderboard_scale import main

    assert main(["--queries", "30", "--files", "40", "--relevant-files", "30", "--repeats", "1", "--out",
                 str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "leaderboard_scale.json").read_text())
    assert payload["checks"]["matrix_equals_naive"] and payload["checks"]["top16_equals_matrix"]
    assert payload["case"]["queries"] == 30 and payload["matrix"]["peak_rss_mb"]["max"] >= 0
    assert "mAP@16" in (tmp_path / "leaderboard_scale.md").read_text()
