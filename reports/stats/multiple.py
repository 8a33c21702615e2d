"""Multiple comparisons and their marks: Holm-adjusted p-values over a family of tests, and the ``*`` marks
that tables and figures print for them. Used with both families: recipe comparisons (a report table's recipe
rows, ``compare``'s seed-aware pairs) and system comparisons (``compare``'s query-only pairs, the leaderboard).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["holm", "significance_mark"]


def holm(pvalues: Sequence[float]) -> np.ndarray:
    r"""Holm-Bonferroni adjusted p-values, in the original order.

    With the ``m`` non-NaN p-values sorted ascending, ``p_(1) <= ... <= p_(m)``:

        p~_(j) = max_{k <= j} min(1, (m - k + 1) * p_(k)).

    The running maximum makes the adjusted values monotone in the raw ones; ``min(1, .)`` caps
    them at 1.  Rejecting every hypothesis with ``p~ <= alpha`` controls the family-wise error
    rate at ``alpha``.  NaN entries (e.g. undefined tests) are not counted in ``m`` and come back
    as NaN in their positions.

    Raises ``ValueError`` for anything but a flat sequence of numbers (nested lists and 2-D arrays included) and
    for p-values outside [0, 1] (naming the first index).
    """
    try:  # one p-value per element: fromiter refuses nesting (no shape to check afterwards) and takes generators
        p = np.fromiter(pvalues, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"pvalues must be a 1-D sequence of numbers: {exc}") from None
    finite = ~np.isnan(p)
    bad = finite & ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"pvalues must lie in [0, 1]; pvalues[{i}] = {p[i]!r}")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(finite)
    m = idx.size
    if m == 0:
        return out
    order = np.argsort(p[idx], kind="stable")
    ranked = p[idx][order] * np.arange(m, 0, -1)  # (m - k + 1) * p_(k), k = 1 .. m
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked))
    out[idx[order]] = adjusted
    return out


def significance_mark(p: float, levels=((0.001, "***"), (0.01, "**"), (0.05, "*"))) -> str:
    """Table mark for p-value ``p``: the mark of the smallest threshold ``t`` with ``p < t``.

    With the default levels: ``p < 0.001 -> "***"``, ``p < 0.01 -> "**"``, ``p < 0.05 -> "*"``,
    otherwise (and for NaN / ``None``) ``""``.  ``levels`` may be given in any order.
    """
    if p is None:
        return ""
    p = float(p)
    if math.isnan(p):
        return ""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    for threshold, mark in sorted(levels, key=lambda lv: lv[0]):
        if p < threshold:
            return mark
    return ""
