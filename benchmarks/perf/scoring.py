"""Scoring throughput: the project's chunked scorer against a naive per-query full sort.

Both methods start from the same L2-normalised random embeddings (fixed seed) with *planted* relevant items (each
query is a noisy copy of its relevant item's embedding, so ranks and AP@10 are non-trivial) and compute the same
per-query best rank and AP@10:

- **project**: :func:`retrieval.metrics.query_metrics_chunked` fed by a generator of ``[chunk, N]`` score blocks
  (``queries @ items.T`` per chunk, as ``retrieval.evaluation.evaluate_split`` does): the relevant items' ranks come from
  comparisons against their row, no row is ever sorted and the full ``Q x N`` matrix is never held;
- **naive**: the textbook reference: ``argsort`` every row of the score matrix (stable, descending), read off the
  positions of the relevant items, then rank / AP@k / R@k (:func:`naive_query_metrics`).

Every measurement runs in a fresh subprocess (``python -m benchmarks.perf.scoring --worker JSON``) so its peak
resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which also sees torch's allocations) belongs to that
measurement alone; the worker also reports the resident memory just before scoring (interpreter, torch and the
embeddings), so ``peak - before`` is the scoring's own working memory. Workers run with glibc's mmap threshold
pinned (``MALLOC_MMAP_THRESHOLD_=131072``): with the default *dynamic* threshold, freed multi-MB score blocks are
kept in the heap and the resident size creeps up with every chunk (fragmentation, not live memory). Per-query
results are written to an ``.npz`` and compared by the parent: ranks and AP must be identical.

At 100,000 x 100,000 the naive method would need the full 40 GB float32 matrix; it is timed on a sample of query
rows scored against the full 100,000-item width, and the project's scorer on those same rows is checked to give
identical results, besides timing the project's scorer on all (or, with ``--quick``, fewer) query rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

DIM = 128
CLOTHO = {"queries": 5225, "items": 1045}  # ClothoV2 evaluation: 1,045 recordings x 5 captions
LARGE = {"queries": 100_000, "items": 100_000}
MMAP_THRESHOLD = 131072  # glibc's default initial mmap threshold, pinned (MALLOC_MMAP_THRESHOLD_) in the workers


# --------------------------------------------------------------------------------------------- the reference
def naive_query_metrics(scores: np.ndarray, relevant: Sequence[Sequence[int]], *, ks: Sequence[int] = (1, 5, 10),
                        map_k: int = 10) -> dict[str, np.ndarray]:
    """The obviously-right reference: sort each row completely.

    For each query row, ``order = argsort(-scores[q], kind="stable")`` lists the items by descending score, ties by
    ascending item index (the DCASE/:mod:`retrieval.metrics` convention); the rank of item ``j`` is its position in
    ``order`` plus one. With the relevant items' ranks sorted ascending ``r_1 < ... < r_P``::

        AP@k = (1 / P) * sum_{h : r_h <= k} h / r_h,      best rank = r_1,      R@k = [r_1 <= k]

    (AP 0, rank ``inf`` and R@k 0 for a query with no relevant item). Returns ``{"rank", "ap", "r{k}"...}`` arrays.
    """
    n_q = scores.shape[0]
    rank = np.full(n_q, np.inf)
    ap = np.zeros(n_q)
    for q in range(n_q):
        rel = list(relevant[q])
        if not rel:
            continue
        order = np.argsort(-scores[q], kind="stable")
        position = np.empty(order.shape[0], dtype=np.int64)
        position[order] = np.arange(1, order.shape[0] + 1)
        ranks = np.sort(position[rel])
        rank[q] = float(ranks[0])
        total = 0.0
        for h, r in enumerate(ranks, start=1):
            if r <= map_k:
                total += h / float(r)
        ap[q] = total / len(rel)
    out = {"rank": rank, "ap": ap}
    out.update({f"r{k}": (rank <= k).astype(np.float64) for k in ks})
    return out


# --------------------------------------------------------------------------------------------- the data
def planted_embeddings(n_queries: int, n_items: int, *, dim: int = DIM, seed: int = 0, noise: float = 3.5,
                       captions_per_item: int | None = None, block: int = 8192) -> tuple[np.ndarray, np.ndarray,
                                                                                          np.ndarray]:
    """Random L2-normalised item and query embeddings (float32) with one planted relevant item per query.

    Query ``q``'s relevant item is ``q // captions_per_item`` (Clotho: 5 captions per recording) or, by default,
    ``q % n_items``; the query is that item's embedding plus Gaussian noise of norm about ``noise`` (re-normalised),
    so its relevant item ranks near, but not always at, the top. Generated block by block to keep memory low.
    Returns ``(queries [Q, dim], items [N, dim], relevant [Q])``.
    """
    rng = np.random.default_rng(seed)
    items = np.empty((n_items, dim), dtype=np.float32)
    for s in range(0, n_items, block):
        x = rng.standard_normal((min(block, n_items - s), dim), dtype=np.float32)
        items[s:s + x.shape[0]] = x / np.linalg.norm(x, axis=1, keepdims=True)
    q_index = np.arange(n_queries)
    relevant = (q_index // captions_per_item) % n_items if captions_per_item else q_index % n_items
    queries = np.empty((n_queries, dim), dtype=np.float32)
    for s in range(0, n_queries, block):
        rel = relevant[s:s + block]
        x = items[rel] + rng.standard_normal((rel.shape[0], dim), dtype=np.float32) * np.float32(noise / np.sqrt(dim))
        queries[s:s + x.shape[0]] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return queries, items, relevant.astype(np.int64)


def score_blocks(queries: np.ndarray, items: np.ndarray,
                 chunk: int) -> Iterator[tuple[int, "torch.Tensor"]]:  # noqa: F821
    """``(first_query, queries[s:s+chunk] @ items.T)`` as float32 torch tensors: the evaluation's score chunks."""
    import torch

    it = torch.from_numpy(items)
    for s in range(0, queries.shape[0], chunk):
        yield s, torch.from_numpy(queries[s:s + chunk]) @ it.T


