"""File names as they were released: looked up, never altered (no torch, no audio libraries: cheap to import).

The released ClothoV2.1 files list names that begin with a space (`` Ambience Birds.wav``, development), hold
commas, quotes or HTML entities (``Bird&#39;s song.wav``), or come in Unicode NFC form while a macOS archive stored
them in NFD. A listed name is therefore kept exactly as written, and only the *lookup* tries other spellings:

1. the name itself, then its spellings from :func:`name_variants` (HTML-unescaped, NFC, NFD);
2. only if nothing matched: the *loose* key (:func:`loose_key`: unescaped, NFC, surrounding whitespace removed),
   and only when exactly one candidate has that key (two names that differ only in surrounding whitespace are
   never merged).

Every loader (Clotho audio and metadata, caption variations, the leaderboard's ground truth) uses these helpers, so
they all agree on which file a name means. The ``skipinitialspace`` option of :mod:`csv` and ``str.strip`` are never
applied to a file name.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Iterable

__all__ = ["NameIndex", "base_name", "loose_key", "name_variants"]


def name_variants(name: str) -> list[str]:
    """The spellings under which a listed file name is looked up, in order and without repeats: the literal name,
    the HTML-unescaped one, and the NFC and NFD forms of both."""
    out: list[str] = []
    for base in (name, html.unescape(name)):
        for cand in (base, unicodedata.normalize("NFC", base), unicodedata.normalize("NFD", base)):
            if cand not in out:
                out.append(cand)
    return out


def loose_key(name: str) -> str:
    """A name with its HTML entities unescaped, in NFC form and without surrounding whitespace: the last-resort key
    (used only when it is unambiguous, see :class:`NameIndex`)."""
    return unicodedata.normalize("NFC", html.unescape(name)).strip()


_SEPARATORS = re.compile(r"[/\\]")


def base_name(path: str) -> str:
    """The part of ``path`` after its last ``/`` or ``\\`` (the whole string if it has none), unaltered:
    ``base_name("/data/clotho/development/ Ambience Birds.wav") == " Ambience Birds.wav"``."""
    return _SEPARATORS.split(path)[-1]


def has_directory(path: str) -> bool:
    return _SEPARATORS.search(path) is not None


class NameIndex:
    """Find which of a list of names a (possibly differently spelled) name means; see the module docstring.

    :meth:`find` returns ``(position, how)``: ``how`` is ``"exact"`` (the very string), ``"variant"`` (an
    unescaped / NFC / NFD spelling) or ``"loose"`` (surrounding whitespace differs); ``(None, "")`` when nothing
    matches or the loose key is ambiguous.
    """

    def __init__(self, names: Iterable[str]):
        self.names: list[str] = list(names)
        self._exact: dict[str, int] = {}
        for i, name in enumerate(self.names):  # literal names first: a variant never shadows a listed name
            self._exact.setdefault(name, i)
        self._variant: dict[str, int] = {}
        for i, name in enumerate(self.names):
            for cand in name_variants(name):
                self._variant.setdefault(cand, i)
        loose: dict[str, set[int]] = {}
        for i, name in enumerate(self.names):
            loose.setdefault(loose_key(name), set()).add(i)
        self._loose = {k: next(iter(v)) for k, v in loose.items() if len(v) == 1}

    def __len__(self) -> int:
        return len(self.names)

    def find(self, name: str) -> tuple[int | None, str]:
        i = self._exact.get(name)
        if i is not None:
            return i, "exact"
        for cand in name_variants(name):
            i = self._variant.get(cand)
            if i is not None:
                return i, "variant"
        i = self._loose.get(loose_key(name))
        if i is not None:
            return i, "loose"
        return None, ""

    def index(self, name: str) -> int | None:
        return self.find(name)[0]
