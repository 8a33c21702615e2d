"""The AudioCaps release: caption CSVs per split, audio downloaded by the user, AudioSet labels as keywords.

::

    <root>/train.csv, val.csv, test.csv      audiocap_id,youtube_id,start_time,caption   (one row per caption)
    <root>/audio/<split>/<youtube_id>_<start_time>.wav|.flac   the audio (pattern configurable)
    <labels_dir>/class_labels_indices.csv     index,mid,display_name                     (AudioSet ontology)
    <labels_dir>/*_segments.csv               AudioSet segments: '#' comment lines, then
                                              YTID, start_seconds, end_seconds, "mid1,mid2"

``labels_dir`` defaults to the AudioCaps root. Captions are grouped per clip (``youtube_id`` + ``start_time``,
in order of first appearance; the training split has one caption per clip, val and test five). The audio of a clip
is found with ``audio_pattern`` (relative to the root; placeholders ``{split}``, ``{youtube_id}``,
``{start_time}`` as written in the CSV, ``{audiocap_id}`` of the clip's first caption row, and ``{ext}``, for which
``wav`` then ``flac`` are tried). Clips whose audio is missing (YouTube videos disappear) are counted in
``Split.missing_audio`` and left out, never fatal unless ``strict=True``.

Keywords are the AudioSet labels of the clip's YouTube id (the union over every segments file, in label order),
their display names lowercased: the closed-set metadata. Without ``class_labels_indices.csv`` and segment files
every clip has ``()`` keywords (``Split.has_metadata`` is False). Only the segment rows of wanted YouTube ids are
parsed (the unbalanced file has two million rows), and those are checked: a wrong number of fields, a time that is
not a number or a label id that is not in ``class_labels_indices.csv`` is a :class:`DataError` naming the file
and line.

:attr:`Recording.file_name` is the audio path relative to the root (``audio/test/abc_30.wav``), unique within a
split; :attr:`Recording.source_id` is the YouTube id.

File names: AudioCaps lists no file names, only YouTube ids and start times, from which the audio path is built.
Those two fields are stripped of surrounding whitespace (a YouTube id is ``[A-Za-z0-9_-]{11}`` and a start time a
number, so a space around them is CSV formatting, never part of the value); the path of the file found is kept as
it is on disk.
"""

from __future__ import annotations

import csv
import io
import string
from pathlib import Path

from .clotho import Recording, Split, clean_caption, column_index, iter_rows, read_csv_rows, read_text
from .errors import DataError

SPLITS: tuple[str, ...] = ("train", "val", "test")
CAPTION_HEADER: tuple[str, ...] = ("audiocap_id", "youtube_id", "start_time", "caption")
LABELS_FILE = "class_labels_indices.csv"
SEGMENTS_GLOB = "*_segments.csv"
DEFAULT_AUDIO_PATTERN = "audio/{split}/{youtube_id}_{start_time}.{ext}"
AUDIO_EXTENSIONS: tuple[str, ...] = ("wav", "flac")


def captions_csv(root: str | Path, split: str) -> Path:
    return Path(root) / f"{split}.csv"


def available_splits(root: str | Path) -> list[str]:
    """The standard splits whose CSV exists in ``root``."""
    return [s for s in SPLITS if captions_csv(root, s).is_file()]


def audio_candidates(root: Path, pattern: str, **fields: str) -> list[Path]:
    """The paths tried for one clip, in order (``{ext}`` expands to each of :data:`AUDIO_EXTENSIONS`)."""
    names = {f for _, f, _, _ in string.Formatter().parse(pattern) if f}
    exts = AUDIO_EXTENSIONS if "ext" in names else ("",)
    return [root / pattern.format(**fields, ext=ext) for ext in exts]


# --------------------------------------------------------------------------------------------- labels
def read_class_labels(path: Path) -> dict[str, str]:
    """``{mid: display_name}`` from ``class_labels_indices.csv`` (header ``index,mid,display_name``)."""
    header, rows = read_csv_rows(path)
    cols = column_index(path, header, ("index", "mid", "display_name"))
    out: dict[str, str] = {}
    for number, row in iter_rows(path, header, rows):
        mid, name = row[cols["mid"]].strip(), row[cols["display_name"]].strip()
        if not mid:
            raise DataError(path, "empty mid", row=number, field="mid")
        if not name:
            raise DataError(path, f"empty display_name for {mid!r}", row=number, field="display_name")
        if mid in out:
            raise DataError(path, f"duplicated mid {mid!r}", row=number, field="mid")
        out[mid] = name
    return out


def read_segment_labels(path: Path, wanted: set[str], known: dict[str, str]) -> dict[str, list[str]]:
    """``{youtube_id: [mid, ...]}`` for the wanted ids of one AudioSet segments file.

    Lines starting with ``#`` are comments; data lines are ``YTID, start_seconds, end_seconds, "mid1,mid2"``.
    Row numbers in errors are line numbers.
    """
    text = read_text(path)
    out: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        ytid = stripped.split(",", 1)[0].strip()
        if ytid not in wanted:
            continue
        try:
            fields = next(csv.reader(io.StringIO(stripped), skipinitialspace=True, strict=True))
        except csv.Error as exc:
            raise DataError(path, f"not a parsable segments line ({exc})", row=number) from None
        if len(fields) != 4:
            raise DataError(path, f"expected 4 fields (YTID, start_seconds, end_seconds, positive_labels), "
                                  f"got {len(fields)}", row=number)
        for column, value in zip(("start_seconds", "end_seconds"), fields[1:3]):
            try:
                float(value)
            except ValueError:
                raise DataError(path, f"{value!r} is not a number", row=number, field=column) from None
        mids = [m.strip() for m in fields[3].split(",") if m.strip()]
        if not mids:
            raise DataError(path, "no labels", row=number, field="positive_labels")
        unknown = [m for m in mids if m not in known]
        if unknown:
            raise DataError(path, f"label {unknown[0]!r} is not in {LABELS_FILE}", row=number,
                            field="positive_labels")
        labels = out.setdefault(ytid, [])
        labels.extend(m for m in mids if m not in labels)
    return out


