"""The cut-off ``k`` of a board: mAP@k is its ranking metric (DCASE 2022-2024: k = 10; DCASE 2025: k = 16).

R@1, R@5 and R@10 are reported at every k, so k is at least 10 (a top-k list must rank at least 10 files).
"""

from __future__ import annotations

__all__ = ["DEFAULT_K", "MAX_K", "MIN_K", "check_k", "map_key"]

DEFAULT_K = 10
MIN_K = 10
MAX_K = 1000


def check_k(k: int) -> int:
    """``k`` as an int, or a :class:`~retrieval.errors.UsageError` when it is not in ``[MIN_K, MAX_K]``."""
    from retrieval.errors import UsageError

    if isinstance(k, bool) or not isinstance(k, int) or not MIN_K <= k <= MAX_K:
        raise UsageError(f"--k {k!r}: the cut-off of mAP@k must be an integer from {MIN_K} (R@10 needs the top 10) "
                         f"to {MAX_K}")
    return int(k)


def map_key(k: int) -> str:
    """The summary key of mAP@k: ``map10``, ``map16`` ..."""
    return f"map{int(k)}"
