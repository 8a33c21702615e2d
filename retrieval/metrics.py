"""Retrieval metrics for language-based audio retrieval (DCASE convention).

Every caption is a query; its *relevant set* is the recording(s) it describes. For a query ``q`` with
scores ``s_q`` over ``N`` items and relevant set ``P_q``:

* **Rank** of an item ``j`` (1-based, unique per query)::

      rank_q(j) = 1 + #{i : s_qi > s_qj} + #{i < j : s_qi == s_qj}

  i.e. items are ordered by descending score and ties are broken deterministically by item order: among
  equal scores the item with the LOWER index ranks first. This is exactly the position of ``j`` in a stable
  sort of the items by ``-score``.
* **AP@k**: with the ranks of the relevant items sorted ascending, ``r_1 < r_2 < ... < r_|P|``::

      AP@k = (1 / |P_q|) * sum_{h : r_h <= k} h / r_h

  (``h`` is the number of hits so far at position ``r_h``). With one relevant item this is ``1/rank`` if
  ``rank <= k`` else 0. Note the division is by the number of relevant items, not by ``min(|P_q|, k)``.
* **mAP@k** is the mean of AP@k over *all* queries.
* **R@k** is the fraction of queries with at least one relevant item in the top ``k``
  (``best_rank <= k``).

Queries with no relevant item (empty relevant set) are kept and handled explicitly: their ``rank`` is
``np.inf``, their AP is 0 and their recall is 0 for every ``k``, so they count as failures in mAP and R@k.
``median_rank`` and ``mean_rank`` in :meth:`QueryMetrics.summary` are computed over the queries that *have*
a relevant item only (NaN if there is none), so an empty relevant set never turns them into ``inf``.

The computation never sorts the query x item matrix: each relevant item's rank is obtained with tensor
comparisons against its query row, chunked over queries (and looped over the few relevant items per
query), so peak memory is a few ``chunk_size x N`` boolean tensors. Only the ``Q x R`` matrix of relevant
ranks (``R`` = max relevant-set size) is sorted.

Example::

    >>> m = query_metrics(torch.tensor([[0.1, 0.9, 0.5], [0.3, 0.3, 0.3]]), [[0], [2]])
    >>> m.rank.tolist(), m.ap.round(4).tolist()
    ([3.0, 3.0], [0.3333, 0.3333])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

__all__ = [
    "PADDED_RANK",
    "QueryMetrics",
    "average_precision_at_k",
    "pad_relevant",
    "query_metrics",
    "query_metrics_chunked",
    "relevant_ranks",
]

#: Rank reported by :func:`relevant_ranks` for padded (``-1``) relevant entries: the largest int64, so it
#: sorts after every real rank and is larger than any cut-off ``k``.
PADDED_RANK: int = torch.iinfo(torch.int64).max


@dataclass(frozen=True, eq=False)
class QueryMetrics:
    """Per-query retrieval metrics (numpy arrays of length ``Q``, read-only).

    Attributes:
        rank: 1-based rank of the best-ranked relevant item, as float; ``np.inf`` for a query with no
            relevant item.
        ap: AP@``map_k`` per query (0 for a query with no relevant item).
        recall: ``k ->`` float array of 0/1 per query, 1 iff ``rank <= k``.
        map_k: the cut-off used for ``ap``.
    """

    rank: np.ndarray
    ap: np.ndarray
    recall: dict[int, np.ndarray]
    map_k: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "rank", _readonly(self.rank))
        object.__setattr__(self, "ap", _readonly(self.ap))
        object.__setattr__(self, "recall", {int(k): _readonly(v) for k, v in self.recall.items()})
        n = self.rank.shape[0]
        if self.ap.shape != (n,) or any(v.shape != (n,) for v in self.recall.values()):
            raise ValueError("QueryMetrics: rank, ap and recall arrays must all have shape (Q,)")

    @property
    def n_queries(self) -> int:
        return int(self.rank.shape[0])

    def summary(self) -> dict[str, float]:
        """Aggregate: ``{f"map{map_k}", f"r{k}" for each k, "median_rank", "mean_rank", "n_queries"}``.

        ``map`` and ``r{k}`` are fractions in [0, 1] averaged over all queries (queries without a relevant
        item contribute 0). ``median_rank``/``mean_rank`` are over queries with at least one relevant item
        (NaN if none). All metrics are NaN when there are no queries; ``n_queries`` is ``Q`` (an int).
        """
        q = self.n_queries
        out: dict[str, float] = {f"map{self.map_k}": float(self.ap.mean()) if q else float("nan")}
        for k in sorted(self.recall):
            out[f"r{k}"] = float(self.recall[k].mean()) if q else float("nan")
        finite = self.rank[np.isfinite(self.rank)]
        out["median_rank"] = float(np.median(finite)) if finite.size else float("nan")
        out["mean_rank"] = float(finite.mean()) if finite.size else float("nan")
        out["n_queries"] = q
        return out


def _readonly(arr: np.ndarray) -> np.ndarray:
    out = np.array(arr, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


# --------------------------------------------------------------------------------------------------------
# input handling


def pad_relevant(relevant: Sequence[Sequence[int]]) -> torch.Tensor:
    """Pad per-query relevant item indices into a ``[Q, R]`` long tensor, ``-1`` marking padding.

    ``R = max(1, max_q |relevant[q]|)``. A bare integer is accepted in place of a one-element sequence
    (``[3, 7]`` means query 0 -> item 3, query 1 -> item 7). Raises ``ValueError`` for negative or non-integer
    indices and for an index repeated within one query's set. Upper bounds are checked where ``N`` is known.
    """
    rows: list[list[int]] = []
    for q, rel in enumerate(relevant):
        items = [rel] if _is_int(rel) else list(rel)
        row: list[int] = []
        for j in items:
            if not _is_int(j):
                raise ValueError(f"relevant[{q}]: item index {j!r} is not an integer")
            j = int(j)
            if j < 0:
                raise ValueError(f"relevant[{q}]: item index {j} is negative")
            row.append(j)
        if len(set(row)) != len(row):
            raise ValueError(f"relevant[{q}]: item index repeated in {row}")
        rows.append(row)
    width = max([1, *(len(r) for r in rows)])
    out = torch.full((len(rows), width), -1, dtype=torch.long)
    for q, row in enumerate(rows):
        if row:
            out[q, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _as_relevant_tensor(relevant: Sequence[Sequence[int]] | torch.Tensor | np.ndarray, n_queries: int,
                        n_items: int) -> torch.Tensor:
    """Normalise ``relevant`` to a validated ``[Q, R]`` long tensor (``-1`` = padding)."""
    if isinstance(relevant, np.ndarray) and relevant.dtype != object:
        relevant = torch.from_numpy(relevant)
    if isinstance(relevant, torch.Tensor):
        if relevant.dtype.is_floating_point or relevant.dtype.is_complex or relevant.dtype == torch.bool:
            raise ValueError(f"relevant: expected an integer tensor, got {relevant.dtype}")
        rel = relevant.to(torch.long)
        if rel.dim() == 1:
            rel = rel.unsqueeze(1)
        if rel.dim() != 2:
            raise ValueError(f"relevant: expected a [Q, R] tensor, got shape {tuple(relevant.shape)}")
        if rel.shape[1] == 0:
            rel = torch.full((rel.shape[0], 1), -1, dtype=torch.long, device=rel.device)
        bad = rel < -1
        if bool(bad.any()):
            q = int(bad.any(1).nonzero()[0, 0])
            raise ValueError(f"relevant[{q}]: index below -1 (only -1 is allowed, as padding)")
        if rel.shape[1] > 1:
            srt = rel.sort(dim=1).values
            dup = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
            if bool(dup.any()):
                q = int(dup.any(1).nonzero()[0, 0])
                raise ValueError(f"relevant[{q}]: item index repeated in {rel[q].tolist()}")
    else:
        rel = pad_relevant(relevant)
    if rel.shape[0] != n_queries:
        raise ValueError(f"relevant has {rel.shape[0]} rows but scores have {n_queries} queries")
    over = rel >= n_items
    if bool(over.any()):
        q = int(over.any(1).nonzero()[0, 0])
        raise ValueError(f"relevant[{q}]: item index {int(rel[q].max())} out of range for {n_items} items")
    return rel


def _as_scores(scores: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(scores, np.ndarray):
        scores = torch.from_numpy(scores)
    if not isinstance(scores, torch.Tensor):
        raise ValueError(f"scores: expected a tensor or array, got {type(scores).__name__}")
    if scores.dim() != 2:
        raise ValueError(f"scores: expected a [Q, N] matrix, got shape {tuple(scores.shape)}")
    if scores.dtype.is_complex or scores.dtype == torch.bool:
        raise ValueError(f"scores: expected real scores, got {scores.dtype}")
    return scores


def _check_ks(ks: Iterable[int], map_k: int) -> tuple[tuple[int, ...], int]:
    ks = tuple(ks)
    for k in (*ks, map_k):
        if not _is_int(k) or k < 1:
            raise ValueError(f"cut-offs must be positive integers, got {k!r}")
    return tuple(sorted(set(int(k) for k in ks))), int(map_k)


# --------------------------------------------------------------------------------------------------------
# core


def _relevant_ranks(scores: torch.Tensor, relevant: torch.Tensor, row_offset: int) -> torch.Tensor:
    """:func:`relevant_ranks` without input normalisation; ``row_offset`` names rows in error messages."""
    if scores.is_floating_point():
        nan_rows = torch.isnan(scores).any(dim=1)
        if bool(nan_rows.any()):
            q = int(nan_rows.nonzero()[0, 0]) + row_offset
            raise ValueError(f"scores contain NaN in query row {q}")
    n_q, n_items = scores.shape
    relevant = relevant.to(scores.device)
    ranks = torch.full(relevant.shape, PADDED_RANK, dtype=torch.long, device=scores.device)
    if n_items == 0 or n_q == 0:
        return ranks
    item_index = torch.arange(n_items, device=scores.device)
    for r in range(relevant.shape[1]):  # R is small (relevant-set size): bounded [Q, N] temporaries
        j = relevant[:, r]
        valid = j >= 0
        if not bool(valid.any()):
            continue
        jj = j.clamp(min=0)
        s_j = scores.gather(1, jj.unsqueeze(1))  # [Q, 1]
        higher = (scores > s_j).sum(dim=1)
        tied_before = ((scores == s_j) & (item_index < jj.unsqueeze(1))).sum(dim=1)
        ranks[:, r] = torch.where(valid, 1 + higher + tied_before, ranks[:, r])
    return ranks


def relevant_ranks(scores: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    """Rank of every relevant item in its query's row, without sorting the row.

    Args:
        scores: ``[Q, N]`` scores (higher = more relevant). NaN raises ``ValueError`` naming the row.
        relevant: ``[Q, R]`` integer item indices, ``-1`` = padding (anywhere in the row).

    Returns:
        ``[Q, R]`` long tensor with ``rank[q, r] = 1 + #{i : s_qi > s_qj} + #{i < j : s_qi == s_qj}`` for
        ``j = relevant[q, r]`` (ties: lower index ranks first), and :data:`PADDED_RANK` (the largest int64)
        for padded entries. Memory: O(Q x N) booleans per relevant column; chunk ``Q`` for large matrices
        (see :func:`query_metrics`).
    """
    scores = _as_scores(scores)
    rel = _as_relevant_tensor(relevant, scores.shape[0], scores.shape[1])
    return _relevant_ranks(scores, rel, 0)


def average_precision_at_k(ranks_sorted: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """AP@k from the ascending ranks of the relevant items.

    ``ranks_sorted`` is ``[Q, R]`` (unique ranks sorted ascending per row; padding = :data:`PADDED_RANK`
    or anything ``> k``, at the end), ``n_relevant`` is ``[Q]``. Returns float64 ``[Q]``::

        AP@k = (1 / n_relevant) * sum_{h : r_h <= k} h / r_h        (0 when n_relevant == 0)
    """
    hits = torch.arange(1, ranks_sorted.shape[1] + 1, device=ranks_sorted.device, dtype=torch.float64)
    in_top = ranks_sorted <= k
    safe = torch.where(in_top, ranks_sorted, torch.ones_like(ranks_sorted)).to(torch.float64)
    precision = torch.where(in_top, hits / safe, torch.zeros_like(safe)).sum(dim=1)
    n = n_relevant.to(device=ranks_sorted.device, dtype=torch.float64)
    return torch.where(n > 0, precision / n.clamp(min=1), torch.zeros_like(precision))


def _chunk_metrics(ranks: torch.Tensor, rel: torch.Tensor, map_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Best rank (float64, inf if none) and AP@map_k for one chunk of relevant ranks."""
    ranks_sorted = ranks.sort(dim=1).values  # [c, R] only
    n_rel = (rel >= 0).sum(dim=1)
    best = ranks_sorted[:, 0].to(torch.float64)
    best = torch.where(n_rel > 0, best, torch.full_like(best, float("inf")))
    return best, average_precision_at_k(ranks_sorted, n_rel, map_k)


