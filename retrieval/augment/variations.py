"""Caption variation files: extra captions, swapped in for a training caption with probability ``p``.

The DCASE 2023 system (Primus et al., ClothoV2_GPT) asked GPT-3.5 to rephrase every ClothoV2 training caption
with the recording's keywords and, while fine-tuning, swapped a caption for one of *its own* rephrasings with
probability 0.3. Two formats are read:

**The released list** (``clotho_gpt/variations.json`` of the paper's repository), used as it is: a JSON list with
one record per caption::

    [{"idx": 0, "path": "/mnt/authors/clotho/development/ Ambience Birds.wav", "caption": "Birds chirp ...",
      "query": "...", "response": "...", "variations": ["Birds are chirping ...", ...], "finish_reason": "stop",
      "usage": {...}}, ...]

A record is paired with a training caption by the base name of ``path`` (the Clotho file name, kept as written,
leading space included; matched like the Clotho loader matches audio files, :mod:`retrieval.data.names`) plus its
``caption`` -- never by ``idx``, since row order is not a safe key. The caption is compared with the recording's
captions as training sees them (HTML-unescaped, stripped: :func:`~retrieval.data.clotho.clean_caption`): first
exactly, then normalised (entities unescaped, Unicode NFKC, case folded, punctuation and runs of whitespace made
one space). A training caption is then swapped only for the variations of its own record(s), as in the paper.
Only ``path``, ``caption`` and ``variations`` are read; the other fields are ignored. A record that is not an
object, or lacks a non-empty ``path`` or ``caption`` string or a non-empty ``variations`` list of strings, is a
:class:`~retrieval.data.errors.DataError` naming the file and the record index.

**The project's own mapping**, one entry per recording file name (as in the captions CSV)::

    {"Bird song at dawn.wav": ["Birds sing as the sun rises.", "Chirping birds at daybreak.", ...], ...}

An entry may also map each original caption to its own variations (then only those are swapped in for that
caption; another caption of the recording is swapped for any of the recording's variations)::

    {"Bird song at dawn.wav": {"A bird sings at dawn.": ["Birds sing as the sun rises.", ...], ...}, ...}

Errors: a missing file, a file that is not JSON (line and column named), or an entry of the wrong shape (named by
its key) is a :class:`~retrieval.data.errors.DataError`. File names (or records) that match no training recording
are NOT an error (variation files usually cover the whole development split, and ``max_train_items`` uses part of
it): they are counted in :attr:`CaptionVariations.stats` (``metrics.json`` -> ``extra.variations``) and reported in
one warning. File names of the mapping are matched like the Clotho loader matches audio files
(:class:`~retrieval.data.names.NameIndex`: the literal name, the HTML-unescaped one, their NFC/NFD forms, then the
name without surrounding whitespace when that is unambiguous).
"""

from __future__ import annotations

import html
import json
import sys
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from retrieval.data.clotho import clean_caption
from retrieval.data.errors import DataError
from retrieval.data.names import NameIndex, base_name

__all__ = ["SYNTHCAPS_VARIATIONS", "CaptionVariations", "VariationRecord", "VariationStep", "build_variations",
           "load_variations", "normalise_caption", "variations_path"]

#: ``augment.variations.file: synthcaps``: the variations file SynthCaps (2.0.0 and later) writes into its data
#: folder (``variations_development.json``, the released list format)
SYNTHCAPS_VARIATIONS = "synthcaps"

MAPPING = "mapping"
RELEASED = "released"


def normalise_caption(text: str) -> str:
    """The loose form two captions are compared in when they differ: HTML entities unescaped, NFKC, case folded,
    every punctuation character a space, runs of whitespace one space, no surrounding whitespace."""
    text = unicodedata.normalize("NFKC", html.unescape(text)).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(text.split())


@dataclass(frozen=True)
class VariationRecord:
    """One record of the released list: its index in the file, the base name of its ``path`` and its ``caption``
    (both as written) and its variations (cleaned like captions)."""

    index: int
    name: str
    caption: str
    variations: tuple[str, ...]


