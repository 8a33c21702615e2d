"""Score-matrix submissions: the DCASE 2025 baseline's prediction layout (``d25_t6/predict.py`` writes a pandas
frame indexed by the query, one column per retrieval file, named by its base name).

Layout: a CSV whose first column holds the queries (its header cell is free: ``index``, ``query``, ``caption`` or
empty) and whose every other column is one file of the evaluation set, the header cell its name, each cell that
file's score for the row's query (higher = more relevant; any finite float, as Python's ``float`` reads it). A file
is recognised as a score matrix when its header is not a top-k list header and at least one header cell names a
file of the evaluation set.

Ranking. Each row is ranked by descending score. **Ties** are broken by column order: of two files with equal
scores, the one in the column further left ranks first -- exactly the order of a stable sort of the row, the rule of
:mod:`retrieval.metrics` (lower item index first) with the columns as the items. It is deterministic and needs no
extra information; a team that wants another order writes the columns in that order. A query row is counted as
*tied* (``n_ties`` in the output, ``tied`` in the per-query CSV) when one of its relevant files has the same score
as another file of the row, i.e. the rule decided part of a relevant rank.

Checks (every problem is listed, with the 1-based row of the CSV record -- the header is row 1 -- and the 1-based
column, the query column being column 1), nothing is scored when one fails:

* header: an empty file name; a column that is not a file of the evaluation set; two columns for one file (in any
  spelling, see :meth:`~benchmarks.leaderboard.formats.GroundTruth.resolve_file`); a file of the evaluation set
  without a column (all are needed: they are what every query is ranked among);
* rows: a wrong number of fields, an empty query, a query that is not in the ground truth, a query given twice,
  a score that is empty, not a number, NaN or infinite; ground-truth queries without a row (unless
  ``allow_missing``: then they score 0).

Reading is chunked with pandas (``read_csv`` over ``_CHUNK_ROWS`` rows at a time, C parser, no per-cell Python
loop) into one preallocated float64 array in ground-truth query order, so peak memory is about the matrix's own
float64 size plus one chunk (measured by ``python -m benchmarks leaderboard_scale``).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np

from .formats import MAX_LISTED, GroundTruth, InputError, Submission, _short, claim_query, missing_problems

__all__ = ["Peeked", "looks_like_matrix", "peek_header", "read_score_matrix"]

_CHUNK_ROWS = 128
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Peeked:
    """The header record of a submission: its cells (as written, the byte-order mark removed), its row number
    (1-based; leading blank lines are skipped) and the byte offset just after it."""

    cells: tuple[str, ...]
    row: int
    offset: int


def _open(path: str | Path, data: bytes | None) -> BinaryIO:
    return io.BytesIO(data) if data is not None else open(path, "rb")


def peek_header(path: str | Path, data: bytes | None = None) -> Peeked | None:
    """The first non-blank line parsed as a CSV record, or None when it cannot be read that way (the caller then
    reads the file as a top-k list, whose reader reports the problem)."""
    try:
        fh = _open(path, data)
    except OSError:
        return None
    with fh:
        row = 0
        while True:
            raw = fh.readline()
            if not raw:
                return None
            row += 1
            if b"\x00" in raw:
                return None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return None
            if row == 1:
                text = text.lstrip("\ufeff")
            if text.strip():
                break
        try:
            record = next(csv.reader([text.rstrip("\r\n")], strict=True))
        except (csv.Error, StopIteration):
            return None
        return Peeked(cells=tuple(record), row=row, offset=fh.tell())


def looks_like_matrix(cells: Sequence[str], gt: GroundTruth) -> bool:
    """A header with a query column and at least one column named after a file of the evaluation set."""
    return len(cells) >= 2 and any(gt.resolve_file(c)[0] is not None for c in cells[1:] if c.strip())


def _scan_text(path: str | Path, fh: BinaryIO) -> None:
    """Refuse NUL bytes and bytes that are not UTF-8, naming the line, reading ``fh`` in blocks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    while True:
        block = fh.read(_BLOCK)
        if not block:
            break
        nul = block.find(b"\x00")
        if nul >= 0:
            at_line = line + block[:nul].count(b"\n")
            raise InputError(path, f"not a CSV file: it holds NUL bytes (a binary file?) at line {at_line}")
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            at = max(0, min(exc.start, len(block) - 1))
            at_line = line + block[:at].count(b"\n")
            raise InputError(path, f"not a UTF-8 text file: byte 0x{block[at]:02x} at line {at_line} cannot be "
                                   "decoded (save the CSV as UTF-8)") from None
        line += block.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(path, f"not a UTF-8 text file: it ends inside a character at line {line}") from None