# --------------------------------------------------------------------------------------------- one measurement
def _rss_mb() -> float:
    """Current resident memory of this process (MB), from /proc (0 where it is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def measure(method: str, n_queries: int, n_items: int, *, rows: int | None = None, chunk: int = 256,
            seed: int = 0, captions_per_item: int | None = None, out: str | None = None) -> dict[str, Any]:
    """One timed scoring run in *this* process (call it through :func:`run_isolated` for a clean peak memory).

    ``method``: ``project`` (chunked) or ``naive`` (full sort per row). ``rows`` limits the scored query rows to the
    first ``rows`` (each still scored against all ``n_items``). Writes per-query ``rank``/``ap`` to ``out`` (.npz).
    """
    import resource

    import torch

    torch.set_num_threads(1)
    queries, items, relevant = planted_embeddings(n_queries if rows is None else rows, n_items, seed=seed,
                                                  captions_per_item=captions_per_item)
    rel = relevant.reshape(-1, 1)
    before = _rss_mb()
    t0 = time.perf_counter()
    if method == "project":
        from retrieval.metrics import query_metrics_chunked

        qm = query_metrics_chunked(score_blocks(queries, items, chunk), torch.from_numpy(rel), n_items)
        rank, ap = np.asarray(qm.rank), np.asarray(qm.ap)
    elif method == "naive":
        # the naive method holds the whole matrix it sorts (at 100k items only possible for a row sample); it is
        # computed by the same blocked matmul as the project's chunks, so both rank bit-identical scores
        scores = np.concatenate([b.numpy() for _, b in score_blocks(queries, items, chunk)])
        m = naive_query_metrics(scores, rel.tolist())
        rank, ap = m["rank"], m["ap"]
    else:
        raise ValueError(f"method: expected project or naive, got {method!r}")
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KB on Linux
    if out:
        np.savez(out, rank=rank, ap=ap)
    return {"method": method, "queries": int(queries.shape[0]), "items": int(n_items), "seconds": seconds,
            "queries_per_s": queries.shape[0] / seconds, "peak_rss_mb": peak, "rss_before_mb": before,
            "scoring_mb": max(0.0, peak - before), "map10": float(ap.mean()), "chunk": chunk if method == "project"
            else None}


def run_isolated(method: str, n_queries: int, n_items: int, **kwargs: Any) -> tuple[dict[str, Any], dict]:
    """:func:`measure` in a fresh subprocess (1 BLAS/torch thread); returns its result and its per-query arrays."""
    with tempfile.TemporaryDirectory(prefix="perf-scoring-") as tmp:
        out = str(Path(tmp) / "result.npz")
        args = {"method": method, "n_queries": n_queries, "n_items": n_items, "out": out, **kwargs}
        # a fixed glibc mmap threshold: with the default dynamic one, freed score blocks stay in the heap and the
        # RSS grows with the number of chunks (allocator fragmentation, not live memory; see docs/perf.md)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
        root = Path(__file__).resolve().parents[2]
        env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])
        proc = subprocess.run([sys.executable, "-m", "benchmarks.perf.scoring", "--worker", json.dumps(args)],
                              capture_output=True, text=True, env=env, cwd=root)
        if proc.returncode != 0:
            raise RuntimeError(f"scoring worker ({method}, {n_queries}x{n_items}) failed: "
                               f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        with np.load(out) as z:
            arrays = {"rank": z["rank"], "ap": z["ap"]}
    return result, arrays


def _identical(a: dict, b: dict) -> dict[str, Any]:
    same_rank = bool(np.array_equal(a["rank"], b["rank"]))
    same_ap = bool(np.array_equal(a["ap"], b["ap"]))
    return {"identical": same_rank and same_ap, "rank_equal": same_rank, "ap_equal": same_ap,
            "max_abs_ap_diff": float(np.max(np.abs(a["ap"] - b["ap"]))) if a["ap"].size else 0.0,
            "compared_queries": int(a["rank"].shape[0])}


# --------------------------------------------------------------------------------------------- the benchmark
def run(quick: bool = False, *, large_rows: int | None = None, naive_rows: int | None = None,
        log=print) -> dict[str, Any]:
    """Both scales, side by side. ``quick``: 10,000 of the 100,000 query rows for the project's scorer at the large
    scale and 200 sampled rows for the naive one (full: all 100,000 rows and 1,000 naive rows); the 100,000-item
    width is kept either way."""
    large_rows = large_rows or (10_000 if quick else LARGE["queries"])
    naive_rows = naive_rows or (200 if quick else 1000)
    out: dict[str, Any] = {}

    # ---- Clotho evaluation scale: the whole matrix for both
    q, n = CLOTHO["queries"], CLOTHO["items"]
    log(f"  scoring {q} x {n} (Clotho evaluation): project ...")
    proj, proj_arr = run_isolated("project", q, n, captions_per_item=5)
    log(f"  scoring {q} x {n}: naive full sort ...")
    naive, naive_arr = run_isolated("naive", q, n, captions_per_item=5)
    check = _identical(proj_arr, naive_arr)
    out["clotho"] = {"queries": q, "items": n, "dim": DIM, "project": proj, "naive": naive,
                     "speedup": naive["seconds"] / proj["seconds"], "check": check}

    # ---- 100k x 100k: the project's scorer on large_rows rows (chunks of 256 x 100k), the naive one on a sample
    q, n = LARGE["queries"], LARGE["items"]
    log(f"  scoring {large_rows} x {n} in chunks: project ...")
    proj, _ = run_isolated("project", q, n, rows=large_rows)
    log(f"  scoring {naive_rows} sampled rows x {n}: naive full sort, and project on the same rows ...")
    naive, naive_arr = run_isolated("naive", q, n, rows=naive_rows)
    proj_sample, proj_sample_arr = run_isolated("project", q, n, rows=naive_rows)
    check = _identical(proj_sample_arr, naive_arr)
    full_matrix_gb = q * n * 4 / 1e9
    out["large"] = {"queries": q, "items": n, "dim": DIM, "project_rows": large_rows, "naive_rows": naive_rows,
                    "project": proj, "naive": naive, "project_on_naive_rows": proj_sample,
                    "speedup_per_query": proj["queries_per_s"] / naive["queries_per_s"], "check": check,
                    "full_matrix_float32_gb": full_matrix_gb,
                    "naive_full_matrix_note": f"The naive method needs the whole {full_matrix_gb:.0f} GB float32 "
                                              "matrix (more than this machine's memory); timed on a row sample"}
    return out


def markdown_rows(res: dict[str, Any]) -> list[list[Any]]:
    """Rows ``[scale, method, queries scored, queries/s, peak RSS MB, scoring MB, identical]`` for the report."""
    rows = []
    c, lg = res["clotho"], res["large"]
    for name, m in (("project (chunked)", c["project"]), ("naive (full sort)", c["naive"])):
        rows.append([f"{c['queries']} x {c['items']}", name, m["queries"], m["queries_per_s"], m["peak_rss_mb"],
                     m["scoring_mb"], "yes" if c["check"]["identical"] else "NO"])
    for name, m in (("project (chunked)", lg["project"]), ("naive (full sort, row sample)", lg["naive"]),
                    ("project on the naive rows", lg["project_on_naive_rows"])):
        rows.append([f"{lg['queries']:,} x {lg['items']:,}", name, m["queries"], m["queries_per_s"],
                     m["peak_rss_mb"], m["scoring_mb"], "yes" if lg["check"]["identical"] else "NO"])
    return rows


def _worker(argv: list[str]) -> int:
    args = json.loads(argv[1])
    result = measure(**args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--worker":
        sys.exit(_worker(sys.argv[1:]))
    print("usage: python -m benchmarks.perf.scoring --worker JSON  (used by python -m benchmarks perf)")
    sys.exit(2)
