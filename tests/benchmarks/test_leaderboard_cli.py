"""Leaderboard command line: score, submit/show across processes, output formats, and the run export round trip."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.leaderboard.cli import main as leaderboard
from benchmarks.leaderboard.formats import DCASE_HEADER
from reports.render import csv_text

CLOTHO_HEADER = ["file_name", *(f"caption_{i}" for i in range(1, 6))]


def write_csv(path: Path, header, rows) -> Path:
    path.write_text(csv_text(header, rows), encoding="utf-8")
    return path


@pytest.fixture
def clotho(tmp_path):
    """A 3-file Clotho ground truth, a perfect and a worse submission, and an unrelated ground truth."""
    files = ["a.wav", "b.wav", "c.wav"]
    gt = write_csv(tmp_path / "gt.csv", CLOTHO_HEADER,
                   [[f, *(f"{f[0]} caption {i}" for i in range(1, 6))] for f in files])
    queries = [(f"{f[0]} caption {i}", f) for f in files for i in range(1, 6)]
    perfect = write_csv(tmp_path / "perfect.csv", DCASE_HEADER,
                        [[q, f, *[x for x in files if x != f], *[""] * 7] for q, f in queries])
    worse = write_csv(tmp_path / "worse.csv", DCASE_HEADER,
                      [[q, *(files if i % 3 else files[::-1]), *[""] * 7] for i, (q, _) in enumerate(queries)])
    other = write_csv(tmp_path / "other_gt.csv", CLOTHO_HEADER, [["a.wav", *(f"a caption {i}" for i in range(1, 6))]])
    return {"gt": gt, "perfect": perfect, "worse": worse, "other": other, "n": len(queries)}


def run(capsys, *argv):
    rc = leaderboard([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_score_prints_metrics_json_and_per_query(tmp_path, capsys, clotho):
    rc, out, err = run(capsys, "score", "--ground-truth", clotho["gt"], "--submission", clotho["perfect"])
    assert rc == 0 and err == ""
    assert "mAP@10  1.0000" in out and "R@1     1.0000" in out and "clotho: 15 queries, 3 files" in out
    per_query = tmp_path / "pq.csv"
    rc, out, _ = run(capsys, "score", "--ground-truth", clotho["gt"], "--submission", clotho["worse"], "--json",
                     "--per-query", per_query)
    payload = json.loads(out)
    assert rc == 0 and payload["n_queries"] == 15 and payload["n_missing"] == 0 and len(payload["fingerprint"]) == 64
    rows = list(csv.DictReader(per_query.open()))
    assert len(rows) == 15 and set(rows[0]) >= {"query", "relevant", "rank", "ap10", "r1", "r5", "r10"}
    assert payload["map10"] == pytest.approx(sum(float(r["ap10"]) for r in rows) / 15, abs=1e-6)


def test_bad_input_is_an_error_line_and_exit_2(tmp_path, capsys, clotho):
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(DCASE_HEADER) + "\na caption 1,a.wav,a.wav" + "," * 8 + "\n")
    rc, out, err = run(capsys, "score", "--ground-truth", clotho["gt"], "--submission", bad)
    assert rc == 2 and out == "" and err.startswith("error: ") and "row 2: file 'a.wav' repeated" in err
    assert "14 of 15 ground-truth queries have no row" in err
    rc, _, err = run(capsys, "score", "--ground-truth", tmp_path / "absent.csv", "--submission", bad)
    assert rc == 2 and "cannot read the ground truth" in err
    rc, _, err = run(capsys, "show", "x", "--boards", f"sqlite:///{tmp_path / 'none.db'}")
    assert rc == 2 and "no boards database" in err
    # a real process: no traceback for a binary file
    binary = tmp_path / "sub.bin"
    binary.write_bytes(b"PK\x03\x04\x00\x00garbage")
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "leaderboard", "score", "--ground-truth",
                           str(clotho["gt"]), "--submission", str(binary)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and "NUL bytes" in proc.stderr


def test_boards_persist_across_processes_and_show_all_formats(tmp_path, capsys, clotho, monkeypatch):
    monkeypatch.delenv("LEADERBOARD_DB", raising=False)
    boards = f"sqlite:///{tmp_path / 'boards.db'}"
    common = ["--ground-truth", clotho["gt"], "--boards", boards]
    assert run(capsys, "submit", "--board", "dev", "--team", "Alpha", "--system", "perfect",
               "--submission", clotho["perfect"], *common)[0] == 0
    rc, out, _ = run(capsys, "submit", "--board", "dev", "--team", "Beta_&", "--system", "worse",
                     "--submission", clotho["worse"], "--json", *common)
    assert rc == 0 and json.loads(out)["entry_id"] == 2
    # same team + system: refused unless --replace
    rc, _, err = run(capsys, "submit", "--board", "dev", "--team", "Alpha", "--system", "perfect",
                     "--submission", clotho["worse"], *common)
    assert rc == 2 and "already has an entry for team 'Alpha', system 'perfect'" in err and "--replace" in err
    # a submission for another split: refused, naming both fingerprints
    other_sub = write_csv(tmp_path / "o.csv", DCASE_HEADER, [[f"a caption {i}", "a.wav", *[""] * 9]
                                                            for i in range(1, 6)])
    rc, _, err = run(capsys, "submit", "--board", "dev", "--team", "Gamma", "--system", "s", "--submission",
                     other_sub, "--ground-truth", clotho["other"], "--boards", boards)
    from benchmarks.leaderboard.formats import read_ground_truth

    fp_dev, fp_other = read_ground_truth(clotho["gt"]).fingerprint, read_ground_truth(clotho["other"]).fingerprint
    assert rc == 2 and fp_dev in err and fp_other in err and "another split" in err

    out_dir = tmp_path / "tables"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "leaderboard", "show", "dev", "--out", str(out_dir),
                           "--resamples", "500"], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "LEADERBOARD_DB": boards}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    assert md.startswith("# Leaderboard: dev") and "| 1 | Alpha | perfect | 1.0000 |" in md
    assert "| 2 | Beta_& | worse |" in md and "leader" in md
    for ext in ("md", "tex", "csv"):
        assert (out_dir / f"dev.{ext}").stat().st_size > 0
    assert (out_dir / "dev.md").read_text() == md
    assert (out_dir / "dev.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out_dir / "dev.pdf").read_bytes()[:5] == b"%PDF-"

    rc, tex, _ = run(capsys, "show", "dev", "--format", "latex", "--resamples", "500", "--boards", boards)
    assert rc == 0 and r"\begin{tabular}" in tex and r"\toprule" in tex and r"Beta\_\&" in tex
    assert tex == (out_dir / "dev.tex").read_text()
    rc, text, _ = run(capsys, "show", "dev", "--format", "csv", "--resamples", "500", "--boards", boards)
    table = list(csv.DictReader(io.StringIO(text)))
    assert rc == 0 and [(t["rank"], t["team"]) for t in table] == [("1", "Alpha"), ("2", "Beta_&")]
    assert float(table[0]["map10"]) == 1.0 and table[1]["p_holm"] != ""

    # --replace keeps the old entry as superseded
    assert run(capsys, "submit", "--board", "dev", "--team", "Alpha", "--system", "perfect", "--submission",
               clotho["worse"], "--replace", *common)[0] == 0
    rc, hist, _ = run(capsys, "show", "dev", "--history", "--boards", boards)
    assert rc == 0 and "| 1 | Alpha | perfect | superseded | 1.0000 |" in hist and "| 3 |" in hist
    rc, listing, _ = run(capsys, "list", "--boards", boards)
    assert rc == 0 and "| dev | 2 | 15 | 3 |" in listing


# ------------------------------------------------------------------------------------------- run round trip
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, cache_dir):
    """One SynthCaps-tiny run, 1 epoch, 1 thread (~10-20 s), shared by the round-trip tests."""
    from retrieval.config import TrialConfig
    from retrieval.train import fit

    cfg = TrialConfig.load("synthcaps-tiny").with_overrides({
        "data.cache_dir": str(cache_dir), "train.epochs": 1, "train.num_threads": 1, "train.progress": False})
    run_dir = tmp_path_factory.mktemp("lb_run") / "run"
    fit(cfg, run_dir)
    return run_dir


def test_exported_run_scores_exactly_its_own_test_map(trained_run, tmp_path, capsys):
    from retrieval.cli import main as retrieval_cli

    sub, gt = tmp_path / "sub.csv", tmp_path / "gt.csv"
    rc = retrieval_cli(["evaluate", "--run", str(trained_run), "--split", "evaluation", "--submission", str(sub),
                        "--ground-truth", str(gt), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "120 queries (120 captions) x 24 recordings of split 'evaluation'" in out
    rows = list(csv.reader(sub.open()))
    assert tuple(rows[0]) == DCASE_HEADER and len(rows) == 121 and all(len(r) == 11 for r in rows)

    rc, out, err = run(capsys, "score", "--ground-truth", gt, "--submission", sub, "--json")
    assert rc == 0, err
    scored = json.loads(out)
    test = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert scored["map10"] == pytest.approx(test["test_map10"], abs=1e-6)
    for k in (1, 5, 10):
        assert scored[f"r{k}"] == pytest.approx(test[f"test_r{k}"], abs=1e-6)

    # the same through a board, straight from the run directory
    boards = f"sqlite:///{tmp_path / 'b.db'}"
    rc, out, err = run(capsys, "submit", "--board", "synth", "--team", "me", "--system", "tiny", "--run", trained_run,
                       "--ground-truth", gt, "--boards", boards, "--json")
    assert rc == 0, err
    assert json.loads(out)["map10"] == pytest.approx(test["test_map10"], abs=1e-6)


def test_evaluate_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    from retrieval.cli import main as retrieval_cli

    rc = retrieval_cli(["evaluate", "--run", str(tmp_path), "--submission", str(tmp_path / "s.csv")])
    assert rc == 2 and "has no config.yaml" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_exported_score_matrix_and_top16_enter_a_2025_board(trained_run, tmp_path, capsys):
    """--scores writes the 2025 score matrix, --top-k 16 a top-16 list; both score the run's own test mAP@10 and
    the same mAP@16, and submit --run uses the board's k."""
    from retrieval.cli import main as retrieval_cli

    scores, top16, gt = tmp_path / "scores.csv", tmp_path / "top16.csv", tmp_path / "gt.csv"
    assert retrieval_cli(["evaluate", "--run", str(trained_run), "--split", "evaluation", "--submission", str(scores),
                          "--scores", "--ground-truth", str(gt), "--quiet"]) == 0
    assert "submission (score matrix)" in capsys.readouterr().out
    assert retrieval_cli(["evaluate", "--run", str(trained_run), "--split", "evaluation", "--submission", str(top16),
                          "--top-k", "16", "--quiet"]) == 0
    capsys.readouterr()
    header = next(csv.reader(scores.open()))
    assert header[0] == "index" and len(header) == 25  # 24 recordings
    assert next(csv.reader(top16.open())) == ["caption", *(f"fname_{i}" for i in range(1, 17))]
    test = json.loads((trained_run / "metrics.json").read_text())["test"]
    results = {}
    for name, path in (("scores", scores), ("top16", top16)):
        rc, out, err = run(capsys, "score", "--ground-truth", gt, "--submission", path, "--k", 16, "--json")
        assert rc == 0, err
        results[name] = json.loads(out)
        assert results[name]["map10"] == pytest.approx(test["test_map10"], abs=1e-6)
        for k in (1, 5, 10):
            assert results[name][f"r{k}"] == pytest.approx(test[f"test_r{k}"], abs=1e-6)
    assert results["scores"]["header"] == "matrix" and results["top16"]["header"] == "dcase2023"
    assert results["scores"]["map16"] == pytest.approx(results["top16"]["map16"], abs=1e-12)

    boards = f"sqlite:///{tmp_path / 'b.db'}"
    assert run(capsys, "submit", "--board", "d25", "--team", "m", "--system", "scores", "--submission", scores,
               "--ground-truth", gt, "--k", 16, "--boards", boards)[0] == 0
    rc, out, err = run(capsys, "submit", "--board", "d25", "--team", "me", "--system", "tiny", "--run", trained_run,
                       "--ground-truth", gt, "--boards", boards, "--json")
    assert rc == 0, err
    payload = json.loads(out)
    assert payload["k"] == 16 and payload["header"] == "dcase2023" and payload["depth"] == 16
    assert payload["map16"] == pytest.approx(results["scores"]["map16"], abs=1e-12)
    rc = retrieval_cli(["evaluate", "--run", str(trained_run), "--submission", str(tmp_path / "x.csv"), "--scores",
                        "--top-k", "16"])
    assert rc == 2 and "--top-k and --scores" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()
