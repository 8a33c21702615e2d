"""Caption variation files: extra captions per recording, swapped in for a training caption with probability ``p``.

The DCASE 2023 system (Primus et al., ClothoV2_GPT) asked GPT-3.5 to rephrase every ClothoV2 training caption
with the recording's keywords and, while fine-tuning, swapped a caption for one of its rephrasings with
probability 0.3. A variation file is JSON, one entry per recording file name (as in the captions CSV)::

    {"Bird song at dawn.wav": ["Birds sing as the sun rises.", "Chirping birds at daybreak.", ...], ...}

An entry may also map each original caption to its own variations (then only those are swapped in for that
caption; another caption of the recording is swapped for any of the recording's variations)::

    {"Bird song at dawn.wav": {"A bird sings at dawn.": ["Birds sing as the sun rises.", ...], ...}, ...}

Errors: a missing file, a file that is not JSON (line and column named), or an entry of the wrong shape (named by
its key) is a :class:`~retrieval.data.errors.DataError`. File names that match no training recording are NOT an
error (variation files usually cover the whole development split, and ``max_train_items`` uses part of it): they
are counted and reported in one warning. File names are matched like the Clotho loader matches audio files: the
literal name, the HTML-unescaped one and their NFC/NFD forms.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from retrieval.data.clotho import clean_caption, name_variants
from retrieval.data.errors import DataError

__all__ = ["CaptionVariations", "load_variations"]


@dataclass(frozen=True)
class CaptionVariations:
    """Variations per file name: all of a file's variations, and per original caption where the file gives them."""

    path: str
    by_file: dict[str, tuple[str, ...]]
    by_caption: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    unmatched: int = 0  # set by match(): entries that matched no recording

    def __len__(self) -> int:
        return len(self.by_file)

    def choices(self, key: str | None, caption: str) -> tuple[str, ...]:
        """The variations that may replace ``caption`` of the recording with variation key ``key``."""
        if key is None:
            return ()
        per_caption = self.by_caption.get(key)
        if per_caption and caption in per_caption:
            return per_caption[caption]
        return self.by_file.get(key, ())

    def match(self, file_names: Sequence[str | None], *, warn: bool = False) -> list[str | None]:
        """The variation key of each recording (None: no entry, or the recording is not eligible).

        With ``warn=True`` a single warning counts the entries that name no recording of ``file_names``.
        """
        spelling: dict[str, str] = {}
        for key in self.by_file:
            for cand in name_variants(key):
                spelling.setdefault(cand, key)
        keys: list[str | None] = []
        for name in file_names:
            found = None
            if name is not None:
                for cand in name_variants(name):
                    if cand in spelling:
                        found = spelling[cand]
                        break
            keys.append(found)
        used = {k for k in keys if k is not None}
        unmatched = len(self.by_file) - len(used)
        object.__setattr__(self, "unmatched", unmatched)
        if warn and unmatched:
            msg = (f"{self.path}: {unmatched} of {len(self.by_file)} caption-variation entries name files that are "
                   f"not among the training recordings (ignored); {len(used)} recordings have variations")
            warnings.warn(msg, stacklevel=2)
            print(f"warning: {msg}", file=sys.stderr)
        return keys


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


def load_variations(path: str | Path) -> CaptionVariations:
    """Read and check a variation file (see the module docstring)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(path, "caption variation file not found (augment.variations.file)")
    try:
        obj = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text (byte {exc.start}): a variation file is JSON") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a JSON object mapping file names to lists of captions, got "
                              f"{type(obj).__name__}")
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
