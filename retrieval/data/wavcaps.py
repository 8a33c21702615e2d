"""The WavCaps release (Hugging Face ``cvssp/WavCaps``): one JSON file per source, audio converted by the user.

::

    <root>/json_files/AudioSet_SL/as_final.json
    <root>/json_files/BBC_Sound_Effects/bbc_final.json
    <root>/json_files/FreeSound/fsd_final.json
    <root>/json_files/SoundBible/sb_final.json
    <root>/audio/<source>/<id>.flac                    the audio (pattern configurable; <source> = JSON folder)
    <root>/*excluded_freesound_ids.csv                 optional: FreeSound ids to leave out (column sound_id)

Each JSON file is ``{"num_captions_per_audio": 1, "data": [{"id": ..., "caption": ..., "duration": ...,
"audio": ..., <source fields>}, ...]}``. The source fields become keywords: FreeSound ``tags`` (a list),
BBC Sound Effects ``category`` (a list, or a string holding a Python list literal such as ``"['Birds']"``, or a
plain string), SoundBible ``title`` (one keyword); AudioSet_SL entries have none. An id that ends in ``.wav``
(AudioSet_SL: ``Y-0wJxM4pkYA.wav``) keeps only its stem for the audio path. Ids are kept as written (never
stripped, see :mod:`retrieval.data.names`); the audio of an id with surrounding whitespace is looked up under the
literal id first, then without the whitespace.

Left out, and counted in ``Split.excluded`` (not in ``missing_audio``): clips with a duration of 0, and FreeSound
clips whose id is on the exclusion list (WavCaps overlaps the Clotho evaluation sets; the list published for DCASE
removes those). ``exclude=None`` reads every ``*excluded_freesound_ids.csv`` in the root; ``exclude=()`` none.

WavCaps has no official split: it is a pre-training set, so every clip is in the one split ``train``.
A source whose JSON file is absent is skipped (``sources_found`` tells which were read); broken JSON or a malformed
entry is a :class:`DataError` naming the file and the entry (``data[17].caption``). Entries that repeat an id
within a source add their caption to the same clip.

:attr:`Recording.file_name` is the audio path relative to the root; :attr:`Recording.source_id` is
``<source>/<id>``.
"""

from __future__ import annotations

import ast
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .clotho import Recording, Split, clean_caption, column_index, iter_rows, read_csv_rows
from .errors import DataError

#: JSON folder (the ``{source}`` of the audio pattern) -> file name.
SOURCES: dict[str, str] = {
    "AudioSet_SL": "as_final.json",
    "BBC_Sound_Effects": "bbc_final.json",
    "FreeSound": "fsd_final.json",
    "SoundBible": "sb_final.json",
}
#: The source field that holds keywords, per source.
KEYWORD_FIELDS: dict[str, str | None] = {
    "AudioSet_SL": None,
    "BBC_Sound_Effects": "category",
    "FreeSound": "tags",
    "SoundBible": "title",
}
SPLITS: tuple[str, ...] = ("train",)
DEFAULT_AUDIO_PATTERN = "audio/{source}/{id}.flac"
EXCLUDE_GLOB = "*excluded_freesound_ids.csv"


def json_path(root: str | Path, source: str) -> Path:
    return Path(root) / "json_files" / source / SOURCES[source]


def available_splits(root: str | Path) -> list[str]:
    return ["train"] if any(json_path(root, s).is_file() for s in SOURCES) else []


# --------------------------------------------------------------------------------------------- exclusion list
def default_exclusion_files(root: str | Path) -> list[Path]:
    return sorted(Path(root).glob(EXCLUDE_GLOB))


def _norm_id(text: str) -> str:
    text = text.strip()
    return str(int(text)) if text.isdigit() else text


def read_exclusion_list(paths: Sequence[str | Path]) -> set[str]:
    """The FreeSound ids of every file (CSV with a ``sound_id`` column; other columns are ignored)."""
    out: set[str] = set()
    for p in paths:
        path = Path(p)
        header, rows = read_csv_rows(path)
        col = column_index(path, header, ("sound_id",))["sound_id"]
        for number, row in iter_rows(path, header, rows):
            value = row[col].strip()
            if not value:
                raise DataError(path, "empty sound_id", row=number, field="sound_id")
            out.add(_norm_id(value))
    return out


