"""Loading a run's data: the data folders (:func:`resolve_data_root`, SynthCaps generated on first use), the splits
with their log-mels through the on-disk cache (:func:`feature_cache`, :func:`load_split`), and everything a run
trains and evaluates on (:func:`load_run_data` -> :class:`RunData`: the training splits of ``data.train_on``, the
validation and test splits of ``data.dataset``, the other training data sets' test splits, and the standardisation
measured on the training log-mels).

:func:`retrieval.train.fit` calls :func:`load_run_data` before it creates the run folder, so a run whose data
cannot be read leaves no folder; the DCASE export (:mod:`retrieval.submission`) reads one split with
:func:`load_split`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..batching import SplitData
from ..config import ConfigError, TrialConfig, is_generated
from ..utils import default_cache_dir


def resolve_data_root(cfg: TrialConfig, *, progress: bool = False, dataset: str | None = None) -> Path:
    """The folder of ``dataset`` (default: the primary ``data.dataset``): ``data.<dataset>.root``, else ``data.root``
    for the primary data set; a generated data set (SynthCaps) is made on first use, into the cache folder unless a
    folder is given (:class:`retrieval.data.datasets.DataSetLoader`)."""
    from .datasets import loader

    dataset = dataset or cfg.data.dataset
    source = loader(dataset)
    given = cfg.data.root_of(dataset)
    if given is not None:
        root = Path(given).expanduser()
        key = "data.root" if given == cfg.data.root and dataset == cfg.data.dataset else f"data.{dataset}.root"
        if is_generated(dataset):
            try:
                source.prepare(cfg, root, progress=progress)
            except FileExistsError as exc:  # a file, or a folder holding something else: the generator refuses
                raise ConfigError(f"{key}: {exc}") from None
        if not root.is_dir():
            raise ConfigError(f"{key}: {root} is not a folder")
        return root
    root = source.default_root(cfg) if is_generated(dataset) else None
    if root is None:
        raise ConfigError(f"data.{dataset}.root: is required: {dataset!r} is used (give the folder of its files)")
    source.prepare(cfg, root, progress=progress)
    return root


def feature_cache(cfg: TrialConfig):
    from .features import FeatureCache, Frontend

    cache = Path(cfg.data.cache_dir).expanduser() if cfg.data.cache_dir else default_cache_dir()
    return FeatureCache(cache, Frontend.from_config(cfg.features))


def load_split(cfg: TrialConfig, root: Path, name: str, cache, *, progress: bool = False,
               limit: int | None = None, dataset: str | None = None) -> SplitData:
    """Split ``name`` of ``dataset`` (default ``data.dataset``) with its log-mels. ClothoV2/SynthCaps must be
    complete; AudioCaps/WavCaps clips without audio are left out and counted (see ``retrieval.data.datasets``)."""
    from dataclasses import replace

    from .datasets import LoadOptions
    from .datasets import load_split as load_dataset_split

    dataset = dataset or cfg.data.dataset
    split = load_dataset_split(dataset, root, name, options=LoadOptions.from_config(cfg.data))
    if progress and (split.missing_audio or split.excluded):
        listed = len(split.recordings) + len(split.missing_audio) + len(split.excluded)
        print(f"{dataset} {split.name}: {len(split.recordings)} of {listed} listed recordings used "
              f"({len(split.missing_audio)} without audio, {len(split.excluded)} excluded)", file=sys.stderr)
    if not split.recordings:
        from .errors import DataError

        raise DataError(root, f"{dataset} split {split.name!r} has no recordings with audio "
                              f"({len(split.missing_audio)} listed without audio)")
    if limit is not None and limit < len(split.recordings):
        split = replace(split, recordings=split.recordings[:limit])
    feats = cache.get_many([r.path for r in split.recordings], progress=progress, desc=f"log-mel {name}")
    return SplitData(split, feats)


def used_datasets(cfg: TrialConfig) -> tuple[str, ...]:
    """The primary data set, then the other training data sets, without repeats."""
    return tuple(dict.fromkeys((cfg.data.dataset,) + cfg.data.training_sets))


def load_training_data(cfg: TrialConfig, roots: dict[str, Path], cache, *,
                       progress: bool = False) -> tuple[SplitData, list[str]]:
    """The training splits of ``data.train_on`` (or ``data.dataset``), concatenated, and the data set of each
    recording. ``max_train_items`` caps each data set's split."""
    from .datasets import concat_splits, role_split

    parts: list[SplitData] = []
    sources: list[str] = []
    for name in cfg.data.training_sets:
        split = cfg.data.train_split if name == cfg.data.dataset else role_split(name, "train")
        part = load_split(cfg, roots[name], split, cache, progress=progress, limit=cfg.data.max_train_items,
                          dataset=name)
        parts.append(part)
        sources.extend([name] * len(part.features))
    if len(parts) == 1:
        return parts[0], sources
    merged = concat_splits([p.split for p in parts], name="+".join(cfg.data.training_sets))
    return SplitData(merged, [f for p in parts for f in p.features]), sources


def load_extra_tests(cfg: TrialConfig, roots: dict[str, Path], cache, *,
                     progress: bool = False) -> dict[str, SplitData]:
    """The test split of every training data set other than ``data.dataset`` that has one (WavCaps has none)."""
    from .datasets import role_split

    out: dict[str, SplitData] = {}
    for name in cfg.data.training_sets:
        split = role_split(name, "test")
        if name != cfg.data.dataset and split is not None:
            out[name] = load_split(cfg, roots[name], split, cache, progress=progress, dataset=name)
    return out



@dataclass
class RunData:
    """Everything a run trains and evaluates on: the training splits of every data set in ``data.train_on`` (and
    the data set of each recording), validation and test of ``data.dataset``, the test split of every other
    training data set that has one, and the standardisation measured on the training log-mels."""

    roots: dict[str, Path]
    cache: Any  # retrieval.data.features.FeatureCache
    train: SplitData
    sources: list[str]
    val: SplitData
    test: SplitData
    extra_tests: dict[str, SplitData]
    mean: float
    std: float

    def splits(self) -> list[SplitData]:
        return [self.train, self.val, self.test, *self.extra_tests.values()]


def load_run_data(cfg: TrialConfig, *, progress: bool = False) -> RunData:
    roots = {name: resolve_data_root(cfg, progress=progress, dataset=name) for name in used_datasets(cfg)}
    root = roots[cfg.data.dataset]
    cache = feature_cache(cfg)
    train, sources = load_training_data(cfg, roots, cache, progress=progress)
    val = load_split(cfg, root, cfg.data.val_split, cache, progress=progress)
    test = load_split(cfg, root, cfg.data.test_split, cache, progress=progress)
    extra_tests = load_extra_tests(cfg, roots, cache, progress=progress)
    all_train = np.concatenate([f.reshape(-1) for f in train.features])
    mean, std = float(all_train.mean()), float(all_train.std())
    if cache.frontend.fixed_normalisation:  # PANNs / PaSST: the pretrained encoder's own input scale
        mean, std = 0.0, 1.0
    return RunData(roots, cache, train, sources, val, test, extra_tests, mean, std)
