"""Scoring a validated submission with :mod:`retrieval.metrics` (the project's one AP@k / R@k implementation).

The cut-off ``k`` is the board's (default 10; DCASE 2025: 16). Every query's relevant files get a rank from
:func:`retrieval.metrics.relevant_ranks`, and

* AP@k = ``sum over relevant files ranked <= k of hits_so_far / rank``, divided by the number of relevant files
  (:func:`retrieval.metrics.average_precision_at_k`; the DCASE 2025 organisers' definition), mAP@k its mean over all
  ground-truth queries (missing ones included as 0); AP@10 / mAP@10 the same at 10;
* R@1/5/10: the fraction of queries with a relevant file in the top 1/5/10.

A **score matrix** is ranked as it is (rows in ground-truth query order, columns in the submission's order; ties
broken by column order, see :mod:`.matrix`), chunked over queries, never sorted.

A **top-k list** gives each query a ranked list of at most ``L`` files (``L >= k``, the header's length). It is turned
into score rows that the same code ranks exactly as listed:

* columns ``0 .. N-1`` are the evaluation-set files, columns ``N .. N+L-1`` are ``L`` *placeholder* items that are
  never relevant;
* the file at position ``p`` (1-based) gets score ``L + 1 - p``; when the list is shorter than ``L`` (trailing empty
  cells, or a missing query scored 0), positions ``len+1 .. L`` are taken by placeholders with the same scores;
* every other file scores 0, so it ranks after position ``L``.

Hence a relevant file listed at position ``p`` has rank ``p`` and a relevant file not listed has a rank > ``L``.
:attr:`ScoreResult.rank` reports the best rank of a relevant file when it is at most ``k``, else NaN ("not in the
top k"), for both layouts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .formats import GroundTruth, Submission
from .kcut import DEFAULT_K, check_k, map_key

__all__ = ["KS", "ScoreResult", "score_submission"]

KS: tuple[int, ...] = (1, 5, 10)
_CHUNK_CELLS = 1 << 18  # score-matrix cells per chunk (float64: 2 MB, and a few bool temporaries of 256 KB)


@dataclass(frozen=True)
class ScoreResult:
    """Per-query results in ground-truth query order, plus the summary."""

    ground_truth: GroundTruth
    submission: Submission
    ap: np.ndarray  # AP@k per query
    rank: np.ndarray  # best rank of a relevant file, NaN when none is in the top k
    recall: dict[int, np.ndarray]  # 1/5/10 -> 0/1 per query
    k: int = DEFAULT_K
    ap10: np.ndarray | None = None  # AP@10 per query (= ap when k == 10)
    tied: np.ndarray | None = None  # bool per query: a relevant file's score tied with another file's (matrices)

    @property
    def n_queries(self) -> int:
        return int(self.ap.shape[0])

    @property
    def n_ties(self) -> int:
        return 0 if self.tied is None else int(self.tied.sum())

    @property
    def map_k(self) -> float:
        return float(self.ap.mean())

    def summary(self) -> dict:
        sub = self.submission
        ap10 = self.ap if self.ap10 is None else self.ap10
        out = {"k": self.k, map_key(self.k): self.map_k}
        out["map10"] = float(ap10.mean())
        out.update({f"r{k}": float(self.recall[k].mean()) for k in KS})
        out.update({"n_queries": self.n_queries, "n_missing": len(sub.missing), "n_files": len(self.ground_truth.files),
                    "fingerprint": self.ground_truth.fingerprint, "header": sub.header, "depth": int(sub.depth),
                    "n_ties": self.n_ties, "n_reduced": int(sub.n_reduced), "n_respelled": int(sub.n_respelled)})
        return out

    def per_query_csv(self) -> str:
        """``query,relevant,submission_row,missing,rank,ap{k}[,ap10],r1,r5,r10[,tied]`` (``relevant`` ``;``-joined,
        ``rank`` empty when no relevant file is in the top k; ``ap10`` when k is not 10, ``tied`` for a score
        matrix), ground-truth query order."""
        from reports.render import csv_text

        gt, sub = self.ground_truth, self.submission
        missing = set(sub.missing)
        extra_ap10 = self.k != 10 and self.ap10 is not None
        rows = []
        for q, r in enumerate(self.rank[: self.n_queries]):
            row = [gt.queries[q], ";".join(gt.relevant_files(q)), sub.rows[q] or "", int(q in missing),
                   "" if math.isnan(r) else int(r), f"{self.ap[q]:.6f}"]
            if extra_ap10:
                row.append(f"{self.ap10[q]:.6f}")
            row.extend(int(self.recall[k][q]) for k in KS)
            if sub.is_matrix:
                row.append(int(bool(self.tied[q])))
            rows.append(row)
        header = ["query", "relevant", "submission_row", "missing", "rank", f"ap{self.k}",
                  *(["ap10"] if extra_ap10 else []), *(f"r{k}" for k in KS), *(["tied"] if sub.is_matrix else [])]
        return csv_text(header, rows)

    def write_per_query(self, path: str | Path) -> None:
        from retrieval.utils import atomic_write_text

        atomic_write_text(path, self.per_query_csv())


def _list_rows(gt: GroundTruth, sub: Submission, chunk: int) -> Iterator[tuple[int, "torch.Tensor"]]:  # noqa: F821
    import torch

    n = len(gt.files)
    depth = int(sub.depth)
    width = n + depth
    position_score = torch.arange(depth, 0, -1, dtype=torch.float32)  # position p (1-based) -> L + 1 - p
    for start in range(0, gt.n_queries, chunk):
        stop = min(gt.n_queries, start + chunk)
        s = torch.zeros((stop - start, width), dtype=torch.float32)
        for r, q in enumerate(range(start, stop)):
            ranking = sub.rankings[q][:depth]
            if ranking:
                s[r, list(ranking)] = position_score[: len(ranking)]
            if len(ranking) < depth:
                s[r, n + len(ranking): width] = position_score[len(ranking):]
        yield start, s


def _matrix_rows(sub: Submission, chunk: int) -> Iterator[tuple[int, "torch.Tensor"]]:  # noqa: F821
    import torch

    scores = sub.scores
    for start in range(0, scores.shape[0], chunk):
        yield start, torch.from_numpy(scores[start: start + chunk])  # a view: no copy


def _relevant_columns(gt: GroundTruth, sub: Submission) -> list[list[int]]:
    """Per query, the relevant files as columns of the rows that are ranked."""
    if not sub.is_matrix:
        return [list(r) for r in gt.relevant]
    position = np.full(len(gt.files), -1, dtype=np.int64)
    position[np.asarray(sub.columns, dtype=np.int64)] = np.arange(len(sub.columns))
    return [[int(position[j]) for j in r] for r in gt.relevant]


def score_submission(gt: GroundTruth, sub: Submission, *, k: int = DEFAULT_K) -> ScoreResult:
    """AP@k, AP@10, best rank and R@1/5/10 of every ground-truth query (see the module docstring).

    Runs torch on one thread (restored afterwards): the work is a few hundred small comparisons, which a thread pool
    only slows down -- badly so on a busy machine (measured: 1 ms against 29 ms per chunk with 2 threads on 2 busy
    cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _score(gt, sub, k)
    finally:
        torch.set_num_threads(threads)


def _score(gt: GroundTruth, sub: Submission, k: int) -> ScoreResult:
    import torch

    from retrieval.metrics import average_precision_at_k, pad_relevant, relevant_ranks

    k = check_k(k)
    if len(sub.rows) != gt.n_queries:
        raise ValueError(f"submission has {len(sub.rows)} rows for {gt.n_queries} ground-truth queries")
    if not sub.is_matrix and sub.depth < k:
        raise ValueError(f"a top-{sub.depth} list cannot be scored at k={k}")
    width = sub.scores.shape[1] if sub.is_matrix else len(gt.files) + int(sub.depth)
    chunk = max(1, _CHUNK_CELLS // max(1, width))
    relevant = pad_relevant(_relevant_columns(gt, sub))
    rows = _matrix_rows(sub, chunk) if sub.is_matrix else _list_rows(gt, sub, chunk)
    best, ap_k, ap_10, tied = [], [], [], []
    for start, s in rows:
        rel = relevant[start: start + s.shape[0]]
        ranks = relevant_ranks(s, rel)
        ranks_sorted = ranks.sort(dim=1).values
        n_rel = (rel >= 0).sum(dim=1)
        best.append(torch.where(n_rel > 0, ranks_sorted[:, 0].to(torch.float64),
                                torch.full((s.shape[0],), float("inf"), dtype=torch.float64)))
        ap_k.append(average_precision_at_k(ranks_sorted, n_rel, k))
        ap_10.append(average_precision_at_k(ranks_sorted, n_rel, 10))
        if sub.is_matrix:
            t = torch.zeros(s.shape[0], dtype=torch.bool)
            for r in range(rel.shape[1]):
                j = rel[:, r]
                s_j = s.gather(1, j.clamp(min=0).unsqueeze(1))
                t |= ((s == s_j).sum(dim=1) > 1) & (j >= 0)
            tied.append(t)
    rank_all = torch.cat(best).numpy() if best else np.zeros(0)
    ap = torch.cat(ap_k).numpy().copy() if ap_k else np.zeros(0)
    ap10 = torch.cat(ap_10).numpy().copy() if ap_10 else np.zeros(0)
    tied_all = torch.cat(tied).numpy().copy() if tied else None
    if sub.missing:  # only a matrix has rows for missing queries (zeros): they score 0
        m = np.asarray(sub.missing, dtype=np.int64)
        ap[m], ap10[m], rank_all[m] = 0.0, 0.0, np.inf
        if tied_all is not None:
            tied_all[m] = False
    recall = {kk: (rank_all <= kk).astype(np.float64) for kk in KS}
    rank = np.where(rank_all <= k, rank_all, np.nan)
    return ScoreResult(ground_truth=gt, submission=sub, ap=ap, rank=rank, recall=recall, k=k,
                       ap10=ap10, tied=tied_all)