def read_audioset_keywords(labels_dir: Path, wanted: set[str]) -> tuple[dict[str, tuple[str, ...]], bool]:
    """``({youtube_id: keywords}, has_metadata)`` from the label files in ``labels_dir`` (see module docstring)."""
    labels_path = labels_dir / LABELS_FILE
    segments = sorted(labels_dir.glob(SEGMENTS_GLOB))
    if not segments:
        return {}, False
    if not labels_path.is_file():
        raise DataError(labels_path, f"AudioSet segment files found ({', '.join(p.name for p in segments)}) but "
                                     f"not the class labels file that names their labels")
    known = read_class_labels(labels_path)
    mids: dict[str, list[str]] = {}
    for path in segments:
        for ytid, labels in read_segment_labels(path, wanted, known).items():
            merged = mids.setdefault(ytid, [])
            merged.extend(m for m in labels if m not in merged)
    out = {}
    for ytid, labels in mids.items():
        names: list[str] = []
        for mid in labels:
            name = known[mid].strip().lower()
            if name not in names:
                names.append(name)
        out[ytid] = tuple(names)
    return out, True


# --------------------------------------------------------------------------------------------- loading
def load_audiocaps_split(root: str | Path, split: str, *, audio_pattern: str = DEFAULT_AUDIO_PATTERN,
                         labels_dir: str | Path | None = None, strict: bool = False) -> Split:
    """Read one split (``train``, ``val``, ``test`` or any ``<split>.csv``) of an AudioCaps folder.

    ``strict=False`` (the default: real downloads always miss some clips) leaves clips without audio out and
    lists their expected paths (relative to the root) in ``missing_audio``; ``strict=True`` raises DataError
    naming the CSV row. Malformed rows are DataErrors naming file, row and field.
    """
    root = Path(root)
    path = captions_csv(root, split)
    if not path.is_file():
        if not root.is_dir():
            raise DataError(path, f"captions file not found: data folder {root} does not exist")
        listing = ", ".join(sorted(p.name for p in root.glob("*.csv"))) or "none"
        raise DataError(path, f"AudioCaps captions file for split {split!r} not found (CSV files in {root}: "
                              f"{listing}; expected train.csv, val.csv, test.csv)")
    header, rows = read_csv_rows(path)
    cols = column_index(path, header, CAPTION_HEADER)
    clips: dict[tuple[str, str], dict] = {}
    ids: dict[int, int] = {}
    for number, row in iter_rows(path, header, rows):
        raw_id = row[cols["audiocap_id"]].strip()
        try:
            cap_id = int(raw_id)
        except ValueError:
            raise DataError(path, f"audiocap_id {raw_id!r} is not an integer", row=number,
                            field="audiocap_id") from None
        if cap_id in ids:
            raise DataError(path, f"duplicated audiocap_id {cap_id} (first at row {ids[cap_id]})", row=number,
                            field="audiocap_id")
        ids[cap_id] = number
        ytid = row[cols["youtube_id"]].strip()
        if not ytid:
            raise DataError(path, "empty youtube_id", row=number, field="youtube_id")
        start = row[cols["start_time"]].strip()
        try:
            float(start)
        except ValueError:
            raise DataError(path, f"start_time {start!r} is not a number", row=number, field="start_time") from None
        caption = clean_caption(row[cols["caption"]])
        if not caption:
            raise DataError(path, f"empty caption (audiocap_id {cap_id})", row=number, field="caption")
        clip = clips.setdefault((ytid, start), {"row": number, "audiocap_id": cap_id, "captions": []})
        clip["captions"].append(caption)

    wanted = {ytid for ytid, _ in clips}
    keywords, has_metadata = read_audioset_keywords(Path(labels_dir) if labels_dir is not None else root, wanted)
    recordings: list[Recording] = []
    missing: list[str] = []
    for (ytid, start), clip in clips.items():
        candidates = audio_candidates(root, audio_pattern, split=split, youtube_id=ytid, start_time=start,
                                      audiocap_id=str(clip["audiocap_id"]))
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            if strict:
                raise DataError(path, f"audio for clip {ytid!r} (start {start}) not found: expected "
                                      f"{' or '.join(map(str, candidates))}", row=clip["row"], field="youtube_id")
            missing.append(candidates[0].relative_to(root).as_posix())
            continue
        recordings.append(Recording(file_name=found.relative_to(root).as_posix(), path=found,
                                    captions=tuple(clip["captions"]), keywords=keywords.get(ytid, ()),
                                    source_id=ytid))
    return Split(name=split, root=root, recordings=tuple(recordings), missing_audio=tuple(missing),
                 has_metadata=has_metadata)