@dataclass(frozen=True)
class CaptionVariations:
    """Variations per file name (the mapping format) or per caption (the released list, paired by :meth:`match`).

    ``by_file``: all of a file's variations; ``by_caption``: per original caption where known. After
    :meth:`match`, ``stats`` holds the counts recorded in ``metrics.json`` (``extra.variations``).
    """

    path: str
    by_file: dict[str, tuple[str, ...]]
    by_caption: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    unmatched: int = 0  # set by match(): entries / records that matched no recording (or caption)
    records: tuple[VariationRecord, ...] = ()
    format: str = MAPPING  # "mapping" | "released"
    stats: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records) if self.format == RELEASED else len(self.by_file)

    def choices(self, key: str | None, caption: str) -> tuple[str, ...]:
        """The variations that may replace ``caption`` of the recording with variation key ``key``.

        Released list: only the caption's own variations (nothing for a caption without a record). Mapping: the
        caption's own where the entry gives them per caption, else all of the file's."""
        if key is None:
            return ()
        per_caption = self.by_caption.get(key)
        if self.format == RELEASED:
            return per_caption.get(caption, ()) if per_caption else ()
        if per_caption and caption in per_caption:
            return per_caption[caption]
        return self.by_file.get(key, ())

    def match(self, file_names: Sequence[str | None], captions: Sequence[Sequence[str]] | None = None, *,
              warn: bool = False) -> list[str | None]:
        """The variation key of each recording (None: no entry, or the recording is not eligible).

        ``captions[i]`` are recording ``i``'s captions as training uses them; the released list needs them (it is
        paired per caption), the mapping format uses them for the counts only. Fills :attr:`stats`. With
        ``warn=True`` a single warning counts the entries / records that match nothing.
        """
        if captions is not None and len(captions) != len(file_names):
            raise ValueError(f"{len(captions)} caption lists for {len(file_names)} recordings")
        if self.format == RELEASED:
            if captions is None:
                raise ValueError("the released variations list is paired per caption: match() needs the captions")
            keys = self._match_released(file_names, captions)
        else:
            keys = self._match_mapping(file_names, captions)
        object.__setattr__(self, "unmatched", self.stats["unmatched_records"])
        if warn and self.stats["unmatched_records"]:
            msg = self._warning()
            warnings.warn(msg, stacklevel=2)
            print(f"warning: {msg}", file=sys.stderr)
        return keys

    # ------------------------------------------------------------------------------------------------ matching
    def _match_mapping(self, file_names, captions) -> list[str | None]:
        entries = list(self.by_file)
        index = NameIndex(entries)
        keys: list[str | None] = []
        for name in file_names:
            pos = index.index(name) if name is not None else None
            keys.append(entries[pos] if pos is not None else None)
        used = {k for k in keys if k is not None}
        stats: dict[str, Any] = {
            "format": MAPPING, "file": self.path, "records": len(self.by_file), "matched_records": len(used),
            "unmatched_records": len(self.by_file) - len(used),
            "matched_recordings": sum(1 for k in keys if k is not None)}
        stats.update(self._caption_counts(file_names, captions, keys))
        object.__setattr__(self, "stats", stats)
        return keys

    def _match_released(self, file_names, captions) -> list[str | None]:
        eligible = [i for i, n in enumerate(file_names) if n is not None]
        index = NameIndex(file_names[i] for i in eligible)
        groups: dict[int, list[VariationRecord]] = {}
        unmatched_file = 0
        for rec in self.records:
            pos = index.index(rec.name)
            if pos is None:
                unmatched_file += 1
                continue
            groups.setdefault(eligible[pos], []).append(rec)
        by_caption: dict[str, dict[str, tuple[str, ...]]] = {}
        keys: list[str | None] = [None] * len(file_names)
        levels = {"exact": 0, "normalised": 0}
        unmatched_caption = 0
        for r, recs in groups.items():
            caps = list(captions[r])
            exact: dict[str, list[int]] = {}
            loose: dict[str, list[int]] = {}
            for p, c in enumerate(caps):
                exact.setdefault(c, []).append(p)
                loose.setdefault(normalise_caption(c), []).append(p)
            taken = [False] * len(caps)
            per_text: dict[str, tuple[str, ...]] = {}
            for rec in recs:
                positions = exact.get(rec.caption) or exact.get(clean_caption(rec.caption))
                level = "exact"
                if not positions:
                    positions, level = loose.get(normalise_caption(rec.caption)), "normalised"
                if not positions:
                    unmatched_caption += 1
                    continue
                free = [p for p in positions if not taken[p]]
                p = free[0] if free else positions[0]  # a second record of the same caption: merged into it
                taken[p] = True
                levels[level] += 1
                text = caps[p]
                per_text[text] = tuple(dict.fromkeys(per_text.get(text, ()) + rec.variations))
            if per_text:
                key = file_names[r]
                by_caption[key] = per_text
                keys[r] = key
        object.__setattr__(self, "by_caption", by_caption)
        object.__setattr__(self, "by_file", {})
        unmatched = unmatched_file + unmatched_caption
        stats: dict[str, Any] = {
            "format": RELEASED, "file": self.path, "records": len(self.records),
            "matched_records": len(self.records) - unmatched, "unmatched_records": unmatched,
            "unmatched_records_file": unmatched_file, "unmatched_records_caption": unmatched_caption,
            "matched_exact": levels["exact"], "matched_normalised": levels["normalised"],
            "matched_recordings": sum(1 for k in keys if k is not None)}
        stats.update(self._caption_counts(file_names, captions, keys))
        object.__setattr__(self, "stats", stats)
        return keys

    def _caption_counts(self, file_names, captions, keys) -> dict[str, int | None]:
        if captions is None:
            return {"training_captions": None, "eligible_captions": None, "matched_captions": None,
                    "unmatched_captions": None}
        total = sum(len(c) for c in captions)
        eligible = sum(len(c) for c, n in zip(captions, file_names) if n is not None)
        matched = sum(1 for c, k in zip(captions, keys) if k is not None for text in c if self.choices(k, text))
        return {"training_captions": total, "eligible_captions": eligible, "matched_captions": matched,
                "unmatched_captions": eligible - matched}

    def _warning(self) -> str:
        s = self.stats
        if s["format"] == RELEASED:
            return (f"{self.path}: {s['unmatched_records']} of {s['records']} caption-variation records match no "
                    f"training caption ({s['unmatched_records_file']} name files that are not among the training "
                    f"recordings, {s['unmatched_records_caption']} captions not found for their file; ignored); "
                    f"{s['matched_captions']} of {s['eligible_captions']} training captions have variations")
        return (f"{self.path}: {s['unmatched_records']} of {s['records']} caption-variation entries name files that "
                f"are not among the training recordings (ignored); {s['matched_recordings']} recordings have "
                f"variations")


