"""Reading and validating ground truth and DCASE submissions (no torch here: it stays cheap to import).

Row numbers in messages are 1-based CSV records with the header as row 1 (they equal line numbers unless a quoted
field spans several lines). Blank lines are skipped but keep the numbering aligned.

Ground truth (:func:`read_ground_truth`), detected from the header:

* **Clotho captions** ``file_name,caption_1,...,caption_5``: every caption is a query whose relevant set is the file
  of its row. The same caption text on several rows (for different files) is ONE query whose relevant set is all
  those files -- what the multi-positive format states explicitly; the same caption twice for one file is one
  query with that one file. (A submission has one row per query, so the repeats could not be told apart anyway.)
* **Multi-positive** ``query,audio_filenames``: the second column a Python list literal of file names, e.g.
  ``"['a.wav', 'b.wav']"`` (read with :func:`ast.literal_eval`). A query on two rows is an error (list all its files
  in one row), as is an empty list or a file repeated in a list.

Queries are compared after :func:`retrieval.submission.normalise_query` (whitespace collapsed; case kept); a
submission caption that matches no query that way is compared once more with HTML entities unescaped on both sides
(the released Clotho captions hold ``&#39;``, a run's submission the unescaped text). File names in the ground
truth are kept exactly as written -- a leading space is part of a released Clotho name (`` Ambience Birds.wav``) --
and stored so in the board's mapping and fingerprint. The *evaluation set* is the set of files named in the ground
truth.

The *evaluation set* can be widened with :meth:`GroundTruth.with_eval_files` (``--eval-files``): files that no query is
relevant for but that compete in every ranking (DCASE 2025: ``metadata_eval.csv`` names 1,006 of the 1,045 Clotho
evaluation files). They are part of the fingerprint (only when present, so a ground truth without them keeps its
fingerprint).

Submission (:func:`benchmarks.leaderboard.submissions.read_submission`), one of two layouts, told apart by the
header:

* a **top-k list**: header ``caption,file_name_1,...,file_name_L`` (DCASE 2022) or ``caption,fname_1,...,fname_L``
  (DCASE 2023-2025), ``L >= k`` (the board's cut-off ``k``, default 10; a list shorter than ``k`` is refused, naming
  ``k``), one row per query, every row with ``L + 1`` fields. Cells may be left empty only at the end of a row (a
  ranking shorter than ``L``, e.g. when the evaluation set is smaller; the missing positions are misses); an empty
  cell before a filled one is an error.
* a **score matrix** (the DCASE 2025 baseline's ``predict.py`` output): the first column holds the queries (any
  header cell, e.g. ``index``), every other column is one evaluation file (the header cell its name) and holds that
  file's score for each query (higher = more relevant). Read by :mod:`.matrix` (pandas, chunked, no per-cell Python
  loop); ranking, ties and the checks are described there.

A top-k list is parsed here (:func:`parse_submission`), a score matrix by :mod:`.matrix`;
:mod:`.submissions` tells them apart.

The rest of this section is about top-k lists. A file name is resolved against the
evaluation set (:meth:`GroundTruth.resolve_file`): as written; else in another spelling (HTML-unescaped, NFC/NFD,
surrounding whitespace; :mod:`retrieval.data.names`, the lookup the Clotho loader uses) -- counted as *respelled*;
else, when it carries a directory prefix (``/data/clotho/evaluation/a.wav``, ``evaluation\\a.wav``), by its base
name -- counted as *reduced* (the counts are in :class:`Submission`, the score summary and the board entry). A name
that is still unknown is a row error. Every problem of the rows is collected and reported at once (the first
:data:`MAX_LISTED`): duplicate queries, captions not in the ground truth, file names not in the evaluation set, a
file repeated in a row (in any spelling), and missing queries (an error, or scored 0 with ``allow_missing=True``).

Files must be UTF-8 (a byte-order mark is allowed); a submission that is binary (NUL bytes), not UTF-8 or not
parsable as CSV is refused. Ground truth falls back to ISO-8859-1 when it is not UTF-8, as the Clotho loader does
(the released Clotho files are not all UTF-8).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from retrieval.data.csvfile import csv_records
from retrieval.data.errors import DataError
from retrieval.data.names import NameIndex, base_name, has_directory
from retrieval.errors import HarnessError
from retrieval.submission import DCASE_2023_HEADER, DCASE_HEADER, TOP_K, normalise_query

from .kcut import DEFAULT_K, MIN_K, check_k

__all__ = [
    "CLOTHO_HEADER",
    "DEFAULT_K",
    "MIN_K",
    "DCASE_2023_HEADER",
    "DCASE_HEADER",
    "SUBMISSION_HEADERS",
    "MAX_LISTED",
    "MULTI_HEADER",
    "GroundTruth",
    "InputError",
    "LeaderboardError",
    "Submission",
    "check_k",
    "claim_query",
    "fingerprint_of",
    "list_header",
    "parse_ground_truth",
    "parse_submission",
    "read_csv_records",
    "read_eval_files",
    "read_ground_truth",
]

CLOTHO_HEADER: tuple[str, ...] = ("file_name", *(f"caption_{i}" for i in range(1, 6)))
MULTI_HEADER: tuple[str, ...] = ("query", "audio_filenames")
#: The accepted top-10 submission headers: DCASE 2022, and DCASE 2023-2025 (``fname_1`` ...); longer lists
#: (``fname_1 .. fname_16``) are read too (:func:`list_header`).
SUBMISSION_HEADERS: dict[str, tuple[str, ...]] = {"dcase2022": DCASE_HEADER, "dcase2023": DCASE_2023_HEADER}
_LIST_PREFIX = {"dcase2022": "file_name_", "dcase2023": "fname_"}
#: At most this many row problems are listed in one error message (the count of the others is given).
MAX_LISTED = 20


class LeaderboardError(HarnessError, ValueError):
    """Bad input or a refused board operation; the command line prints ``error: <message>`` and exits 2."""


class InputError(LeaderboardError):
    """A ground-truth or submission file is unreadable or invalid. The message names the file and the row(s)."""

    def __init__(self, file: str | Path, problems: str | Sequence[str], *, row: int | None = None):
        self.file = str(file)
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.row = row
        if isinstance(problems, str):
            msg = f"{self.file}: " + (f"row {row}: " if row is not None else "") + problems
        else:
            shown = self.problems[:MAX_LISTED]
            more = len(self.problems) - len(shown)
            msg = f"{self.file}: {len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}:\n" + \
                "\n".join(f"  {p}" for p in shown) + (f"\n  ... and {more} more" if more else "")
        super().__init__(msg)


# ------------------------------------------------------------------------------------------------------- CSV
def read_csv_records(path: str | Path, *, what: str, latin1_fallback: bool = False,
                     data: bytes | None = None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header cells (stripped, BOM removed) and ``(row_number, cells)`` of the non-blank data rows.

    Raises :class:`InputError` when the file cannot be read, is binary, is not UTF-8 (unless
    ``latin1_fallback``), is not parsable CSV (e.g. an unterminated quote) or is empty.
    """
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(path, f"cannot read the {what}: {exc.strerror or exc}") from None
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InputError(path, f"not a CSV file: it holds NUL bytes (a binary file?) at line {line}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not latin1_fallback:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(path, f"not a UTF-8 text file: byte 0x{data[exc.start]:02x} at line {line} cannot be "
                                   "decoded (save the CSV as UTF-8)") from None
        text = data.decode("iso-8859-1")
    try:
        records = csv_records(text, path)
    except DataError as exc:
        raise InputError(path, exc.reason, row=exc.row) from None
    first = 0  # leading blank lines are skipped
    while first < len(records) and _is_blank(records[first]):
        first += 1
    if first == len(records):
        raise InputError(path, f"empty {what} (no header)")
    header = [c.strip().lstrip("\ufeff").strip() for c in records[first]]
    rows = [(i + 1, rec) for i, rec in enumerate(records) if i > first and not _is_blank(rec)]
    return header, rows