def query_metrics_chunked(
    score_chunks: Iterable[tuple[int, torch.Tensor]],
    relevant: Sequence[Sequence[int]] | torch.Tensor,
    n_items: int,
    *,
    ks: Iterable[int] = (1, 5, 10),
    map_k: int = 10,
) -> QueryMetrics:
    """Metrics from score rows delivered chunk by chunk (the full ``Q x N`` matrix is never held).

    ``score_chunks`` yields ``(first_query_index, scores[c, n_items])`` in order and contiguously, covering
    queries ``0 .. Q-1`` exactly once, where ``Q = len(relevant)``. Results equal :func:`query_metrics` on the
    concatenated matrix. Raises ``ValueError`` on a gap/overlap, a wrong width, missing rows, NaN scores
    (naming the global query row) or a relevant index outside ``[0, n_items)``.
    """
    ks, map_k = _check_ks(ks, map_k)
    if not _is_int(n_items) or n_items < 0:
        raise ValueError(f"n_items must be a non-negative integer, got {n_items!r}")
    n_queries = relevant.shape[0] if isinstance(relevant, (torch.Tensor, np.ndarray)) else len(relevant)
    rel_all = _as_relevant_tensor(relevant, n_queries, int(n_items))
    best_parts: list[torch.Tensor] = []
    ap_parts: list[torch.Tensor] = []
    expected = 0
    for start, chunk in score_chunks:
        chunk = _as_scores(chunk)
        if int(start) != expected:
            raise ValueError(f"score chunk starts at query {start}, expected {expected} (chunks must be in order)")
        if chunk.shape[1] != n_items:
            raise ValueError(f"score chunk at query {start} has {chunk.shape[1]} columns, expected {n_items}")
        stop = expected + chunk.shape[0]
        if stop > n_queries:
            raise ValueError(f"score chunks cover {stop} queries but relevant has {n_queries}")
        rel = rel_all[expected:stop]
        ranks = _relevant_ranks(chunk, rel, expected)
        best, ap = _chunk_metrics(ranks, rel.to(ranks.device), map_k)
        best_parts.append(best.cpu())
        ap_parts.append(ap.cpu())
        expected = stop
    if expected != n_queries:
        raise ValueError(f"score chunks cover {expected} queries but relevant has {n_queries}")
    best_all = torch.cat(best_parts).numpy() if best_parts else np.zeros(0, dtype=np.float64)
    ap_all = torch.cat(ap_parts).numpy() if ap_parts else np.zeros(0, dtype=np.float64)
    recall = {k: (best_all <= k).astype(np.float64) for k in ks}
    return QueryMetrics(rank=best_all, ap=ap_all, recall=recall, map_k=map_k)