# ---------------------------------------------------------------------------------------------------- loading
def _strings(value: Any, path: Path, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise DataError(path, f"expected a list of captions, got {type(value).__name__}", field=where)
    out: list[str] = []
    for i, v in enumerate(value):
        if isinstance(v, list):  # [[variations of caption 1], [variations of caption 2], ...]: flattened
            out.extend(_strings(v, path, f"{where}[{i}]"))
            continue
        if not isinstance(v, str) or not clean_caption(v):
            raise DataError(path, f"expected a non-empty caption string, got {v!r}", field=f"{where}[{i}]")
        out.append(clean_caption(v))
    return tuple(dict.fromkeys(out))


def _short(value: Any, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 1] + "…"


def _released_records(path: Path, items: list) -> tuple[VariationRecord, ...]:
    """Check and read the released list (see the module docstring); errors name the record index."""
    if not items:
        raise DataError(path, "the list holds no records (expected the released clotho_gpt/variations.json: "
                              "[{\"path\", \"caption\", \"variations\", ...}, ...])")
    out: list[VariationRecord] = []
    for i, rec in enumerate(items):
        where = f"record {i}"
        if not isinstance(rec, dict):
            raise DataError(path, f"{where}: expected a JSON object with path, caption and variations (as in the "
                                  f"released list), got {type(rec).__name__} {_short(rec)}")
        if "variations" not in rec:
            keys = ", ".join(map(str, rec)) or "none"
            raise DataError(path, f"{where}: no 'variations' (the record has: {keys})")
        variations = rec["variations"]
        if not isinstance(variations, list) or not variations:
            raise DataError(path, f"{where}: 'variations' must be a non-empty list of caption strings, got "
                                  f"{_short(variations)}")
        cleaned: list[str] = []
        for k, v in enumerate(variations):
            if not isinstance(v, str) or not clean_caption(v):
                raise DataError(path, f"{where}: variations[{k}] must be a non-empty caption string, got {_short(v)}")
            cleaned.append(clean_caption(v))
        for key, what in (("path", "the audio file's path"), ("caption", "the original caption")):
            value = rec.get(key)
            if not isinstance(value, str) or not value.strip():
                raise DataError(path, f"{where}: '{key}' must be a non-empty string ({what}), got {_short(value)}")
        name = base_name(rec["path"])
        if not name.strip():
            raise DataError(path, f"{where}: 'path' {_short(rec['path'])} does not end in a file name")
        out.append(VariationRecord(index=i, name=name, caption=rec["caption"],
                                   variations=tuple(dict.fromkeys(cleaned))))
    return tuple(out)


def variations_path(value: str | Path, synthcaps_root: str | Path | None = None) -> Path:
    """The file ``augment.variations.file`` names: :data:`SYNTHCAPS_VARIATIONS` is the generated SynthCaps data set's
    own file (``synthcaps_root``), anything else a path."""
    if str(value) == SYNTHCAPS_VARIATIONS:
        if synthcaps_root is None:
            raise DataError(Path(SYNTHCAPS_VARIATIONS), "augment.variations.file: synthcaps names the variations "
                                                        "file of the SynthCaps data set, but SynthCaps is not used")
        from retrieval.data.synthcaps.writer import VARIATIONS_NAME

        return Path(synthcaps_root) / VARIATIONS_NAME
    return Path(value).expanduser()


def load_variations(path: str | Path) -> CaptionVariations:
    """Read and check a variation file in either format (see the module docstring)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(path, "caption variation file not found (augment.variations.file)")
    try:
        obj = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text (byte {exc.start}): a variation file is JSON") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if isinstance(obj, list):
        return CaptionVariations(path=str(path), by_file={}, records=_released_records(path, obj), format=RELEASED)
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a JSON object mapping file names to lists of captions, or the released "
                              f"list of records, got {type(obj).__name__}")
    by_file: dict[str, tuple[str, ...]] = {}
    by_caption: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, value in obj.items():
        if not name.strip():
            raise DataError(path, "empty file name as a key")
        if isinstance(value, dict):
            per: dict[str, tuple[str, ...]] = {}
            for caption, variants in value.items():
                per[clean_caption(caption)] = _strings(variants, path, f"{name}.{caption}")
            by_caption[name] = per
            by_file[name] = tuple(dict.fromkeys(v for vs in per.values() for v in vs))
        else:
            by_file[name] = _strings(value, path, name)
    return CaptionVariations(path=str(path), by_file=by_file, by_caption=by_caption)


# --------------------------------------------------------------------------------------------- registry entry
class VariationStep:
    """The ``variations`` text augmentation: per caption, ``rng.random() < p`` (always drawn), then one of the
    recording's variations (``rng.integers``) when it is swapped and there are any. Counted when swapped."""

    def __init__(self, variations: CaptionVariations, p: float):
        self.variations, self.p = variations, p

    def __call__(self, caption: str, rng, key: str | None) -> tuple[str, bool]:
        swap = rng.random() < self.p
        choices = self.variations.choices(key, caption)
        if swap and choices:
            return choices[int(rng.integers(len(choices)))], True
        return caption, False


def build_variations(cfg: Any, *, variations: CaptionVariations | None = None,
                     **resources: Any) -> VariationStep | None:
    """``variations`` (``augment.variations``): on when ``p > 0`` and the run loaded the ``variations`` file."""
    return VariationStep(variations, cfg.p) if variations is not None and cfg.p > 0 else None
