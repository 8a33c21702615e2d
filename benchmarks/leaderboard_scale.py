"""Scoring a DCASE 2025-size score matrix: time and peak memory of the leaderboard's matrix reader and scorer.

The case is the 2025 evaluation's shape, synthetic: ``--queries`` (1,037) queries with 1-12 relevant files each
among ``--relevant-files`` (1,006) files, an evaluation set of ``--files`` (1,045; the others given with
``--eval-files``), and a float64 score matrix (queries x files, columns shuffled, Python's shortest round-trip
floats, written as the 2025 baseline's ``predict.py`` writes its frame: ``index,<file>,...``). Each measurement runs
in a fresh process (imports and the ground truth loaded first), ``--repeats`` times:

* ``read_s`` -- :func:`benchmarks.leaderboard.submissions.read_submission` (recognise, validate, parse into float64),
* ``score_s`` -- :func:`benchmarks.leaderboard.scoring.score_submission` at k = 16,
* ``peak_rss_mb`` -- the process's peak resident memory during both, above what it held before (Linux: the peak is
  reset through ``/proc/self/clear_refs`` first; elsewhere ``ru_maxrss``, a lower bound), against the matrix's own
  float64 size (target: at most 3x). pandas and torch are imported before (``imports_rss_mb``, reported apart: it
  is code, the same for any submission), and a 3 x 20 matrix is read and scored first (one-off initialisation of
  torch's kernels and pandas' parser); one extra *cold* run without that warm-up is reported too.

The equivalent top-16 list (derived from the matrix by a stable sort) is scored the same way, and the benchmark
checks that both give the same mAP@16 as a naive per-query implementation of the organisers' definition.
Results: ``benchmarks/results/leaderboard_scale.{json,md}``.

``python -m benchmarks leaderboard_scale [--queries 1037] [--files 1045] [--relevant-files 1006] [--repeats 3]
[--out benchmarks/results]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.errors import UsageError, command_line

from .common import machine, markdown_table, write_results

K = 16
TARGET_RATIO = 3.0


def make_case(folder: Path, n_queries: int, n_files: int, n_relevant_files: int, seed: int = 0) -> dict:
    """Write ``gt.csv`` (query,audio_filenames), ``eval_files.txt``, ``scores.csv`` and ``top16.csv`` into
    ``folder``; returns the naive mAP@16 of the matrix (the organisers' definition, one query at a time)."""
    rng = np.random.default_rng(seed)
    files = [f"eval_{j:04d}.wav" for j in range(n_files)]
    named = files[:n_relevant_files]
    queries = [f"query {i}: a synthetic caption of sound {i}" for i in range(n_queries)]
    relevant = [list(rng.choice(n_relevant_files, size=int(rng.integers(1, 13)), replace=False)) for _ in queries]
    used = sorted({j for r in relevant for j in r})
    missing = [j for j in range(n_relevant_files) if j not in set(used)]
    for i, j in enumerate(missing):  # every named file is relevant somewhere (as in metadata_eval.csv)
        relevant[i % n_queries].append(j) if j not in relevant[i % n_queries] else None
    with open(folder / "gt.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["query", "audio_filenames"])
        for q, rel in zip(queries, relevant):
            w.writerow([q, repr([named[j] for j in rel])])
    (folder / "eval_files.txt").write_text("\n".join(files) + "\n", encoding="utf-8")
    scores = rng.standard_normal((n_queries, n_files))
    for i, rel in enumerate(relevant):
        scores[i, rel] += 1.5 * rng.random(len(rel))
    cols = rng.permutation(n_files)
    with open(folder / "scores.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["index", *(files[j] for j in cols)])
        for q, row in zip(queries, scores[:, cols]):
            w.writerow([q, *map(repr, row.tolist())])
    with open(folder / "top16.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["caption", *(f"fname_{p}" for p in range(1, K + 1))])
        for q, row in zip(queries, scores[:, cols]):
            top = np.argsort(-row, kind="stable")[:K]
            w.writerow([q, *(files[cols[t]] for t in top)])
    # naive reference: ranks by a stable sort of each row (columns in file order), AP@16 as the organisers define it
    aps = []
    for i, rel in enumerate(relevant):
        order = np.argsort(-scores[i, cols], kind="stable")
        pos = {int(cols[t]): p for p, t in enumerate(order)}  # 0-based rank of each file
        ap = 0.0
        for h, r in enumerate(sorted(pos[j] for j in rel), start=1):
            if r >= K:
                break
            ap += h / (r + 1)
        aps.append(ap / len(rel))
    return {"naive_map16": float(np.mean(aps)), "float64_bytes": int(scores.nbytes),
            "csv_bytes": (folder / "scores.csv").stat().st_size}


def _rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _hwm_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _warm_up() -> None:
    from benchmarks.leaderboard.formats import GroundTruth
    from benchmarks.leaderboard.submissions import read_submission
    from benchmarks.leaderboard.scoring import score_submission

    files = [f"w{j}.wav" for j in range(20)]
    gt = GroundTruth.from_mapping({f"q{i}": files[i: i + 2] for i in range(3)}, other_files=files)
    text = "index," + ",".join(files) + "\n" + "".join(
        f"q{i}," + ",".join(repr(float((7 * i + j) % 11)) for j in range(20)) + "\n" for i in range(3))
    score_submission(gt, read_submission("warm-up.csv", gt, data=text.encode(), k=K), k=K)


def measure(folder: Path, submission: str, warm: bool = True) -> dict:
    """One measurement in this process (see the module docstring)."""
    import gc

    t_import = _rss_kb()
    import pandas  # noqa: F401  (the libraries are loaded before the baseline: their code is not the data's memory)
    import torch  # noqa: F401

    from benchmarks.leaderboard.formats import read_eval_files, read_ground_truth
    from benchmarks.leaderboard.submissions import read_submission
    from benchmarks.leaderboard.scoring import score_submission

    gt = read_ground_truth(folder / "gt.csv").with_eval_files(read_eval_files(folder / "eval_files.txt"))
    imports_mb = (_rss_kb() - t_import) / 1024
    if warm:  # one-off initialisation (torch kernels and thread pool, pandas' parser) on a 3 x 20 matrix first
        _warm_up()
    gc.collect()
    method = "clear_refs"
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset the peak resident set size (VmHWM) to the current one
    except OSError:
        method = "ru_maxrss"
    before = _rss_kb()
    t0 = time.perf_counter()
    sub = read_submission(folder / submission, gt, k=K)
    t1 = time.perf_counter()
    result = score_submission(gt, sub, k=K)
    t2 = time.perf_counter()
    peak = _hwm_kb() if method == "clear_refs" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s = result.summary()
    return {"read_s": t1 - t0, "score_s": t2 - t1, "total_s": t2 - t0, "peak_rss_mb": max(0, peak - before) / 1024,
            "peak_method": method, "imports_rss_mb": imports_mb, "map16": s["map16"], "map10": s["map10"], "n_ties": s["n_ties"],
            "header": s["header"], "n_queries": s["n_queries"], "n_files": s["n_files"]}


def _child(folder: Path, submission: str, warm: bool = True) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "leaderboard_scale", "--measure", str(folder),
                           submission, "warm" if warm else "cold"], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    if proc.returncode != 0:
        raise RuntimeError(f"measurement of {submission} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _stats(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs]
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}


def run(n_queries: int, n_files: int, n_relevant_files: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="lb_scale_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        case = make_case(folder, n_queries, n_files, n_relevant_files)
        make_s = time.perf_counter() - t0
        matrix = [_child(folder, "scores.csv") for _ in range(repeats)]
        cold = _child(folder, "scores.csv", warm=False)
        lists = [_child(folder, "top16.csv") for _ in range(repeats)]
    float64_mb = case["float64_bytes"] / 2**20
    peak = _stats(matrix, "peak_rss_mb")
    return {
        "benchmark": "leaderboard_scale", "machine": machine(),
        "case": {"queries": n_queries, "files": n_files, "relevant_files": n_relevant_files, "k": K,
                 "csv_mb": case["csv_bytes"] / 2**20, "float64_mb": float64_mb, "generate_s": make_s},
        "matrix": {"read_s": _stats(matrix, "read_s"), "score_s": _stats(matrix, "score_s"),
                   "total_s": _stats(matrix, "total_s"), "peak_rss_mb": peak,
                   "peak_over_float64": peak["max"] / float64_mb, "peak_method": matrix[0]["peak_method"],
                   "imports_rss_mb": matrix[0]["imports_rss_mb"],
                   "cold": {k: cold[k] for k in ("read_s", "score_s", "total_s", "peak_rss_mb")},
                   "cold_peak_over_float64": cold["peak_rss_mb"] / float64_mb,
                   "map16": matrix[0]["map16"], "map10": matrix[0]["map10"], "n_ties": matrix[0]["n_ties"]},
        "top16": {"read_s": _stats(lists, "read_s"), "score_s": _stats(lists, "score_s"),
                  "total_s": _stats(lists, "total_s"), "peak_rss_mb": _stats(lists, "peak_rss_mb"),
                  "map16": lists[0]["map16"]},
        "naive_map16": case["naive_map16"],
        "checks": {"matrix_equals_naive": abs(matrix[0]["map16"] - case["naive_map16"]) < 1e-12,
                   "top16_equals_matrix": abs(lists[0]["map16"] - matrix[0]["map16"]) < 1e-12,
                   "peak_within_target": peak["max"] / float64_mb <= TARGET_RATIO,
                   "target_ratio": TARGET_RATIO},
        "repeats": repeats,
    }


def markdown(r: dict) -> str:
    c, m, t = r["case"], r["matrix"], r["top16"]
    rows = [["score matrix", f"{m['read_s']['median']:.2f}", f"{m['score_s']['median']:.3f}",
             f"{m['total_s']['median']:.2f}", f"{m['peak_rss_mb']['max']:.1f}", f"{m['peak_over_float64']:.2f}x",
             f"{m['map16']:.6f}"],
            ["equivalent top-16 list", f"{t['read_s']['median']:.2f}", f"{t['score_s']['median']:.3f}",
             f"{t['total_s']['median']:.2f}", f"{t['peak_rss_mb']['max']:.1f}", "",
             f"{t['map16']:.6f}"],
            ["score matrix, cold (1 run)", f"{m['cold']['read_s']:.2f}", f"{m['cold']['score_s']:.3f}",
             f"{m['cold']['total_s']:.2f}", f"{m['cold']['peak_rss_mb']:.1f}", f"{m['cold_peak_over_float64']:.2f}x",
             ""]]
    table = markdown_table(["submission", "read (s)", "score (s)", "total (s)", "peak RSS above start (MB)",
                            "peak / float64 size", "mAP@16"], rows)
    ck = r["checks"]
    mach = r["machine"]
    return (f"# Leaderboard at DCASE 2025 scale (`python -m benchmarks leaderboard_scale`)\n\n"
            f"{c['queries']:,} queries x {c['files']:,} files (score matrix CSV {c['csv_mb']:.1f} MB, float64 "
            f"{c['float64_mb']:.2f} MB), relevant sets of 1-12 among {c['relevant_files']:,} files, k = {c['k']}; "
            f"medians of {r['repeats']} fresh processes (peak: the largest), {mach['cpus']} CPUs, "
            f"{mach['date']}, commit {str(mach['git_commit'])[:10]}.\n\n{table}\n"
            f"Peak memory measured with `{m['peak_method']}`, from after the imports (pandas, torch: "
            f"{m['imports_rss_mb']:.0f} MB of code and libraries, not counted), the ground truth and a warm-up "
            f"(a 3 x 20 matrix read and scored: torch's kernels and thread pool, pandas' parser); the cold row skips "
            f"the warm-up, so its peak also holds that one-off initialisation. Target (warm rows): at most {ck['target_ratio']:.0f}x the "
            f"matrix's float64 size -- {'met' if ck['peak_within_target'] else 'NOT met'}. "
            f"Naive reference mAP@16 {r['naive_map16']:.6f}: matrix "
            f"{'equal' if ck['matrix_equals_naive'] else 'DIFFERENT'}, top-16 list "
            f"{'equal' if ck['top16_equals_matrix'] else 'DIFFERENT'}. Ties: {m['n_ties']} query rows.\n")


@command_line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks leaderboard_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1037)
    parser.add_argument("--files", type=int, default=1045)
    parser.add_argument("--relevant-files", type=int, default=1006)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--measure", nargs=3, metavar=("FOLDER", "SUBMISSION", "WARM"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), args.measure[1], args.measure[2] == "warm")))
        return 0
    if not (1 <= args.relevant_files <= args.files) or args.queries < 1 or args.repeats < 1 or args.files < K:
        raise UsageError(f"need 1 <= --relevant-files <= --files, --files >= {K}, --queries >= 1, --repeats >= 1")
    result = run(args.queries, args.files, args.relevant_files, args.repeats)
    jpath, mpath = write_results(args.out, "leaderboard_scale", result, markdown(result))
    print(markdown(result), end="")
    print(f"wrote {jpath} and {mpath}", file=sys.stderr)
    checks = result["checks"]  # exit 1 on a wrong score; the memory target is reported, not a failure
    return 0 if checks["matrix_equals_naive"] and checks["top16_equals_matrix"] else 1
