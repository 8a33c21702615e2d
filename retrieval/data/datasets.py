"""Data set name -> split loader: ``clotho``, ``synthcaps`` (ClothoV2 layout), ``audiocaps``, ``wavcaps``.

The data sets are the entries of the registry ``DATASETS`` (declared in :mod:`retrieval.config.catalogue`; the config
checks ``data.dataset``, ``data.train_on`` and ``augment.variations.dataset``): each is a :class:`DataSetLoader` (how to
read its splits, which splits exist, how to make a generated set), with the static facts in its entry's ``meta``
(``roles``, ``strict``, ``generated``). Every function here looks the data set up there, so adding one is one
module (its loader) plus one entry (``DATASETS.declare(name, "module:LOADER", roles=..., strict=...)``).

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
import sys
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

from ..config import DATASETS
from ..utils import default_cache_dir
from .audio import audio_duration
from . import audiocaps, clotho, wavcaps
from .clotho import MISSING_LISTED, Split
from .errors import DataError

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

    def of(self, fmt: str) -> dict[str, Any]:
        """The options of the format ``fmt`` (the fields ``<fmt>_<option>``) as ``{option: value}``."""
        prefix = f"{fmt}_"
        return {f.name[len(prefix):]: getattr(self, f.name) for f in fields(self) if f.name.startswith(prefix)}


# --------------------------------------------------------------------------------------------- loaders
class DataSetLoader:
    """What a data set registers in ``DATASETS``: how to read its splits (in its own split names).

    The static facts are the entry's ``meta``: ``roles`` (role -> split name), ``strict`` (a missing audio file is
    an error), ``generated`` (no folder needed: :meth:`default_root` and :meth:`prepare` make it).
    """

    expected_files = "its files"  # what a folder of this data set holds (messages)
    #: The module that reads the data set's format (:mod:`retrieval.data.clotho`, ...): its ``available_splits(root)``
    #: says which splits a folder holds, and ``reader`` (one of its functions) reads a split: ``(root, name, *,
    #: strict, **options) -> Split``, given the format's :class:`LoadOptions` (:meth:`LoadOptions.of`). A loader
    #: without them overrides :meth:`load_split` and :meth:`available_splits`.
    format: Any = None
    reader: Any = None

    def load_split(self, root: str | Path, name: str, *, strict: bool, options: "LoadOptions") -> Split:
        """Split ``name`` (in the data set's own naming) of the folder ``root``."""
        if self.reader is None:
            raise NotImplementedError
        return self.reader(root, name, strict=strict, **options.of(self.format.__name__.rpartition(".")[2]))

    def available_splits(self, root: str | Path) -> list[str]:
        """The splits whose files exist in ``root``."""
        if self.format is None:
            raise NotImplementedError
        return self.format.available_splits(root)

    def scan(self, root: str | Path, name: str, *, options: "LoadOptions") -> tuple[Split, dict[str, Any]]:
        """One split read leniently for ``data summary``, and the fields it adds to :func:`split_stats`."""
        return self.load_split(root, name, strict=False, options=options), {}

    def default_root(self, cfg: Any) -> Path | None:
        """The folder of a generated data set for the config ``cfg`` (None: the data set needs a folder)."""
        return None

    def prepare(self, cfg: Any, root: Path, *, progress: bool = False) -> None:
        """Make ``root`` usable when it is not yet (a generated data set writes itself there)."""


class ClothoLoader(DataSetLoader):
    """The ClothoV2 layout (``clotho``): captions CSV + metadata CSV + an audio folder per split."""

    expected_files = "clotho_captions_<split>.csv"
    format, reader = clotho, staticmethod(clotho.load_clotho_split)


class SynthCapsLoader(ClothoLoader):
    """SynthCaps: generated in the ClothoV2 layout on first use (into the cache folder unless a root is given),
    then read with the Clotho loader."""

    def default_root(self, cfg):
        from .synthcaps import default_root

        cache = Path(cfg.data.cache_dir).expanduser() if cfg.data.cache_dir else default_cache_dir()
        return default_root(cache, cfg.data.synth_size, cfg.data.synth_seed, cfg.data.synth_version)

    def prepare(self, cfg, root, *, progress=False):
        if (Path(root) / "synthcaps.json").exists():
            return
        from .synthcaps import generate

        if progress:
            print(f"Generating SynthCaps {cfg.data.synth_version} {cfg.data.synth_size} (seed {cfg.data.synth_seed}) "
                  f"into {root}", file=sys.stderr)
        generate(root, cfg.data.synth_size, cfg.data.synth_seed, sample_rate=cfg.features.sample_rate,
                 progress=progress, version=cfg.data.synth_version)


class AudioCapsLoader(DataSetLoader):
    """AudioCaps (``<split>.csv`` + audio found with ``data.audiocaps.audio_pattern`` + AudioSet labels)."""

    expected_files = "train.csv, val.csv or test.csv"
    format, reader = audiocaps, staticmethod(audiocaps.load_audiocaps_split)


class WavCapsLoader(DataSetLoader):
    """WavCaps (``json_files/<source>/*.json`` + audio; one split, ``train``)."""

    expected_files = "json_files/<source>/<name>.json"
    format, reader = wavcaps, staticmethod(wavcaps.load_wavcaps_split)

    def scan(self, root, name, *, options):
        """Adds ``excluded_zero_duration``, ``excluded_list`` and ``sources`` (the counts per source)."""
        split, per_source = wavcaps.scan_wavcaps(root, name, **options.of("wavcaps"))
        return split, {"excluded_zero_duration": sum(s["excluded_zero_duration"] for s in per_source.values()),
                       "excluded_list": sum(s["excluded_list"] for s in per_source.values()),
                       "sources": per_source}


CLOTHO, SYNTHCAPS, AUDIOCAPS, WAVCAPS = ClothoLoader(), SynthCapsLoader(), AudioCapsLoader(), WavCapsLoader()


def loader(dataset: str) -> DataSetLoader:
    """The :class:`DataSetLoader` of ``dataset`` (unknown names: ConfigError listing the known data sets)."""
    return DATASETS.get(dataset)


def roles(dataset: str) -> dict[str, str]:
    """Role (``train``/``val``/``test``) -> split name of ``dataset``."""
    return dict(DATASETS.entry(dataset).meta.get("roles", {}))


# --------------------------------------------------------------------------------------------- splits
def role_split(dataset: str, role: str) -> str | None:
    """The split of ``dataset`` that plays ``role`` (``train``/``val``/``test``), or None if it has none."""
    return roles(dataset).get(role)


def split_name(dataset: str, name: str) -> str:
    """``name`` in the data set's own naming: the Clotho names map to the split of the same role
    (``split_name("audiocaps", "evaluation") == "test"``); any other name is returned as is."""
    own = roles(dataset)
    if name in own.values():
        return name
    role = _CLOTHO_NAMES.get(name)
    if role is not None and role in own:
        return own[role]
    return name


def default_strict(dataset: str) -> bool:
    """Whether a missing audio file stops loading ``dataset`` (ClothoV2, SynthCaps: released complete)."""
    return bool(DATASETS.entry(dataset).meta.get("strict", False))


def load_split(dataset: str, root: str | Path, split: str, *, strict: bool | None = None,
               options: LoadOptions | None = None) -> Split:
    """One split of ``dataset`` in ``root`` (``split`` in either naming, see :func:`split_name`).

    ``strict=None`` uses the data set's default (see the module docstring). Raises DataError for bad files.
    """
    source = loader(dataset)
    name = split_name(dataset, split)
    strict = default_strict(dataset) if strict is None else strict
    return source.load_split(root, name, strict=strict, options=options or LoadOptions())


def available_splits(dataset: str, root: str | Path) -> list[str]:
    """The splits of ``dataset`` whose files exist in ``root``."""
    return loader(dataset).available_splits(root)


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
    source = loader(dataset)
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "data folder does not exist")
    names = available_splits(dataset, root) if splits is None else [split_name(dataset, s) for s in splits]
    if not names:
        raise DataError(root, f"no {dataset} split found (expected {source.expected_files})")
    out: dict[str, dict[str, Any]] = {}
    opts = options or LoadOptions()
    for name in names:
        split, extra = source.scan(root, name, options=opts)
        stats = split_stats(split, durations=durations)
        stats.update(extra)
        stats["strict"] = default_strict(dataset)
        out[name] = stats
    return out