def _columns(path: Path, cells: Sequence[str], gt: GroundTruth, header_row: int) -> tuple[np.ndarray, dict]:
    """The ground-truth file index of every file column, and the name counts; raises on any header problem."""
    problems: list[str] = []
    first: dict[int, int] = {}
    counts = {"reduced": 0, "respelled": 0}
    index = np.full(len(cells) - 1, -1, dtype=np.int64)
    for c, name in enumerate(cells[1:], start=2):
        where = f"row {header_row}, column {c}"
        if not name.strip():
            problems.append(f"{where}: empty file name (every column after the first names a file)")
            continue
        j, how = gt.resolve_file(name)
        if j is None:
            problems.append(f"{where}: {_short(name)!r} is not a file of the evaluation set (the files of the "
                            "ground truth, and --eval-files)")
            continue
        if j in first:
            problems.append(f"{where}: {_short(name)!r} is the same file as column {first[j]} "
                            f"({_short(cells[first[j] - 1])!r}): a file has one column")
            continue
        first[j] = c
        index[c - 2] = j
        if how in counts:
            counts[how] += 1
    absent = [gt.files[j] for j in range(len(gt.files)) if j not in first]
    if absent:
        shown = ", ".join(repr(_short(f)) for f in absent[:5]) + (f" and {len(absent) - 5} more"
                                                                    if len(absent) > 5 else "")
        problems.append(f"row {header_row}: no column for {len(absent)} of the {len(gt.files)} files of the "
                        f"evaluation set: {shown} (every file needs a score in every row)")
    if problems:
        raise InputError(path, problems)
    return index, counts


def read_score_matrix(path: str | Path, gt: GroundTruth, peeked: Peeked, *, allow_missing: bool = False,
                      data: bytes | None = None) -> Submission:
    """Read and validate a score matrix against ``gt`` (see the module docstring)."""
    import pandas as pd

    path = Path(path)
    cells = list(peeked.cells)
    try:
        fh = _open(path, data)
    except OSError as exc:
        raise InputError(path, f"cannot read the submission: {exc.strerror or exc}") from None
    with fh:
        _scan_text(path, fh)
        columns, counts = _columns(path, cells, gt, peeked.row)
        n_cols = len(cells) - 1
        scores = np.zeros((gt.n_queries, n_cols), dtype=np.float64)
        at_row: dict[int, int] = {}
        problems: list[str] = []
        bad_cells = 0
        fh.seek(peeked.offset)
        reader = pd.read_csv(fh, header=None, names=list(range(n_cols + 1)), dtype={0: object},
                             keep_default_na=False, skip_blank_lines=False, chunksize=_CHUNK_ROWS, encoding="utf-8",
                             engine="c")
        try:
            for chunk in reader:
                bad_cells += _read_chunk(chunk, peeked.row, gt, cells, scores, at_row, problems, bad_cells)
        except pd.errors.ParserError as exc:
            m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
            if m:
                problems.append(f"row {peeked.row + int(m.group(2))}: expected {int(m.group(1))} fields (as in the "
                                f"header), got {int(m.group(3))}")
            else:
                problems.append(f"not a parsable CSV file after row {peeked.row} ({str(exc).splitlines()[0]})")
        finally:
            reader.close()
    if bad_cells > MAX_LISTED:
        problems.append(f"{bad_cells} scores in all are empty, not numbers or not finite")
    missing = tuple(q for q in range(gt.n_queries) if q not in at_row)
    problems.extend(missing_problems(gt, missing, allow_missing))
    if problems:
        raise InputError(path, problems)
    return Submission(rankings=tuple(() for _ in range(gt.n_queries)),
                      rows=tuple(at_row.get(q) for q in range(gt.n_queries)), missing=missing, source=str(path),
                      header="matrix", n_reduced=counts["reduced"], n_respelled=counts["respelled"], depth=n_cols,
                      scores=scores, columns=columns)


def _read_chunk(chunk, header_row: int, gt: GroundTruth, cells: Sequence[str], scores: np.ndarray,
                at_row: dict[int, int], problems: list[str], bad_so_far: int) -> int:
    """Copy one pandas chunk into ``scores`` (rows in ground-truth order); returns how many bad cells it held."""
    import pandas as pd

    from retrieval.submission import normalise_query

    block = chunk.iloc[:, 1:]
    numeric = all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in block.dtypes)
    if numeric:
        values = block.to_numpy(dtype=np.float64)
        text = None
    else:  # a column with text in this chunk: empty cells, words, a blank line ...
        text = block.astype(str).to_numpy()
        values = block.apply(lambda col: pd.to_numeric(col, errors="coerce")).to_numpy(dtype=np.float64)
    rownos = header_row + 1 + np.asarray(chunk.index, dtype=np.int64)
    queries = chunk.iloc[:, 0].tolist()
    keep_src: list[int] = []
    keep_dst: list[int] = []
    for i, raw in enumerate(queries):  # one step per row (a query lookup), never per cell
        n = int(rownos[i])
        caption = normalise_query(raw) if isinstance(raw, str) else ""
        if not caption:
            if text is not None and all(not str(t).strip() for t in text[i]):
                continue  # a blank line
            problems.append(f"row {n}, column 1: empty query")
            continue
        q = claim_query(gt, caption, n, f"row {n}, column 1", "query", at_row, problems)
        if q is None:
            continue
        keep_src.append(i)
        keep_dst.append(q)
    if not keep_src:
        return 0
    src = np.asarray(keep_src)
    kept = values[src]
    bad = ~np.isfinite(kept)
    n_bad = int(bad.sum())
    if n_bad:
        room = max(0, MAX_LISTED - bad_so_far)
        for r, c in np.argwhere(bad)[:room]:
            shown = text[src[r], c] if text is not None else repr(float(kept[r, c]))
            problems.append(f"row {int(rownos[src[r]])}, column {c + 2} ({_short(cells[c + 1])!r}): score "
                            f"{shown!r} is not a finite number (empty, text, NaN or infinite)")
    scores[np.asarray(keep_dst)] = kept
    return n_bad
