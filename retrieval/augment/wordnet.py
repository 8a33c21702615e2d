"""A small, dependency-free reader of the WordNet 3.0 database files (synonyms only).

Debian's ``wordnet-base`` package installs the Princeton database in ``/usr/share/wordnet``:
``index.{noun,verb,adj,adv}`` map a lemma to the byte offsets of its synsets, and ``data.{noun,verb,adj,adv}``
hold one synset per line at those offsets (format: ``man 5 wndb``)::

    index line:  lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset [synset_offset...]
    data line:   synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt ...

``w_cnt`` is a two-digit hexadecimal number; words use ``_`` for spaces and adjectives may carry a syntactic
marker such as ``(a)``, ``(p)`` or ``(ip)``. Lines starting with two spaces are the licence header.

Only what EDA needs is implemented: :meth:`WordNet.synonyms`. The index files are parsed on first use; data
lines are read through a read-only ``mmap`` at their offset (no shared file position, so a :class:`WordNet`
object is safe to use after ``fork``; it can also be pickled, the maps are re-opened lazily).

Morphology is deliberately minimal (see :meth:`WordNet.base_forms`): the word as given; else the WordNet
exception lists (``noun.exc``, ``verb.exc``, ... when present, e.g. ``geese -> goose``, ``ran -> run``);
else WordNet's own suffix-detachment rules (``-s``, ``-es``, ``-ies``, ``-ed``, ``-ing``, ``-er``, ``-est``),
keeping only candidates that are lemmas of that part of speech.
"""

from __future__ import annotations

import functools
import mmap
import os
import re
import threading
from pathlib import Path

from ..errors import HarnessError

WORDNET_INSTALL_HINT = "apt-get install wordnet-base wordnet-sense-index"

#: Searched after an explicit directory and ``$WORDNET_DIR`` (a module constant so tests can monkeypatch it).
DEFAULT_WORDNET_DIRS: tuple[str, ...] = ("/usr/share/wordnet",)

#: Parts of speech in the order synonyms are collected: file suffix -> exception-list suffix.
POS_FILES: tuple[str, ...] = ("noun", "verb", "adj", "adv")

# WordNet's morphy detachment rules (suffix -> replacement) per part of speech.
_DETACH: dict[str, tuple[tuple[str, str], ...]] = {
    "noun": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
             ("men", "man"), ("ies", "y")),
    "verb": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
             ("ing", "")),
    "adj": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "adv": (),
}

_MARKER = re.compile(r"\([a-z]+\)$")


class WordNetMissing(HarnessError, RuntimeError):
    """The WordNet database files were not found; the message names where we looked and how to install them."""


def _candidate_dirs(explicit: str | os.PathLike | None) -> list[Path]:
    out: list[Path] = []
    if explicit:
        out.append(Path(explicit).expanduser())
    env = os.environ.get("WORDNET_DIR")
    if env:
        out.append(Path(env).expanduser())
    out.extend(Path(d) for d in DEFAULT_WORDNET_DIRS)
    return out


def _is_wordnet_dir(path: Path) -> bool:
    return (path / "index.noun").is_file() and (path / "data.noun").is_file()