# --------------------------------------------------------------------------------------------- JSON
def _read_json(path: Path) -> list[Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read file: {exc.strerror or exc}") from None
    try:
        obj = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text (byte {exc.start}): not a WavCaps JSON file") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"broken JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        found = f"keys {', '.join(map(str, obj))}" if isinstance(obj, dict) else type(obj).__name__
        raise DataError(path, f'expected an object with a "data" list (as {{"num_captions_per_audio": 1, '
                              f'"data": [...]}}), found {found}')
    return obj["data"]


def _keywords(value: Any, path: Path, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise DataError(path, f"{value!r} looks like a list but cannot be read", field=field) from None
        else:
            value = [text]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int, float)) for v in value):
        raise DataError(path, f"expected a list of strings or a string, got {value!r}", field=field)
    out: list[str] = []
    for v in value:
        k = clean_caption(str(v)).lower()
        if k and k not in out:
            out.append(k)
    return tuple(out)


def _stem(clip_id: str) -> str:
    """``Y-0wJxM4pkYA.wav`` -> ``Y-0wJxM4pkYA`` (AudioSet_SL ids name the file); other ids unchanged."""
    return clip_id[:-4] if clip_id.lower().endswith(".wav") else clip_id


@dataclass
class _Clip:
    source: str
    id: str
    captions: list[str]
    keywords: tuple[str, ...]
    excluded: str | None  # None, "zero_duration" or "exclusion_list"


def read_source(root: Path, source: str, excluded_ids: set[str]) -> list[_Clip]:
    """The clips of one source JSON, grouped by id, in order of first appearance."""
    path = json_path(root, source)
    entries = _read_json(path)
    kw_field = KEYWORD_FIELDS[source]
    clips: dict[str, _Clip] = {}
    for i, entry in enumerate(entries):
        where = f"data[{i}]"
        if not isinstance(entry, dict):
            raise DataError(path, f"expected an object, got {type(entry).__name__}", field=where)
        raw_id = entry.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
            raise DataError(path, f"missing or empty id (got {raw_id!r})", field=f"{where}.id")
        clip_id = _stem(str(raw_id))  # as released; the audio lookup also tries it without surrounding whitespace
        caption = entry.get("caption")
        if not isinstance(caption, str) or not clean_caption(caption):
            raise DataError(path, f"missing or empty caption for id {clip_id!r} (got {caption!r})",
                            field=f"{where}.caption")
        duration = entry.get("duration")
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration != duration:
            raise DataError(path, f"duration of id {clip_id!r} is not a number (got {duration!r})",
                            field=f"{where}.duration")
        if duration < 0:
            raise DataError(path, f"negative duration {duration} for id {clip_id!r}", field=f"{where}.duration")
        keywords = _keywords(entry.get(kw_field), path, f"{where}.{kw_field}") if kw_field else ()
        reason = None
        if duration == 0:
            reason = "zero_duration"
        elif source == "FreeSound" and _norm_id(clip_id) in excluded_ids:
            reason = "exclusion_list"
        clip = clips.get(clip_id)
        if clip is None:
            clips[clip_id] = _Clip(source, clip_id, [clean_caption(caption)], keywords, reason)
        else:
            clip.captions.append(clean_caption(caption))
            clip.keywords = clip.keywords + tuple(k for k in keywords if k not in clip.keywords)
            clip.excluded = clip.excluded or reason
    return list(clips.values())


