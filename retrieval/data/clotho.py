"""The ClothoV2 layout: captions, optional metadata keywords and audio of one split.

::

    <root>/clotho_captions_<split>.csv    file_name,caption_1,caption_2,caption_3,caption_4,caption_5
    <root>/clotho_metadata_<split>.csv    file_name,keywords,sound_id,sound_link,start_end_samples,manufacturer,license
    <root>/<split>/<file_name>            the audio

The metadata file is optional (no file: every recording has ``()`` keywords). Keywords are ``;``-separated.
CSV files are decoded as UTF-8 (a byte-order mark is allowed) and fall back to ISO-8859-1, since the released
Clotho files are not all UTF-8. Row numbers in error messages are 1-based with the header as row 1 (they equal line
numbers unless a quoted field spans several lines). Blank lines are skipped.

Quirks of the ClothoV2.1 release that are handled:

* HTML entities (``&#39;``, ``&amp;`` ...) in captions and keywords are unescaped (:func:`html.unescape`).
* File names are never altered: not stripped, not unescaped (:mod:`retrieval.data.names`). The release lists
  names that begin with a space (`` Ambience Birds.wav`` and `` typical neighborhood in Porto.wav`` in development,
  `` e ieio ieai.wav`` in validation; the files on disk carry the space) and names with commas, quotes, accents and
  HTML entities. The audio file is looked up under the literal name first, then the unescaped one, each also in
  Unicode NFC and NFD form (archives made on macOS store NFD names); only if none exists, under the name without
  its surrounding whitespace (unless that name is listed too). :attr:`Recording.file_name` is the name of the file
  found on disk. Metadata rows are joined the same way (:class:`~retrieval.data.names.NameIndex`), so a metadata
  file that spells a name differently from the captions file still matches.
* ``sound_id`` ``"Not found"`` (or empty, ``NA``) becomes ``Recording.source_id = None``; ``sound_link`` ``"NA"``,
  empty or bracketed ``start_end_samples`` and the other metadata columns are not needed and never fail a load.

Example::

    >>> split = load_clotho_split("/data/clotho", "development")          # doctest: +SKIP
    >>> split.recordings[0].captions[0], split.n_captions                  # doctest: +SKIP
"""

from __future__ import annotations

import html
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .audio import audio_duration
from .csvfile import csv_records
from .errors import DataError
from .names import NameIndex, loose_key, name_variants

CAPTION_COLUMNS: tuple[str, ...] = tuple(f"caption_{i}" for i in range(1, 6))
METADATA_COLUMNS: tuple[str, ...] = ("file_name", "keywords")  # the ones we need; the others are not read
STANDARD_SPLITS: tuple[str, ...] = ("development", "validation", "evaluation")
#: how many of the listed files without audio a summary names
MISSING_LISTED = 5


def captions_csv(root: str | Path, split: str) -> Path:
    return Path(root) / f"clotho_captions_{split}.csv"


def metadata_csv(root: str | Path, split: str) -> Path:
    return Path(root) / f"clotho_metadata_{split}.csv"


@dataclass(frozen=True)
class Recording:
    """One audio file with its captions (file order) and metadata keywords."""

    file_name: str
    path: Path
    captions: tuple[str, ...]
    keywords: tuple[str, ...]  # stripped, lowercased, empty entries dropped; () when no metadata
    # the id in the source collection (Clotho: the FreeSound sound_id; AudioCaps: the YouTube id; WavCaps: the
    # JSON id), None when unknown ("Not found")
    source_id: str | None = None


@dataclass(frozen=True)
class Split:
    """The recordings of one split, in captions-file order."""

    name: str
    root: Path
    recordings: tuple[Recording, ...]  # only those whose audio exists (strict=False) / all (strict=True)
    missing_audio: tuple[str, ...]  # listed in the captions CSV, audio file absent
    has_metadata: bool
    # listed but left out on purpose (WavCaps: zero duration or on the exclusion list); not in missing_audio
    excluded: tuple[str, ...] = ()

    @property
    def n_captions(self) -> int:
        return sum(len(r.captions) for r in self.recordings)

    def queries(self) -> list[tuple[str, int]]:
        """``(caption, recording index)`` for every caption, in file order."""
        return [(caption, i) for i, rec in enumerate(self.recordings) for caption in rec.captions]


# --------------------------------------------------------------------------------------------- CSV
def read_text(path: Path) -> str:
    """The text of a file: UTF-8 (a byte-order mark allowed), else ISO-8859-1, as the released Clotho and AudioSet
    files need. An unreadable file is a :class:`DataError` naming it."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read file: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("iso-8859-1")


def read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the data rows of a CSV file.

    ``rows[i]`` is CSV row ``i + 2`` (the header is row 1); blank lines come back as empty lists so that the
    numbering stays aligned. Header cells are stripped of whitespace and of a byte-order mark.
    Raises DataError naming the file if it is missing, empty or not CSV-parsable.
    """
    path = Path(path)
    text = read_text(path)
    if "\x00" in text:
        raise DataError(path, "not a CSV file: it holds NUL bytes (a binary file?)")
    records = csv_records(text, path)
    while records and not records[0]:  # leading blank lines
        records.pop(0)
    if not records:
        raise DataError(path, "empty CSV file (no header)")
    header = [cell.strip().lstrip("\ufeff").removeprefix("ï»¿").strip() for cell in records[0]]
    return header, records[1:]