def find_wordnet_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The first WordNet directory among ``explicit``, ``$WORDNET_DIR`` and :data:`DEFAULT_WORDNET_DIRS`.

    A directory counts when it holds ``index.noun`` and ``data.noun``. The candidates are searched in that
    order (an unusable explicit directory does not stop the search). Returns ``None`` when none qualifies.
    """
    for path in _candidate_dirs(explicit):
        if _is_wordnet_dir(path):
            return path
    return None


def wordnet_missing(explicit: str | os.PathLike | None = None, why: str = "") -> WordNetMissing:
    """A :class:`WordNetMissing` whose message lists the searched directories and the install command."""
    looked = ", ".join(str(p) for p in _candidate_dirs(explicit)) or "(nowhere)"
    lead = f"{why}: " if why else ""
    return WordNetMissing(
        f"{lead}WordNet 3.0 database files (index.noun, data.noun, ...) not found; looked in: {looked}. "
        f"Install them with `{WORDNET_INSTALL_HINT}` or point $WORDNET_DIR (or augment.eda.wordnet_dir) "
        f"at a directory that holds them.")


class WordNet:
    """Synonym look-ups in a WordNet 3.0 database directory (lazy: nothing is read until the first query)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        if not _is_wordnet_dir(self.directory):
            raise wordnet_missing(self.directory, f"{self.directory} is not a WordNet directory")
        self._lock = threading.RLock()
        self._index: dict[str, dict[str, tuple[int, ...]]] | None = None  # pos -> lemma -> synset offsets
        self._exc: dict[str, dict[str, tuple[str, ...]]] | None = None  # pos -> inflected form -> base forms
        self._maps: dict[str, mmap.mmap] = {}
        self._synsets: dict[tuple[str, int], tuple[str, ...]] = {}
        self._cache: dict[str, tuple[str, ...]] = {}

    # ------------------------------------------------------------------ pickling (maps are not picklable)
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_maps"] = {}
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"WordNet({str(self.directory)!r})"

    # ------------------------------------------------------------------ loading
    def _load(self) -> None:
        if self._index is not None:
            return
        with self._lock:
            if self._index is not None:
                return
            index: dict[str, dict[str, tuple[int, ...]]] = {}
            exc: dict[str, dict[str, tuple[str, ...]]] = {}
            for pos in POS_FILES:
                ipath, dpath = self.directory / f"index.{pos}", self.directory / f"data.{pos}"
                if not (ipath.is_file() and dpath.is_file()):
                    continue  # a partial install: use what is there (index.noun/data.noun are guaranteed)
                index[pos] = self._read_index(ipath)
                epath = self.directory / f"{pos}.exc"
                exc[pos] = self._read_exc(epath) if epath.is_file() else {}
            self._exc = exc
            self._index = index

    @staticmethod
    def _read_index(path: Path) -> dict[str, tuple[int, ...]]:
        table: dict[str, tuple[int, ...]] = {}
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(" ") or not line.strip():
                    continue  # licence header
                parts = line.split()
                try:
                    synset_cnt, p_cnt = int(parts[2]), int(parts[3])
                    offsets = tuple(int(o) for o in parts[4 + p_cnt + 2:4 + p_cnt + 2 + synset_cnt])
                except (IndexError, ValueError):
                    continue  # malformed line: skip rather than fail a training run
                table[parts[0].lower()] = offsets
        return table

    @staticmethod
    def _read_exc(path: Path) -> dict[str, tuple[str, ...]]:
        table: dict[str, tuple[str, ...]] = {}
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 2:
                    table[parts[0].lower()] = tuple(p.lower() for p in parts[1:])
        return table

    def _map(self, pos: str) -> mmap.mmap:
        mm = self._maps.get(pos)
        if mm is None:
            with self._lock:
                mm = self._maps.get(pos)
                if mm is None:
                    with open(self.directory / f"data.{pos}", "rb") as fh:
                        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                    self._maps[pos] = mm
        return mm

    def _synset_words(self, pos: str, offset: int) -> tuple[str, ...]:
        """The lemmas of the synset at byte ``offset`` of ``data.<pos>`` (lowercase, ``_`` -> space)."""
        key = (pos, offset)
        words = self._synsets.get(key)
        if words is not None:
            return words
        mm = self._map(pos)
        end = mm.find(b"\n", offset)
        line = mm[offset:end if end >= 0 else len(mm)].decode("utf-8", errors="replace")
        parts = line.split()
        out: list[str] = []
        try:
            if int(parts[0]) != offset:
                raise ValueError(f"data.{pos}: offset {offset} points into the middle of a line")
            w_cnt = int(parts[3], 16)
            for i in range(w_cnt):
                word = _MARKER.sub("", parts[4 + 2 * i])
                out.append(word.replace("_", " ").lower())
        except (IndexError, ValueError):
            out = []
        words = tuple(out)
        self._synsets[key] = words
        return words

    # ------------------------------------------------------------------ queries
    def base_forms(self, word: str, pos: str) -> tuple[str, ...]:
        """Lemmas of part of speech ``pos`` that ``word`` may be a form of (minimal morphology).

        1. ``word`` itself if it is a lemma; otherwise 2. its entries in the exception list ``<pos>.exc``
        that are lemmas; otherwise 3. the results of WordNet's suffix-detachment rules that are lemmas
        (e.g. ``dogs -> dog``, ``barking -> bark``, ``rained -> rain``).
        """
        self._load()
        assert self._index is not None and self._exc is not None
        table = self._index.get(pos)
        if not table:
            return ()
        if word in table:
            return (word,)
        found: list[str] = [b for b in self._exc.get(pos, {}).get(word, ()) if b in table]
        if not found:
            for suffix, repl in _DETACH[pos]:
                if word.endswith(suffix) and len(word) > len(suffix):
                    cand = word[: len(word) - len(suffix)] + repl
                    if cand in table and cand not in found:
                        found.append(cand)
        return tuple(dict.fromkeys(found))

    def synonyms(self, word: str) -> list[str]:
        """Lowercase lemmas of every synset of ``word`` (nouns, verbs, adjectives, adverbs), excluding the word.

        Multi-word lemmas use spaces (``"motor vehicle"``). The order is deterministic: parts of speech in the
        order noun, verb, adj, adv; synsets in WordNet's sense order; lemmas in synset order; first occurrence
        wins. The base forms of ``word`` (e.g. ``"dog"`` for ``"dogs"``) are excluded too. Unknown word -> ``[]``.
        """
        key = word.strip().lower().replace(" ", "_")
        if not key:
            return []
        cached = self._cache.get(key)
        if cached is None:
            self._load()
            assert self._index is not None
            excluded = {key.replace("_", " ")}
            out: dict[str, None] = {}
            for pos in POS_FILES:
                table = self._index.get(pos)
                if not table:
                    continue
                for base in self.base_forms(key, pos):
                    excluded.add(base.replace("_", " "))
                    for offset in table[base]:
                        for lemma in self._synset_words(pos, offset):
                            out.setdefault(lemma, None)
            cached = tuple(w for w in out if w not in excluded)
            self._cache[key] = cached
        return list(cached)

    def __contains__(self, word: str) -> bool:
        key = word.strip().lower().replace(" ", "_")
        return any(self.base_forms(key, pos) for pos in POS_FILES)


@functools.lru_cache(maxsize=8)
def load_wordnet(directory: str | None = None) -> WordNet:
    """A (cached) :class:`WordNet` for ``directory`` (searched as in :func:`find_wordnet_dir`).

    Raises :class:`WordNetMissing` if no WordNet directory is found. Failures are not cached; successes are
    cached per argument, so call ``load_wordnet.cache_clear()`` after changing ``$WORDNET_DIR``.
    """
    found = find_wordnet_dir(directory)
    if found is None:
        raise wordnet_missing(directory)
    return _wordnet_at(str(found.resolve()))


@functools.lru_cache(maxsize=8)
def _wordnet_at(resolved: str) -> WordNet:
    return WordNet(resolved)
