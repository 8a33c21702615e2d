"""SynthCaps writing: the ClothoV2-layout files (WAV, captions and metadata CSVs), the manifest, the atomic
:func:`generate`, reuse checks of an existing folder, :func:`default_root` and :func:`load_manifest`."""

from __future__ import annotations

import csv
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ...utils import file_in_the_way
from .constants import SPLITS
from .events import EVENT_TYPES
from .dialects import rewrite
from .render import render_clip
from .sampling import _clip_rngs
from .scenes import SCENES
from .versions import VersionSettings, version_settings

MANIFEST_NAME = "synthcaps.json"
#: 2.0.0: rephrasings of every development caption, in the released ClothoV2_GPT list format
#: (``augment.variations.file: synthcaps`` reads it)
VARIATIONS_NAME = "variations_development.json"
N_VARIATIONS = 5

CAPTION_HEADER = ["file_name", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5"]
METADATA_HEADER = ["file_name", "keywords", "sound_id", "sound_link", "start_end_samples", "manufacturer",
                   "license"]


def default_root(cache_dir: str | Path, size: str, seed: int, version: str | None = None) -> Path:
    """The conventional folder for a generated set: ``cache_dir / f"synthcaps-{size}-seed{seed}-v{version}"``
    (``version`` default: the current :data:`GENERATOR_VERSION`).

    The generator version is part of the name, so a cache made by another generator version is never mistaken for
    this one's data (and is left alone)."""
    version = version_settings(version).version
    return Path(cache_dir).expanduser() / f"synthcaps-{size}-seed{seed}-v{version}"


def load_manifest(root: str | Path) -> dict[str, Any]:
    """Read ``root/synthcaps.json`` (raises ``FileNotFoundError`` if the data set is not complete)."""
    with open(Path(root) / MANIFEST_NAME, encoding="utf-8") as fh:
        return json.load(fh)


def _to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def _write_split(tmp: Path, split: str, n: int, seed: int, sr: int, progress: bool, version: str
                 ) -> list[dict[str, Any]]:
    folder = tmp / split
    folder.mkdir()
    indices: Any = range(n)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"SynthCaps {split}", unit="clip", leave=True)
    entries = []
    for i in indices:
        entry, audio = render_clip(seed, split, i, sample_rate=sr, version=version)
        sf.write(folder / entry["file_name"], _to_pcm16(audio), sr, subtype="PCM_16", format="WAV")
        entries.append(entry)
    with open(tmp / f"clotho_captions_{split}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CAPTION_HEADER)
        for e in entries:
            w.writerow([e["file_name"], *e["captions"]])
    with open(tmp / f"clotho_metadata_{split}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(METADATA_HEADER)
        for e in entries:
            w.writerow([e["file_name"], ";".join(e["keywords"]), str(e["sound_id"]),
                        f"https://freesound.org/s/{e['sound_id']}", f"[0, {e['num_samples']}]", "synthcaps",
                        "CC0"])
    return entries


def _variation_records(entries: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """One record per development caption: ``{"idx", "path", "caption", "variations"}`` with
    :data:`N_VARIATIONS` distinct rephrasings in the ``var`` dialect (each paraphrase applied with probability
    0.8), drawn from the clip's own variations stream."""
    records = []
    for i, e in enumerate(entries):
        rng = _clip_rngs(seed, SPLITS.index("development"), i, 5)[4]
        for caption in e["captions"]:
            seen: list[str] = []
            for _ in range(8 * N_VARIATIONS):
                text = rewrite(caption, "var", rng, p=0.8)
                if text != caption and text not in seen:
                    seen.append(text)
                if len(seen) == N_VARIATIONS:
                    break
            while len(seen) < N_VARIATIONS:  # few paraphrasable words: repeat (or keep the caption)
                seen.append(seen[len(seen) % max(len(seen), 1)] if seen else caption)
            records.append({"idx": len(records), "path": f"development/{e['file_name']}", "caption": caption,
                            "variations": seen})
    return records


def _existing(out: Path, size: str, seed: int, sr: int, settings: VersionSettings) -> dict[str, Any] | None:
    """The manifest of a complete matching data set in ``out``; None if ``out`` is absent or an empty folder.

    Raises FileExistsError if ``out`` holds anything else.
    """
    if not out.exists():
        return None
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; refusing to write SynthCaps there")
    manifest_path = out / MANIFEST_NAME
    if not manifest_path.exists():
        if not any(out.iterdir()):
            return None
        raise FileExistsError(f"{out} exists but is not a complete SynthCaps data set (no {MANIFEST_NAME}); "
                              "remove it or choose another folder")
    try:
        manifest = load_manifest(out)
    except (OSError, ValueError) as exc:
        raise FileExistsError(f"{out} holds an unreadable {MANIFEST_NAME} ({exc}); remove it or choose "
                              "another folder") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("clips"), dict):
        raise FileExistsError(f"{out} holds a {MANIFEST_NAME} that is not a SynthCaps manifest; remove it or "
                              "choose another folder")
    want = {"version": settings.version, "size": size, "seed": seed, "sample_rate": sr}
    have = {k: manifest.get(k) for k in want}
    if have != want:
        raise FileExistsError(f"{out} holds a different SynthCaps data set ({have}, wanted {want}); remove it "
                              "or choose another folder")
    if settings.variations and not (out / VARIATIONS_NAME).is_file():
        raise FileExistsError(f"{out} is an incomplete SynthCaps data set (missing {VARIATIONS_NAME})")
    for split in SPLITS:
        for name in (f"clotho_captions_{split}.csv", f"clotho_metadata_{split}.csv"):
            if not (out / name).is_file():
                raise FileExistsError(f"{out} is an incomplete SynthCaps data set (missing {name})")
        clips = manifest["clips"].get(split)
        if not isinstance(clips, list) or len(clips) != settings.sizes[size][SPLITS.index(split)]:
            raise FileExistsError(f"{out} is an incomplete SynthCaps data set (manifest lacks {split} clips)")
        for e in clips:
            if not (out / split / e["file_name"]).is_file():
                raise FileExistsError(f"{out} is an incomplete SynthCaps data set (missing "
                                      f"{split}/{e['file_name']})")
    return manifest


def generate(out_dir: str | Path, size: str = "small", seed: int = 0, *, sample_rate: int = 16000,
             progress: bool = False, version: str | None = None) -> dict:
    """Generate SynthCaps in the ClothoV2 layout into ``out_dir`` and return its manifest.

    ``size`` is one of :data:`SIZES` (``tiny``, ``small``, ``default``); ``seed`` an integer >= 0;
    ``sample_rate`` in Hz (>= 8000); ``version`` a generator version of :data:`VERSIONS` (default: the current
    :data:`GENERATOR_VERSION`; older versions generate exactly what they always did). The data set is written into a temporary sibling folder which is renamed
    to ``out_dir`` when complete, so ``out_dir`` never holds a half-written set. If ``out_dir`` already holds
    a complete set with the same (size, seed, sample_rate, generator version), its manifest is returned
    without regenerating; an absent or empty ``out_dir`` is generated; anything else raises
    ``FileExistsError`` naming the folder (nothing is ever deleted). ``progress=True`` prints a tqdm bar per
    split to stderr. Unknown ``size`` or ``version`` raises ``ValueError``.
    """
    settings = version_settings(version)
    if size not in settings.sizes:
        raise ValueError(f"unknown SynthCaps size {size!r}; expected one of {', '.join(settings.sizes)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 8000:
        raise ValueError(f"sample_rate must be an integer >= 8000, got {sample_rate!r}")
    seed, sr = int(seed), int(sample_rate)
    out = Path(out_dir).expanduser()
    found = _existing(out, size, seed, sr, settings)
    if found is not None:
        return found
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where a folder above out must be
        blocker = file_in_the_way(out.parent) or out.parent
        raise FileExistsError(f"{out} lies under {blocker}, which is a file, not a folder; refusing to write "
                              "SynthCaps there (choose another folder)") from None
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        clips = {}
        for split, n in zip(SPLITS, settings.sizes[size]):
            clips[split] = _write_split(tmp, split, n, seed, sr, progress, settings.version)
        manifest = {
            "dataset": "SynthCaps",
            "version": settings.version,
            "size": size,
            "seed": seed,
            "sample_rate": sr,
            "counts": {s: len(clips[s]) for s in SPLITS},
            "shifted_splits": list(settings.shifted_splits),
            "event_types": [e.name for e in EVENT_TYPES],
            "event_keywords": {e.name: e.keyword for e in EVENT_TYPES},
            "scenes": [s.name for s in SCENES],
            "clips": clips,
        }
        if settings.variations:
            with open(tmp / VARIATIONS_NAME, "w", encoding="utf-8", newline="\n") as fh:
                json.dump(_variation_records(clips["development"], seed), fh, indent=1, ensure_ascii=False)
                fh.write("\n")
            manifest["variations_file"] = VARIATIONS_NAME
        with open(tmp / MANIFEST_NAME, "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        try:
            os.rename(tmp, out)  # atomic; also replaces an empty folder
        except OSError:
            found = _existing(out, size, seed, sr, settings)  # a concurrent generator may have finished first
            if found is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return found
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_manifest(out)