# --------------------------------------------------------------------------------------------- loading
def load_wavcaps_split(root: str | Path, split: str = "train", *, audio_pattern: str = DEFAULT_AUDIO_PATTERN,
                       exclude: str | Path | Sequence[str | Path] | None = None, strict: bool = False,
                       sources: Sequence[str] | None = None) -> Split:
    """Read WavCaps (every source whose JSON file exists, or ``sources``) as the one split ``train``.

    ``exclude``: an exclusion CSV or a list of them; None = every ``*excluded_freesound_ids.csv`` in the root.
    ``strict=False`` (default) lists clips without audio in ``missing_audio`` (paths relative to the root);
    ``strict=True`` raises DataError naming the JSON entry.
    """
    return scan_wavcaps(root, split, audio_pattern=audio_pattern, exclude=exclude, strict=strict,
                        sources=sources)[0]


def scan_wavcaps(root: str | Path, split: str = "train", *, audio_pattern: str = DEFAULT_AUDIO_PATTERN,
                 exclude: str | Path | Sequence[str | Path] | None = None, strict: bool = False,
                 sources: Sequence[str] | None = None) -> tuple[Split, dict[str, dict[str, int]]]:
    """:func:`load_wavcaps_split` plus per-source counts: ``{source: {recordings, captions, missing_audio,
    excluded_zero_duration, excluded_list}}`` for the sources read."""
    root = Path(root)
    if split not in SPLITS:
        raise DataError(root / "json_files", f"WavCaps has one split, 'train' (it is a pre-training set), "
                                             f"not {split!r}")
    if not (root / "json_files").is_dir():
        what = "does not exist" if not root.is_dir() else "has no json_files folder"
        raise DataError(root / "json_files", f"not a WavCaps folder: {root} {what} (expected json_files/"
                                             f"<source>/<name>.json, e.g. json_files/FreeSound/fsd_final.json)")
    unknown = [s for s in (sources or ()) if s not in SOURCES]
    if unknown:
        raise DataError(root / "json_files", f"unknown WavCaps source {unknown[0]!r} (known: {', '.join(SOURCES)})")
    wanted = list(sources) if sources is not None else list(SOURCES)
    found = [s for s in wanted if json_path(root, s).is_file()]
    if not found:
        raise DataError(root / "json_files", "no WavCaps JSON file found (expected "
                                             + ", ".join(str(json_path(root, s).relative_to(root)) for s in wanted)
                                             + ")")
    if exclude is None:
        exclusion_files = default_exclusion_files(root)
    elif isinstance(exclude, (str, Path)):
        exclusion_files = [Path(exclude)]
    else:
        exclusion_files = [Path(p) for p in exclude]
    excluded_ids = read_exclusion_list(exclusion_files)
    fields = {f for _, f, _, _ in string.Formatter().parse(audio_pattern) if f}
    recordings: list[Recording] = []
    missing: list[str] = []
    excluded: list[str] = []
    stats: dict[str, dict[str, int]] = {}
    for source in found:
        st = stats[source] = {"recordings": 0, "captions": 0, "missing_audio": 0, "excluded_zero_duration": 0,
                              "excluded_list": 0}
        for clip in read_source(root, source, excluded_ids):
            rels = [Path(audio_pattern.format(**{k: v for k, v in (("source", source), ("id", cid)) if k in fields}))
                    .as_posix() for cid in dict.fromkeys((clip.id, _stem(clip.id.strip())))]
            rel = next((r for r in rels if (root / r).is_file()), rels[0])
            path = root / rel
            if clip.excluded:
                excluded.append(rel)
                st["excluded_zero_duration" if clip.excluded == "zero_duration" else "excluded_list"] += 1
                continue
            if not path.is_file():
                if strict:
                    raise DataError(json_path(root, source), f"audio for id {clip.id!r} not found: expected {path}",
                                    field="id")
                missing.append(rel)
                st["missing_audio"] += 1
                continue
            recordings.append(Recording(file_name=rel, path=path, captions=tuple(clip.captions),
                                        keywords=clip.keywords, source_id=f"{source}/{clip.id}"))
            st["recordings"] += 1
            st["captions"] += len(clip.captions)
    split_obj = Split(name=split, root=root, recordings=tuple(recordings), missing_audio=tuple(missing),
                      has_metadata=any(KEYWORD_FIELDS[s] for s in found), excluded=tuple(excluded))
    return split_obj, stats