def column_index(path: Path, header: list[str], required: Sequence[str]) -> dict[str, int]:
    """``{column: index}`` of the ``required`` columns of a CSV ``header``; a missing or duplicated column is a
    :class:`DataError` naming ``path`` (row 1). Shared by the Clotho, AudioCaps and WavCaps readers."""
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(path, f"missing required column(s) {', '.join(missing)} (header has: {', '.join(header)})",
                        row=1)
    dup = sorted({c for c in required if header.count(c) > 1})
    if dup:
        raise DataError(path, f"duplicated column(s) {', '.join(dup)} in the header", row=1)
    return {c: header.index(c) for c in required}


def iter_rows(path: Path, header: list[str], rows: list[list[str]]):
    """Yield ``(row_number, row)`` (1-based file row numbers, the header is row 1) for the non-blank rows; a row
    with another number of fields than the header is a :class:`DataError` naming ``path`` and the row."""
    for i, row in enumerate(rows):
        number = i + 2
        if not row or (len(row) == 1 and not row[0].strip() and len(header) > 1):
            continue  # blank line
        if len(row) != len(header):
            raise DataError(path, f"expected {len(header)} fields (as in the header), got {len(row)}", row=number)
        yield number, row


def parse_keywords(text: str) -> tuple[str, ...]:
    """``"a; B;;c "`` -> ``("a", "b", "c")``: split on ``;``, stripped, lowercased, empties dropped; HTML
    entities are unescaped (``"rock &amp; roll"`` -> ``"rock & roll"``)."""
    return tuple(k for k in (part.strip().lower() for part in html.unescape(text).split(";")) if k)


def clean_caption(text: str) -> str:
    """A caption as used for training and queries: HTML entities unescaped, surrounding whitespace stripped."""
    return html.unescape(text).strip()


def find_audio(folder: Path, name: str, *, loose: bool = True) -> Path | None:
    """The audio file for a listed ``name`` in ``folder``, or None: the literal name and its spellings
    (:func:`~retrieval.data.names.name_variants`); then, with ``loose=True`` and only if none exists, the same for
    the name without surrounding whitespace. ``name`` itself is never changed."""
    for cand in name_variants(name):
        path = folder / cand
        if path.is_file():
            return path
    stripped = name.strip()
    if loose and stripped and stripped != name:
        for cand in name_variants(stripped):
            path = folder / cand
            if path.is_file():
                return path
    return None


_NO_ID = {"", "not found", "na", "n/a", "nan", "none", "null"}


def parse_sound_id(text: str) -> str | None:
    """``"12345"`` -> ``"12345"``; ``"Not found"``, ``"NA"`` and empty -> None."""
    text = text.strip()
    return None if text.lower() in _NO_ID else text


def _listed_name(path: Path, name: str, number: int, seen: dict[str, int]) -> str:
    """A ``file_name`` cell of CSV row ``number``, exactly as listed (a leading space is part of the name), recorded
    in ``seen``; an empty or an already listed name is a :class:`DataError`."""
    if not name.strip():
        raise DataError(path, "empty file_name", row=number, field="file_name")
    if name in seen:
        raise DataError(path, f"duplicated file_name {name!r} (first at row {seen[name]})", row=number,
                        field="file_name")
    seen[name] = number
    return name


def _read_metadata(path: Path, wanted: set[str]) -> tuple[NameIndex, list[tuple[tuple[str, ...], str | None]]]:
    """The metadata rows whose name (in any spelling, see :mod:`retrieval.data.names`) may be wanted: a
    :class:`NameIndex` of their names and ``(keywords, sound_id)`` per name. Names are kept as written."""
    header, rows = read_csv_rows(path)
    cols = column_index(path, header, METADATA_COLUMNS)
    id_col = header.index("sound_id") if "sound_id" in header else None
    seen: dict[str, int] = {}
    names: list[str] = []
    values: list[tuple[tuple[str, ...], str | None]] = []
    for number, row in iter_rows(path, header, rows):
        name = _listed_name(path, row[cols["file_name"]], number, seen)
        if wanted.isdisjoint(name_variants(name)) and loose_key(name) not in wanted:
            continue  # metadata for files not in the captions CSV is ignored
        names.append(name)
        values.append((parse_keywords(row[cols["keywords"]]),
                       parse_sound_id(row[id_col]) if id_col is not None else None))
    return NameIndex(names), values


