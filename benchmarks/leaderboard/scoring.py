"""Scoring a validated submission with :mod:`retrieval.metrics` (the project's one AP@10 / R@k implementation).

A submission gives each query a ranked list of at most 10 files. It is turned into score rows that
:func:`retrieval.metrics.query_metrics_chunked` ranks exactly as listed:

* columns ``0 .. N-1`` are the evaluation-set files, columns ``N .. N+9`` are 10 *placeholder* items that are never
  relevant;
* the file at position ``p`` (1-based) gets score ``11 - p``; when the list is shorter than 10 (trailing empty
  cells, or a missing query scored 0), positions ``len+1 .. 10`` are taken by placeholders with the same scores;
* every other file scores 0, so it ranks after position 10.

Hence a relevant file listed at position ``p`` has rank ``p`` and a relevant file not listed has a rank > 10, and
AP@10 (``sum over relevant files in the top 10 of hits_so_far / position``, divided by the number of relevant
files), mAP@10 (mean over all ground-truth queries, missing ones included as 0) and R@1/5/10 are those of the
DESIGN contract, computed by the same code as training and the studies. Ranks beyond 10 are not defined by a
submission, so :attr:`ScoreResult.rank` reports them as NaN ("not in the top 10").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from retrieval.evaluate import TOP_K

from .formats import GroundTruth, Submission

__all__ = ["KS", "ScoreResult", "score_submission"]

KS: tuple[int, ...] = (1, 5, 10)
_CHUNK_CELLS = 1 << 22  # score-matrix cells per chunk (float32: 16 MB)


@dataclass(frozen=True)
class ScoreResult:
    """Per-query results in ground-truth query order, plus the summary."""

    ground_truth: GroundTruth
    submission: Submission
    ap: np.ndarray  # AP@10 per query
    rank: np.ndarray  # best rank of a relevant file, NaN when none is in the top 10
    recall: dict[int, np.ndarray]  # k -> 0/1 per query

    @property
    def n_queries(self) -> int:
        return int(self.ap.shape[0])

    def summary(self) -> dict:
        sub = self.submission
        return {"map10": float(self.ap.mean()), **{f"r{k}": float(self.recall[k].mean()) for k in KS},
                "n_queries": self.n_queries, "n_missing": len(sub.missing),
                "n_files": len(self.ground_truth.files), "fingerprint": self.ground_truth.fingerprint,
                "header": sub.header, "n_reduced": int(sub.n_reduced), "n_respelled": int(sub.n_respelled)}

    def per_query_csv(self) -> str:
        """``query,relevant,submission_row,missing,rank,ap10,r1,r5,r10`` (``relevant`` ``;``-joined, ``rank`` empty
        when no relevant file is in the top 10), ground-truth query order."""
        from reports.render import csv_text

        gt, sub = self.ground_truth, self.submission
        missing = set(sub.missing)
        rows = [[gt.queries[q], ";".join(gt.relevant_files(q)), sub.rows[q] or "", int(q in missing),
                 "" if math.isnan(r) else int(r), f"{self.ap[q]:.6f}", *(int(self.recall[k][q]) for k in KS)]
                for q, r in enumerate(self.rank[: self.n_queries])]
        return csv_text(["query", "relevant", "submission_row", "missing", "rank", "ap10", *(f"r{k}" for k in KS)],
                        rows)

    def write_per_query(self, path: str | Path) -> None:
        from retrieval.utils import atomic_write_text

        atomic_write_text(path, self.per_query_csv())


def _score_rows(gt: GroundTruth, sub: Submission, chunk: int) -> Iterator[tuple[int, "torch.Tensor"]]:  # noqa: F821
    import torch

    n = len(gt.files)
    width = n + TOP_K
    position_score = torch.arange(TOP_K, 0, -1, dtype=torch.float32)  # position p (1-based) -> 11 - p
    for start in range(0, gt.n_queries, chunk):
        stop = min(gt.n_queries, start + chunk)
        s = torch.zeros((stop - start, width), dtype=torch.float32)
        for r, q in enumerate(range(start, stop)):
            ranking = sub.rankings[q]
            if ranking:
                s[r, list(ranking)] = position_score[: len(ranking)]
            if len(ranking) < TOP_K:
                s[r, n + len(ranking): width] = position_score[len(ranking):]
        yield start, s


def score_submission(gt: GroundTruth, sub: Submission) -> ScoreResult:
    """AP@10, best rank and R@1/5/10 of every ground-truth query (see the module docstring)."""
    from retrieval.metrics import query_metrics_chunked

    if len(sub.rankings) != gt.n_queries:
        raise ValueError(f"submission has {len(sub.rankings)} rankings for {gt.n_queries} ground-truth queries")
    width = len(gt.files) + TOP_K
    chunk = max(1, _CHUNK_CELLS // width)
    qm = query_metrics_chunked(_score_rows(gt, sub, chunk), [list(r) for r in gt.relevant], width, ks=KS,
                               map_k=TOP_K)
    rank = np.where(qm.rank <= TOP_K, qm.rank, np.nan)
    return ScoreResult(ground_truth=gt, submission=sub, ap=np.array(qm.ap), rank=rank,
                       recall={k: np.array(qm.recall[k]) for k in KS})