def _is_blank(record: list[str]) -> bool:
    return not record or all(not c.strip() for c in record)


def _check_fields(path: Path, header: Sequence[str], rows: Iterable[tuple[int, list[str]]]) -> None:
    bad = [f"row {n}: expected {len(header)} fields (as in the header), got {len(r)}" for n, r in rows
           if len(r) != len(header)]
    if bad:
        raise InputError(path, bad)


# ------------------------------------------------------------------------------------------------ ground truth
def fingerprint_of(mapping: dict[str, Sequence[str]], other_files: Sequence[str] = ()) -> str:
    """sha256 (hex) of the normalised query -> relevant-set mapping: ``[[query, sorted(files)], ...]`` sorted by
    query, as compact UTF-8 JSON. The same mapping in either ground-truth format gives the same fingerprint.

    ``other_files``: evaluation files that no query is relevant for (:meth:`GroundTruth.with_eval_files`); when
    there are any, the blob is ``[canonical, sorted(other_files)]`` instead (so a ground truth without them keeps
    its fingerprint)."""
    canonical: list = sorted([q, sorted(set(files))] for q, files in mapping.items())
    if other_files:
        canonical = [canonical, sorted(set(other_files))]
    blob = json.dumps(canonical, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class GroundTruth:
    """Normalised queries (first-appearance order), their relevant files, and the evaluation set.

    ``relevant[q]`` holds indices into ``files`` (the evaluation set, first-appearance order); ``rows[q]`` the CSV
    rows the query comes from.
    """

    queries: tuple[str, ...]
    relevant: tuple[tuple[int, ...], ...]
    files: tuple[str, ...]
    rows: tuple[tuple[int, ...], ...]
    source: str = ""
    format: str = ""  # "clotho" | "multi"
    n_other: int = 0  # the last n_other of ``files`` are relevant to no query (with_eval_files)
    eval_files_source: str = ""
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _file_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {q: i for i, q in enumerate(self.queries)})
        object.__setattr__(self, "_file_index", {f: i for i, f in enumerate(self.files)})

    @property
    def n_queries(self) -> int:
        return len(self.queries)

    def index(self, query: str) -> int | None:
        """The index of a (raw or normalised) query, or None; a query that does not match as written is compared
        once more with HTML entities unescaped on both sides (when that is unambiguous)."""
        i = self._index.get(normalise_query(query))
        if i is None:
            i = self._lookups()["queries"].get(normalise_query(html.unescape(query)))
        return i

    def _lookups(self) -> dict:
        """The slower lookups, built on first use: unescaped queries, file spellings, base names."""
        cached = self.__dict__.get("_slow")
        if cached is None:
            unescaped: dict[str, set[int]] = {}
            for i, q in enumerate(self.queries):
                unescaped.setdefault(normalise_query(html.unescape(q)), set()).add(i)
            bases: dict[str, set[int]] = {}
            for j, f in enumerate(self.files):
                bases.setdefault(base_name(f), set()).add(j)
            unique_bases = {b: next(iter(js)) for b, js in bases.items() if len(js) == 1}
            base_names = list(unique_bases)
            cached = {"queries": {k: next(iter(v)) for k, v in unescaped.items() if len(v) == 1},
                      "files": NameIndex(self.files),
                      "bases": (NameIndex(base_names), [unique_bases[b] for b in base_names])}
            object.__setattr__(self, "_slow", cached)
        return cached

    def resolve_file(self, name: str) -> tuple[int | None, str]:
        """``(file index, how)`` for a submitted file name: ``"exact"``; ``"respelled"`` (another spelling of a
        ground-truth name: HTML-unescaped, NFC/NFD, surrounding whitespace); ``"reduced"`` (a name with a directory
        prefix, matched by its base name); ``(None, "")`` when unknown. See the module docstring."""
        j = self._file_index.get(name)
        if j is not None:
            return j, "exact"
        slow = self._lookups()
        j = slow["files"].index(name)
        if j is not None:
            return j, "respelled"
        if has_directory(name):
            base = base_name(name)
            j = slow["files"].index(base)
            if j is None:  # ground-truth names with directories of their own (audio/test/x.wav)
                index, positions = slow["bases"]
                k = index.index(base)
                j = positions[k] if k is not None else None
            if j is not None:
                return j, "reduced"
        return None, ""

    def file_index(self, name: str) -> int | None:
        """The index of a submitted file name in the evaluation set, or None (see :meth:`resolve_file`)."""
        return self.resolve_file(name)[0]

    def relevant_files(self, q: int) -> tuple[str, ...]:
        return tuple(self.files[j] for j in self.relevant[q])

    def mapping(self) -> dict[str, tuple[str, ...]]:
        return {q: self.relevant_files(i) for i, q in enumerate(self.queries)}

    @property
    def other_files(self) -> tuple[str, ...]:
        """Evaluation files relevant to no query (added by :meth:`with_eval_files`)."""
        return self.files[len(self.files) - self.n_other:] if self.n_other else ()

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.mapping(), self.other_files)

    def with_eval_files(self, names: Sequence[str], *, source: str = "") -> "GroundTruth":
        """This ground truth with its evaluation set widened to ``names`` (the files that compete in every ranking).

        Every file of the ground truth must be among ``names`` (exactly as written); the others are appended to
        :attr:`files` and counted in :attr:`n_other`. Raises :class:`InputError` naming ``source``."""
        listed = set(names)
        absent = [f for f in self.files if f not in listed]
        if absent:
            shown = ", ".join(repr(f) for f in absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
            raise InputError(source or "eval files", f"{len(absent)} file(s) of the ground truth {self.source} are not "
                                                     f"in this list of the evaluation set: {shown}")
        have = set(self.files)
        extra = tuple(dict.fromkeys(n for n in names if n not in have))
        return GroundTruth(queries=self.queries, relevant=self.relevant, files=self.files + extra, rows=self.rows,
                           source=self.source, format=self.format, n_other=self.n_other + len(extra),
                           eval_files_source=source)

    def canonical_order(self) -> list[int]:
        """Query indices sorted by query text: the order boards store per-query scores in."""
        return sorted(range(self.n_queries), key=lambda i: self.queries[i])

    @classmethod
    def from_mapping(cls, mapping: dict[str, Sequence[str]], *, source: str = "", format: str = "mapping",
                     other_files: Sequence[str] = ()):
        """A ground truth from ``{query: [file, ...]}`` (queries normalised; merged if they collide), plus
        ``other_files`` relevant to no query (a board's stored evaluation set)."""
        merged: dict[str, list[str]] = {}
        for q, files in mapping.items():
            bucket = merged.setdefault(normalise_query(q), [])
            for f in files:  # file names as given: never stripped
                if f not in bucket:
                    bucket.append(f)
        gt = _build(merged, {q: () for q in merged}, source, format)
        if other_files:
            gt = gt.with_eval_files([*gt.files, *other_files], source=source)
        return gt


def _build(merged: dict[str, list[str]], rows: dict[str, Sequence[int]], source: str, fmt: str) -> GroundTruth:
    files: dict[str, int] = {}
    relevant = []
    for q, names in merged.items():
        rel = []
        for name in names:
            j = files.setdefault(name, len(files))
            if j not in rel:
                rel.append(j)
        relevant.append(tuple(rel))
    return GroundTruth(queries=tuple(merged), relevant=tuple(relevant), files=tuple(files),
                       rows=tuple(tuple(rows[q]) for q in merged), source=source, format=fmt)


def _parsed(path: Path, problems: list[str], merged: dict[str, list[str]], where: dict[str, list[int]],
            fmt: str) -> GroundTruth:
    """The ground truth a parser read from ``path``, or an :class:`InputError` listing its ``problems`` (or saying
    that the file holds no queries)."""
    if problems:
        raise InputError(path, problems)
    if not merged:
        raise InputError(path, "the ground truth has no queries (no data rows)")
    return _build(merged, where, str(path), fmt)


def read_ground_truth(path: str | Path) -> GroundTruth:
    """Read a ground-truth CSV in the Clotho captions or the multi-positive format (see the module docstring)."""
    header, rows = read_csv_records(path, what="ground truth", latin1_fallback=True)
    return parse_ground_truth(header, rows, source=str(path))


def read_eval_files(path: str | Path) -> list[str]:
    """The evaluation set from ``path``: a CSV whose header has a ``file_name`` column (e.g. the released
    ``clotho_captions_evaluation.csv``), else a text file with one file name per line (blank lines skipped). Names
    are kept exactly as written; a name listed twice is an error naming both rows."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the list of evaluation files: {exc.strerror or exc}") from None
    if b"\x00" in raw:
        raise InputError(path, "not a text file: it holds NUL bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("iso-8859-1")
    lines = text.replace("\r\n", "\n").split("\n")
    first_line = next((line for line in lines if line.strip()), "")
    if "file_name" in [c.strip() for c in next(csv.reader([first_line]), [])]:
        header, rows = read_csv_records(path, what="list of evaluation files", latin1_fallback=True, data=raw)
        col = header.index("file_name")
        named = [(n, r[col] if col < len(r) else "") for n, r in rows]
    else:
        named = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    problems: list[str] = []
    first: dict[str, int] = {}
    for n, name in named:
        if not name.strip():
            problems.append(f"row {n}: empty file_name")
        elif name in first:
            problems.append(f"row {n}: file {name!r} already listed at row {first[name]}")
        else:
            first[name] = n
    if problems:
        raise InputError(path, problems)
    if not first:
        raise InputError(path, "the list of evaluation files is empty")
    return list(first)


def parse_ground_truth(header: Sequence[str], rows: Sequence[tuple[int, list[str]]], *, source: str) -> GroundTruth:
    path = Path(source)
    if tuple(header) == CLOTHO_HEADER:
        return _parse_clotho(path, header, rows)
    if tuple(header) == MULTI_HEADER:
        return _parse_multi(path, header, rows)
    raise InputError(path, f"unknown ground-truth header {','.join(header)!r}: expected the Clotho captions format "
                           f"{','.join(CLOTHO_HEADER)!r} or the multi-positive format {','.join(MULTI_HEADER)!r}",
                     row=1)


def _parse_clotho(path: Path, header: Sequence[str], rows) -> GroundTruth:
    _check_fields(path, header, rows)
    problems: list[str] = []
    merged: dict[str, list[str]] = {}
    where: dict[str, list[int]] = {}
    seen_files: dict[str, int] = {}
    for n, row in rows:
        name = row[0]  # as released: a leading space is part of the name
        if not name.strip():
            problems.append(f"row {n}: empty file_name")
            continue
        if name in seen_files:
            problems.append(f"row {n}: file {name!r} already listed at row {seen_files[name]}")
            continue
        seen_files[name] = n
        for col, caption in zip(header[1:], row[1:]):
            q = normalise_query(caption)
            if not q:
                problems.append(f"row {n}: empty {col}")
                continue
            files = merged.setdefault(q, [])
            if name not in files:
                files.append(name)
            rws = where.setdefault(q, [])
            if n not in rws:
                rws.append(n)
    return _parsed(path, problems, merged, where, "clotho")


def _parse_multi(path: Path, header: Sequence[str], rows) -> GroundTruth:
    _check_fields(path, header, rows)
    problems: list[str] = []
    merged: dict[str, list[str]] = {}
    where: dict[str, list[int]] = {}
    for n, (query, cell) in rows:
        q = normalise_query(query)
        if not q:
            problems.append(f"row {n}: empty query")
            continue
        if q in where:
            problems.append(f"row {n}: query {_short(q)!r} already given at row {where[q][0]} (list all its files "
                            "in one row)")
            continue
        try:
            value = ast.literal_eval(cell.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            problems.append(f"row {n}: audio_filenames {_short(cell)!r} is not a Python list literal such as "
                            "\"['a.wav', 'b.wav']\"")
            continue
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            problems.append(f"row {n}: audio_filenames must be a list of file names (strings), got {_short(cell)!r}")
            continue
        names = list(value)  # as written: never stripped
        if not names or not all(n.strip() for n in names):
            problems.append(f"row {n}: audio_filenames " + ("is an empty list" if not names else "has an empty name"))
            continue
        dup = sorted({f for f in names if names.count(f) > 1})
        if dup:
            problems.append(f"row {n}: file {dup[0]!r} repeated in audio_filenames")
            continue
        merged[q] = names
        where[q] = [n]
    return _parsed(path, problems, merged, where, "multi")


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ------------------------------------------------------------------------------------------------- submission
@dataclass(frozen=True)
class Submission:
    """A submission aligned with a :class:`GroundTruth`.

    Top-k list: ``rankings[q]`` are file indices (at most ``depth``, best first; empty for a missing query).
    Score matrix (``header == "matrix"``): ``scores`` is a float64 ``[n_queries, n_columns]`` array, rows in
    ground-truth query order (a missing query's row is all zeros and never scored), columns in the submission's
    column order; ``columns[c]`` is the ground-truth file index of column ``c``; ``rankings`` are empty.
    ``rows[q]`` is the submission row of query ``q`` (None when missing).
    """

    rankings: tuple[tuple[int, ...], ...]
    rows: tuple[int | None, ...]
    missing: tuple[int, ...]
    source: str = ""
    header: str = "dcase2022"  # a key of SUBMISSION_HEADERS, or "matrix"
    n_reduced: int = 0  # file names given with a directory prefix, matched by their base name
    n_respelled: int = 0  # file names matched in another spelling (unescaped, NFC/NFD, surrounding whitespace)
    depth: int = TOP_K  # positions a top-k list ranks (its header's L); for a matrix, its number of file columns
    scores: Any = field(default=None, repr=False, compare=False)  # np.ndarray for a score matrix
    columns: Any = field(default=None, repr=False, compare=False)  # np.ndarray: column -> ground-truth file index

    @property
    def is_matrix(self) -> bool:
        return self.scores is not None


def list_header(header: Sequence[str]) -> tuple[str, int] | None:
    """``(edition, L)`` when ``header`` is ``caption`` followed by ``file_name_1 .. file_name_L`` (``"dcase2022"``)
    or ``fname_1 .. fname_L`` (``"dcase2023"``), ``L >= 1``; else None."""
    header = [c.strip() for c in header]
    if len(header) < 2 or header[0] != "caption":
        return None
    for kind, prefix in _LIST_PREFIX.items():
        if all(cell == f"{prefix}{i}" for i, cell in enumerate(header[1:], start=1)):
            return kind, len(header) - 1
    return None


def claim_query(gt: GroundTruth, caption: str, n: int, where: str, noun: str, at_row: dict[int, int],
                problems: list[str]) -> int | None:
    """The ground-truth query of a submission row's (normalised, non-empty) caption, recorded in ``at_row`` as
    answered at row ``n``; None, with the problem added to ``problems``, when it is no query of ``gt`` or was
    answered before. ``where``: the place the problem names (``row 3``, ``row 3, column 1``); ``noun``: what the
    cell holds (``caption``, ``query``)."""
    q = gt.index(caption)
    if q is None:
        problems.append(f"{where}: {noun} {_short(caption)!r} is not a query of the ground truth")
        return None
    if q in at_row:
        problems.append(f"{where}: duplicate query {_short(caption)!r} (first at row {at_row[q]})")
        return None
    at_row[q] = n
    return q


def parse_submission(header: Sequence[str], rows: Sequence[tuple[int, list[str]]], gt: GroundTruth, *,
                     allow_missing: bool = False, source: str = "", k: int = DEFAULT_K) -> Submission:
    """Validate a top-k list (the records of a CSV) against ``gt``; ``k``: the board's cut-off (the list must rank
    at least ``k`` positions)."""
    path = Path(source)
    found = list_header(header)
    if found is None:
        raise InputError(path, f"wrong header {_short(','.join(header), 120)!r}: a DCASE submission starts with "
                               f"{','.join(DCASE_HEADER)!r} (DCASE 2022) or {','.join(DCASE_2023_HEADER)!r} "
                               "(DCASE 2023-2025; longer lists such as fname_1..fname_16 too), or is a score "
                               "matrix: the queries in the first column and one column per evaluation file, the "
                               "header naming the files", row=1)
    kind, depth = found
    if depth < k:
        prefix = _LIST_PREFIX[kind]
        raise InputError(path, f"the submission ranks {depth} files per query ({prefix}1..{prefix}{depth}), fewer "
                               f"than k={k}: mAP@{k} needs a top-{k} list ({prefix}1..{prefix}{k}) or a score "
                               "matrix", row=1)
    _check_fields(path, header, rows)
    counts = {"reduced": 0, "respelled": 0}
    problems: list[str] = []
    rankings: dict[int, tuple[int, ...]] = {}
    at_row: dict[int, int] = {}
    for n, row in rows:
        caption = normalise_query(row[0])
        if not caption:
            problems.append(f"row {n}: empty caption")
            continue
        q = claim_query(gt, caption, n, f"row {n}", "caption", at_row, problems)
        if q is None:
            continue
        cells = list(row[1:])  # as written: a name is never stripped, only looked up (GroundTruth.resolve_file)
        filled = len(cells)
        while filled and not cells[filled - 1].strip():
            filled -= 1
        ranking: list[int] = []
        first_col: dict[int, int] = {}
        row_counts = {"reduced": 0, "respelled": 0}
        row_ok = True
        for pos, name in enumerate(cells[:filled], start=1):
            col = header[pos]
            if not name.strip():
                problems.append(f"row {n}: {col} is empty but a later column is not (only trailing cells may be "
                                "empty)")
                row_ok = False
                continue
            j, how = gt.resolve_file(name)
            if j is None:
                problems.append(f"row {n}: {col} {_short(name)!r} is not in the evaluation set (the files of the "
                                "ground truth, and --eval-files)")
                row_ok = False
                continue
            if j in first_col:
                problems.append(f"row {n}: file {name!r} repeated ({col} and {header[first_col[j]]})")
                row_ok = False
                continue
            first_col[j] = pos
            if how in row_counts:
                row_counts[how] += 1
            ranking.append(j)
        if row_ok:
            rankings[q] = tuple(ranking)
            for key, v in row_counts.items():
                counts[key] += v
    missing = tuple(q for q in range(gt.n_queries) if q not in at_row)
    problems.extend(missing_problems(gt, missing, allow_missing))
    if problems:
        raise InputError(path, problems)
    return Submission(rankings=tuple(rankings.get(q, ()) for q in range(gt.n_queries)),
                      rows=tuple(at_row.get(q) for q in range(gt.n_queries)), missing=missing, source=str(path),
                      header=kind, n_reduced=counts["reduced"], n_respelled=counts["respelled"], depth=depth)


def missing_problems(gt: GroundTruth, missing: Sequence[int], allow_missing: bool) -> list[str]:
    """The problem line for ground-truth queries without a row (none with ``allow_missing``)."""
    if not missing or allow_missing:
        return []
    listed = "; ".join(f"{_short(gt.queries[q])!r} (ground truth row {gt.rows[q][0]})" if gt.rows[q]
                       else repr(_short(gt.queries[q])) for q in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return [f"{len(missing)} of {gt.n_queries} ground-truth queries have no row: {listed}{more} "
            "(use --allow-missing to score them 0)"]