# --------------------------------------------------------------------------------------------- loading
def available_splits(root: str | Path) -> list[str]:
    """Split names with a captions CSV in ``root``: the standard ones first, then the others sorted."""
    found = {p.name[len("clotho_captions_"):-len(".csv")] for p in Path(root).glob("clotho_captions_*.csv")}
    return [s for s in STANDARD_SPLITS if s in found] + sorted(found - set(STANDARD_SPLITS))


def load_clotho_split(root: str | Path, split: str, *, strict: bool = True) -> Split:
    """Read one split of a ClothoV2-layout folder.

    ``strict=True``: every audio file listed in the captions CSV must exist (DataError naming the CSV row and
    the expected path). ``strict=False``: recordings without audio are left out and listed in ``missing_audio``.
    Unreadable audio is only detected when it is decoded (``features.FeatureCache`` raises DataError then).
    """
    root = Path(root)
    cap_path = captions_csv(root, split)
    if not cap_path.is_file():
        if not root.is_dir():
            raise DataError(cap_path, f"captions file not found: data folder {root} does not exist")
        existing = sorted(p.name for p in root.glob("clotho_*.csv"))
        listing = ", ".join(existing) if existing else "none"
        raise DataError(cap_path, f"captions file for split {split!r} not found (CSV files in {root}: {listing})")

    header, rows = read_csv_rows(cap_path)
    cols = column_index(cap_path, header, ("file_name",) + CAPTION_COLUMNS)
    entries: list[tuple[int, str, tuple[str, ...]]] = []
    seen: dict[str, int] = {}
    for number, row in iter_rows(cap_path, header, rows):
        name = _listed_name(cap_path, row[cols["file_name"]], number, seen)
        captions = []
        for column in CAPTION_COLUMNS:
            caption = clean_caption(row[cols[column]])
            if not caption:
                raise DataError(cap_path, f"empty caption for {name!r}", row=number, field=column)
            captions.append(caption)
        entries.append((number, name, tuple(captions)))

    meta_path = metadata_csv(root, split)
    has_metadata = meta_path.is_file()
    wanted = {cand for name in seen for cand in name_variants(name)} | {loose_key(name) for name in seen}
    meta_index, meta_values = _read_metadata(meta_path, wanted) if has_metadata else (NameIndex(()), [])

    audio_dir = root / split
    recordings: list[Recording] = []
    missing: list[str] = []
    found_at: dict[Path, int] = {}
    for number, name, captions in entries:
        # the name without its surrounding whitespace is tried only if it is not listed itself
        path = find_audio(audio_dir, name, loose=name.strip() not in seen)
        if path is not None and path in found_at:
            raise DataError(cap_path, f"{name!r} names the same audio file {path} as row {found_at[path]} (two "
                                      f"spellings of one name)", row=number, field="file_name")
        if path is not None:
            found_at[path] = number
        if path is None:
            if strict:
                unescaped = html.unescape(name)
                also = f" (or {audio_dir / unescaped})" if unescaped != name else ""
                raise DataError(cap_path, f"audio file for {name!r} not found: expected {audio_dir / name}{also} "
                                          f"(use strict=False to skip recordings without audio)",
                                row=number, field="file_name")
            missing.append(name)
            continue
        j = meta_index.index(name)
        keywords, sound_id = meta_values[j] if j is not None else ((), None)
        recordings.append(Recording(file_name=path.name, path=path, captions=captions, keywords=keywords,
                                    source_id=sound_id))
    return Split(name=split, root=root, recordings=tuple(recordings), missing_audio=tuple(missing),
                 has_metadata=has_metadata)


def summarize_clotho(root: str | Path, splits: Sequence[str] | None = None) -> dict[str, dict]:
    """Per-split statistics (JSON-serialisable), for the splits whose captions CSV exists.

    ``splits=None`` means every split with a captions CSV in ``root``. Counts are over recordings that are listed
    AND have audio; ``mean_duration_s`` is read from the audio headers.
    """
    root = Path(root)
    names = available_splits(root) if splits is None else [s for s in splits if captions_csv(root, s).is_file()]
    out: dict[str, dict] = {}
    for name in names:
        split = load_clotho_split(root, name, strict=False)
        recs = split.recordings
        counts: Counter[str] = Counter(k for r in recs for k in r.keywords)
        durations = [audio_duration(r.path) for r in recs]
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        out[name] = {
            "recordings": int(len(recs)),
            "captions": int(split.n_captions),
            "with_keywords": int(sum(1 for r in recs if r.keywords)),
            "missing_audio": int(len(split.missing_audio)),
            "missing_files": list(split.missing_audio[:MISSING_LISTED]),
            "has_metadata": bool(split.has_metadata),
            "mean_duration_s": float(statistics.fmean(durations)) if durations else 0.0,
            "mean_keywords": float(statistics.fmean(len(r.keywords) for r in recs)) if recs else 0.0,
            "distinct_keywords": int(len(counts)),
            "top_keywords": [[kw, int(n)] for kw, n in top],
        }
    return out
