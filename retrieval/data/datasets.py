"""Data set name -> split loader: ``clotho``, ``synthcaps`` (ClothoV2 layout), ``audiocaps``, ``wavcaps``.

Every loader returns the same :class:`~retrieval.data.clotho.Split` of
:class:`~retrieval.data.clotho.Recording` objects, so training and evaluation do not care where a split came from.

Splits have roles: ``train``, ``val`` and ``test``. ClothoV2 (and SynthCaps) call them ``development``,
``validation`` and ``evaluation``; AudioCaps ``train``, ``val`` and ``test``; WavCaps has only ``train``
(a pre-training set without an official split). :func:`split_name` accepts either naming for every data set, so
the config defaults (the Clotho names) work for AudioCaps too.

Missing audio: ClothoV2 and SynthCaps are released complete, so a missing file is an error (``strict=True``);
AudioCaps and WavCaps audio is downloaded or converted by the user and always incomplete, so missing clips are
counted in ``Split.missing_audio`` and left out (``strict=False``).

Example::

    >>> split = load_split("audiocaps", "/data/audiocaps", "evaluation")       # doctest: +SKIP
    >>> split.name, len(split.recordings), len(split.missing_audio)           # doctest: +SKIP
    ('test', 957, 18)
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .audio import audio_duration
from .clotho import MISSING_LISTED, Split
from .errors import DataError

DATASETS: tuple[str, ...] = ("clotho", "audiocaps", "wavcaps", "synthcaps")
#: role -> split name, per data set
ROLES: dict[str, dict[str, str]] = {
    "clotho": {"train": "development", "val": "validation", "test": "evaluation"},
    "synthcaps": {"train": "development", "val": "validation", "test": "evaluation"},
    "audiocaps": {"train": "train", "val": "val", "test": "test"},
    "wavcaps": {"train": "train"},
}
_CLOTHO_NAMES = {"development": "train", "validation": "val", "evaluation": "test"}


@dataclass(frozen=True)
class LoadOptions:
    """Format options of the AudioCaps and WavCaps loaders (``data.audiocaps.*`` / ``data.wavcaps.*``)."""

    audiocaps_audio_pattern: str = "audio/{split}/{youtube_id}_{start_time}.{ext}"
    audiocaps_labels_dir: str | None = None
    wavcaps_audio_pattern: str = "audio/{source}/{id}.flac"
    wavcaps_exclude: str | None = None

    @classmethod
    def from_config(cls, data_cfg: Any) -> "LoadOptions":
        """From a :class:`retrieval.config.DataConfig`."""
        return cls(audiocaps_audio_pattern=data_cfg.audiocaps.audio_pattern,
                   audiocaps_labels_dir=data_cfg.audiocaps.labels_dir,
                   wavcaps_audio_pattern=data_cfg.wavcaps.audio_pattern,
                   wavcaps_exclude=data_cfg.wavcaps.exclude)


def _check_dataset(dataset: str) -> None:
    if dataset not in ROLES:
        raise ValueError(f"unknown data set {dataset!r} (known: {', '.join(DATASETS)})")


def role_split(dataset: str, role: str) -> str | None:
    """The split of ``dataset`` that plays ``role`` (``train``/``val``/``test``), or None if it has none."""
    _check_dataset(dataset)
    return ROLES[dataset].get(role)


def split_name(dataset: str, name: str) -> str:
    """``name`` in the data set's own naming: the Clotho names map to the split of the same role
    (``split_name("audiocaps", "evaluation") == "test"``); any other name is returned as is."""
    _check_dataset(dataset)
    own = ROLES[dataset]
    if name in own.values():
        return name
    role = _CLOTHO_NAMES.get(name)
    if role is not None and role in own:
        return own[role]
    return name


def default_strict(dataset: str) -> bool:
    return dataset in ("clotho", "synthcaps")


def load_split(dataset: str, root: str | Path, split: str, *, strict: bool | None = None,
               options: LoadOptions | None = None) -> Split:
    """One split of ``dataset`` in ``root`` (``split`` in either naming, see :func:`split_name`).

    ``strict=None`` uses the data set's default (see the module docstring). Raises DataError for bad files.
    """
    _check_dataset(dataset)
    opts = options or LoadOptions()
    name = split_name(dataset, split)
    strict = default_strict(dataset) if strict is None else strict
    if dataset in ("clotho", "synthcaps"):
        from .clotho import load_clotho_split

        return load_clotho_split(root, name, strict=strict)
    if dataset == "audiocaps":
        from .audiocaps import load_audiocaps_split

        return load_audiocaps_split(root, name, audio_pattern=opts.audiocaps_audio_pattern,
                                    labels_dir=opts.audiocaps_labels_dir, strict=strict)
    from .wavcaps import load_wavcaps_split

    return load_wavcaps_split(root, name, audio_pattern=opts.wavcaps_audio_pattern, exclude=opts.wavcaps_exclude,
                              strict=strict)


def available_splits(dataset: str, root: str | Path) -> list[str]:
    """The splits of ``dataset`` whose files exist in ``root``."""
    _check_dataset(dataset)
    if dataset in ("clotho", "synthcaps"):
        from .clotho import available_splits as clotho_splits

        return clotho_splits(root)
    if dataset == "audiocaps":
        from .audiocaps import available_splits as audiocaps_splits

        return audiocaps_splits(root)
    from .wavcaps import available_splits as wavcaps_splits

    return wavcaps_splits(root)


def concat_splits(splits: Sequence[Split], name: str | None = None) -> Split:
    """The recordings of several splits one after the other (training on a combination of data sets)."""
    if not splits:
        raise ValueError("concat_splits: no splits")
    if len(splits) == 1 and name is None:
        return splits[0]
    return Split(name=name or "+".join(s.name for s in splits), root=splits[0].root,
                 recordings=tuple(r for s in splits for r in s.recordings),
                 missing_audio=tuple(m for s in splits for m in s.missing_audio),
                 has_metadata=any(s.has_metadata for s in splits),
                 excluded=tuple(e for s in splits for e in s.excluded))


def split_stats(split: Split, *, durations: bool = True) -> dict[str, Any]:
    """The ``data summary`` fields of one split (JSON-serialisable).

    ``recordings``: listed and with audio present; ``captions``: of those recordings; ``with_keywords``: those
    with at least one keyword; ``missing_audio``: listed, audio absent (found with exactly the lookup training
    uses), ``missing_files``: the first :data:`~retrieval.data.clotho.MISSING_LISTED` of them, as listed;
    ``excluded``: listed but left out on purpose (WavCaps: zero duration or exclusion list; 0 elsewhere).
    ``mean_duration_s`` is read from the audio headers (``durations=False``: not computed, 0.0).
    """
    recs = split.recordings
    counts: Counter[str] = Counter(k for r in recs for k in r.keywords)
    lengths = [audio_duration(r.path) for r in recs] if durations else []
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return {
        "recordings": int(len(recs)),
        "captions": int(split.n_captions),
        "with_keywords": int(sum(1 for r in recs if r.keywords)),
        "missing_audio": int(len(split.missing_audio)),
        "missing_files": list(split.missing_audio[:MISSING_LISTED]),
        "excluded": int(len(split.excluded)),
        "has_metadata": bool(split.has_metadata),
        "mean_duration_s": float(statistics.fmean(lengths)) if lengths else 0.0,
        "mean_keywords": float(statistics.fmean(len(r.keywords) for r in recs)) if recs else 0.0,
        "distinct_keywords": int(len(counts)),
        "top_keywords": [[kw, int(n)] for kw, n in top],
    }


def summarize(dataset: str, root: str | Path, *, options: LoadOptions | None = None,
              splits: Sequence[str] | None = None, durations: bool = True) -> dict[str, dict[str, Any]]:
    """``{split: split_stats}`` for every split present (or ``splits``), never strict about missing audio.

    The splits are read by the loaders training uses, with the same audio lookup, so ``missing_audio`` is exactly
    what training would miss. Every split also gets ``strict``: True when training stops at a missing file
    (ClothoV2, SynthCaps; :func:`default_strict`), so a summary with ``strict`` and ``missing_audio > 0`` means
    training on that split would fail (``data summary`` then exits with status 1). WavCaps adds
    ``excluded_zero_duration``, ``excluded_list`` and ``sources`` (the same counts per source).
    """
    _check_dataset(dataset)
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "data folder does not exist")
    names = available_splits(dataset, root) if splits is None else [split_name(dataset, s) for s in splits]
    if not names:
        expected = {"clotho": "clotho_captions_<split>.csv", "synthcaps": "clotho_captions_<split>.csv",
                    "audiocaps": "train.csv, val.csv or test.csv",
                    "wavcaps": "json_files/<source>/<name>.json"}[dataset]
        raise DataError(root, f"no {dataset} split found (expected {expected})")
    out: dict[str, dict[str, Any]] = {}
    opts = options or LoadOptions()
    for name in names:
        if dataset == "wavcaps":
            from .wavcaps import scan_wavcaps

            split, per_source = scan_wavcaps(root, name, audio_pattern=opts.wavcaps_audio_pattern,
                                             exclude=opts.wavcaps_exclude)
            stats = split_stats(split, durations=durations)
            stats["excluded_zero_duration"] = sum(s["excluded_zero_duration"] for s in per_source.values())
            stats["excluded_list"] = sum(s["excluded_list"] for s in per_source.values())
            stats["sources"] = per_source
        else:
            split = load_split(dataset, root, name, strict=False, options=opts)
            stats = split_stats(split, durations=durations)
        stats["strict"] = default_strict(dataset)
        out[name] = stats
    return out