def _iter_chunks(scores: torch.Tensor, chunk_size: int) -> Iterator[tuple[int, torch.Tensor]]:
    for start in range(0, scores.shape[0], chunk_size):
        yield start, scores[start : start + chunk_size]


def query_metrics(
    scores: torch.Tensor | np.ndarray,
    relevant: Sequence[Sequence[int]] | torch.Tensor,
    *,
    ks: Iterable[int] = (1, 5, 10),
    map_k: int = 10,
    chunk_size: int = 1024,
) -> QueryMetrics:
    """Per-query rank, AP@``map_k`` and R@k for a ``[Q, N]`` score matrix (see the module docstring).

    Args:
        scores: ``[Q, N]`` tensor or array, higher = more relevant; NaN raises ``ValueError``.
        relevant: per-query lists of relevant item indices (an int is a one-item list), or a ``[Q, R]``
            integer tensor padded with ``-1`` (a ``[Q]`` tensor means one relevant item per query).
        ks: recall cut-offs (``k > N`` is allowed).
        map_k: AP cut-off.
        chunk_size: queries per chunk; peak memory is a few ``chunk_size x N`` boolean tensors. The result
            does not depend on it.
    """
    if not _is_int(chunk_size) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    scores = _as_scores(scores)
    n_rel = relevant.shape[0] if isinstance(relevant, (torch.Tensor, np.ndarray)) else len(relevant)
    if n_rel != scores.shape[0]:
        raise ValueError(f"relevant has {n_rel} rows but scores have {scores.shape[0]} queries")
    return query_metrics_chunked(_iter_chunks(scores, int(chunk_size)), relevant, scores.shape[1], ks=ks,
                                 map_k=map_k)
