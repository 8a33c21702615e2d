"""Back-translation of captions with Apertium (English -> Spanish -> English), computed once and cached.

The DCASE 2022 system (Primus & Widmer, Section 5) replaces a training caption by its back-translation with
probability ``p_bt`` (``augment.bt.p_bt``), before EDA. Google Translate is not available offline; Apertium is
(Debian: ``apt-get install apertium apertium-eng-spa``)::

    echo "a dog barks" | apertium -u eng-spa | apertium -u spa-eng      ->  "Some barks of dog"

Apertium starts a pipeline of several processes per call (about 0.2 s), so every distinct training caption is
translated in ONE call per direction and the result is stored in the cache folder. Captions are sent as
paragraphs (separated by a blank line; whitespace inside a caption is collapsed to single spaces): with one caption
per line Apertium reads the lines as one running text and its rules reach across captions (measured: 42 of 60
random captions came back different from translating them one by one), while blank-line-separated paragraphs
came back identical to one-by-one translation. The cache file::

    <cache_dir>/backtranslation/apertium-eng-spa-eng-<key>.json

where ``key`` hashes the sorted distinct captions and the Apertium version (``apertium -V`` and the version of the
``apertium-eng-spa`` package), so a new data set or a new Apertium gives a new file and an unchanged one is reused
by every run and trial. ``-u`` drops Apertium's ``*`` marks for unknown words; its ``#``/``@`` marks
(generation / transfer gaps) are removed too unless the caption itself holds those characters. An empty
translation keeps the original caption.

Picking is deterministic given the epoch generator (see :class:`retrieval.augment.text.TextAugment`).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterable, Sequence

from retrieval.config import ConfigError
from retrieval.utils import atomic_write_json

__all__ = ["APERTIUM_INSTALL_HINT", "ApertiumMissing", "BackTranslationStep", "apertium_version", "back_translate",
           "back_translation_table", "build_back_translation", "cache_path", "check_apertium"]

APERTIUM_INSTALL_HINT = "apt-get install apertium apertium-eng-spa"
DIRECTIONS: tuple[str, str] = ("eng-spa", "spa-eng")
_MARK = re.compile(r"(?<!\S)[#@](?=\w)")


class ApertiumMissing(ConfigError):
    """Apertium or its English-Spanish pair is not installed; the message names the apt command."""


def _apertium() -> str | None:
    return shutil.which("apertium")


def check_apertium(why: str = "augment.bt.p_bt > 0") -> None:
    """Raise :class:`ApertiumMissing` unless ``apertium`` runs and lists both directions (cheap: ``apertium -l``)."""
    exe = _apertium()
    if exe is None:
        raise ApertiumMissing(f"augment.bt.p_bt: back-translation ({why}) needs the apertium program, which is "
                              f"not installed: run `{APERTIUM_INSTALL_HINT}`")
    try:
        out = subprocess.run([exe, "-l"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ApertiumMissing(f"augment.bt.p_bt: `apertium -l` failed ({exc}); reinstall with "
                              f"`{APERTIUM_INSTALL_HINT}`") from None
    modes = set(out.split())
    missing = [d for d in DIRECTIONS if d not in modes]
    if missing:
        raise ApertiumMissing(f"augment.bt.p_bt: back-translation ({why}) needs the Apertium modes "
                              f"{' and '.join(DIRECTIONS)}, but {', '.join(missing)} is not installed: run "
                              f"`{APERTIUM_INSTALL_HINT}`")


def apertium_version() -> str:
    """``"Apertium 3.8.3; apertium-eng-spa 0.8.1-2"`` (the package part when dpkg knows it)."""
    check_apertium()
    parts = [subprocess.run([_apertium(), "-V"], capture_output=True, text=True, timeout=60).stdout.strip()]
    try:
        pkg = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "apertium-eng-spa"], capture_output=True,
                             text=True, timeout=60)
        if pkg.returncode == 0 and pkg.stdout.strip():
            parts.append(f"apertium-eng-spa {pkg.stdout.strip()}")
    except (OSError, subprocess.SubprocessError):
        pass
    return "; ".join(p for p in parts if p)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _run(direction: str, lines: Sequence[str], *, progress: bool, desc: str) -> list[str]:
    """``apertium -u <direction>`` over all ``lines`` (non-empty, single-line texts) in one process, as
    blank-line-separated paragraphs; progress counts the paragraphs that came back."""
    from tqdm.auto import tqdm

    proc = subprocess.Popen([_apertium(), "-u", direction], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")
    errors: list[str] = []

    def feed() -> None:
        try:
            for i, line in enumerate(lines):
                proc.stdin.write(("\n\n" if i else "") + line)
            proc.stdin.write("\n")
            proc.stdin.close()
        except BrokenPipeError:  # the process died; reported below
            pass

    def drain() -> None:
        errors.append(proc.stderr.read())

    threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=drain, daemon=True)]
    for t in threads:
        t.start()
    received: list[str] = []
    with tqdm(total=len(lines), desc=desc, disable=not progress, leave=False, file=sys.stderr) as bar:
        for line in proc.stdout:
            received.append(line)
            if line.strip():
                bar.update(1)
    proc.wait()
    for t in threads:
        t.join()
    if proc.returncode != 0:
        raise RuntimeError(f"apertium {direction} failed (exit {proc.returncode}): {''.join(errors).strip()[:500]}")
    out = [" ".join(p.split()) for p in "".join(received).strip("\n").split("\n\n")] if received else []
    if len(out) != len(lines):
        raise RuntimeError(f"apertium {direction} returned {len(out)} lines for {len(lines)} captions; "
                           f"cannot pair translations with captions")
    return out


def _clean(translation: str, source: str) -> str:
    text = translation if ("#" in source or "@" in source) else _MARK.sub("", translation)
    return _one_line(text)


def back_translate(captions: Sequence[str], *, progress: bool = False) -> list[str]:
    """The English -> Spanish -> English translation of each caption (same order), two Apertium calls in all."""
    check_apertium()
    lines = [_one_line(c) for c in captions]
    todo = [i for i, line in enumerate(lines) if line]
    if not todo:
        return list(captions)
    spanish = _run(DIRECTIONS[0], [lines[i] for i in todo], progress=progress, desc="back-translation eng->spa")
    spanish = [s or lines[i] for s, i in zip(spanish, todo)]
    english = _run(DIRECTIONS[1], spanish, progress=progress, desc="back-translation spa->eng")
    out = list(captions)
    for i, e in zip(todo, english):
        out[i] = _clean(e, captions[i]) or captions[i]
    return out


def cache_path(cache_dir: str | Path, captions: Iterable[str], version: str) -> Path:
    """Where the back-translations of this caption set by this Apertium live (see the module docstring)."""
    h = hashlib.sha256(version.encode())
    for c in sorted(set(captions)):
        h.update(b"\0" + c.encode("utf-8"))
    return Path(cache_dir).expanduser() / "backtranslation" / f"apertium-eng-spa-eng-{h.hexdigest()[:16]}.json"


def back_translation_table(captions: Iterable[str], cache_dir: str | Path, *,
                           progress: bool = False) -> dict[str, str]:
    """``{caption: back-translation}`` for every distinct caption, from the cache or computed once and cached."""
    distinct = sorted(set(captions))
    version = apertium_version()
    path = cache_path(cache_dir, distinct, version)
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            table = dict(zip(stored["captions"], stored["translations"]))
            if stored.get("version") == version and set(table) == set(distinct):
                if progress:
                    print(f"back-translations of {len(distinct)} captions from {path}", file=sys.stderr)
                return table
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable or foreign: recompute and replace it
    t0 = time.time()
    if progress:
        print(f"back-translating {len(distinct)} captions with Apertium (eng->spa->eng, {version})",
              file=sys.stderr)
    translations = back_translate(distinct, progress=progress)
    atomic_write_json(path, {"version": version, "directions": list(DIRECTIONS), "n": len(distinct),
                             "captions": distinct, "translations": translations})
    if progress:
        changed = sum(1 for c, t in zip(distinct, translations) if c != t)
        print(f"back-translated {len(distinct)} captions in {time.time() - t0:.1f} s ({changed} changed) -> {path}",
              file=sys.stderr)
    return dict(zip(distinct, translations))


# --------------------------------------------------------------------------------------------- registry entry
class BackTranslationStep:
    """The ``backtranslation`` text augmentation: per caption, ``rng.random() < p_bt`` (always drawn); a caption in
    the table is then replaced by its back-translation. Counted when that changes it."""

    def __init__(self, table: dict[str, str], p: float):
        self.table, self.p = table, p

    def __call__(self, caption: str, rng, key: str | None) -> tuple[str, bool]:
        if rng.random() < self.p and caption in self.table:
            translated = self.table[caption]
            return translated, translated != caption
        return caption, False


def build_back_translation(cfg, *, back_translations: dict[str, str] | None = None,
                           **resources) -> BackTranslationStep | None:
    """``backtranslation`` (``augment.bt``): on when ``p_bt > 0`` and the run has a (non-empty) translation table
    (:func:`back_translation_table`)."""
    return BackTranslationStep(dict(back_translations), cfg.p_bt) if back_translations and cfg.p_bt > 0 else None
