"""Reading a DCASE submission of either layout: a top-k list (parsed by :mod:`.formats`) or a score matrix (read by
:mod:`.matrix`), told apart by the header (see the :mod:`.formats` docstring).

This module sits above both (the matrix reader uses the list reader's ground truth, row checks and errors), so
neither imports the other back.
"""

from __future__ import annotations

from pathlib import Path

from .formats import GroundTruth, Submission, list_header, parse_submission, read_csv_records
from .kcut import DEFAULT_K, check_k

__all__ = ["read_submission"]


def read_submission(path: str | Path, gt: GroundTruth, *, allow_missing: bool = False, data: bytes | None = None,
                    k: int = DEFAULT_K) -> Submission:
    """Read and validate a submission against ``gt``: a top-k list (``L >= k`` columns) or a score matrix (see the
    :mod:`.formats` docstring). ``data``: the file's bytes when they are already in memory (``path`` then only
    names it)."""
    from .matrix import looks_like_matrix, peek_header, read_score_matrix  # pandas, numpy: only when reading

    k = check_k(k)
    peeked = peek_header(path, data)
    if peeked is not None and list_header(peeked.cells) is None and looks_like_matrix(peeked.cells, gt):
        return read_score_matrix(path, gt, peeked, allow_missing=allow_missing, data=data)
    header, rows = read_csv_records(path, what="submission", data=data)
    return parse_submission(header, rows, gt, allow_missing=allow_missing, source=str(path), k=k)
