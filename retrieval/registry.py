"""One registry mechanism for every plug-in kind: a name → entry table with clear unknown-name errors.

Every plug-in kind of the project is a :class:`Registry`: audio and text encoders, fusion heads, data sets,
frontends and augmentations (declared in the config's catalogue, :mod:`retrieval.config.catalogue`) and the study
samplers and schedulers (declared in :mod:`studies.spec`). An entry is a name, its *target* (the builder:
a class or a function), a one-line description, a tiny *example* (config overrides that select and build the
entry: what the shared contract tests in ``tests/contract`` build) and kind-specific static facts (``meta``).

Two ways to add an entry:

* built-in: ``REGISTRY.declare(name, "package.module:object", description, example=..., **meta)``. The target is
  imported on first use, so checking a name (config validation) imports nothing heavy (no torch);
* at run time (plug-ins, tests): ``@REGISTRY.register(name, description=..., example=...)`` on a class or
  function, or ``REGISTRY.register(name, obj)``; ``unregister(name)`` or ``with REGISTRY.temporary(name, obj):``
  removes it again.

Example::

    >>> ANIMALS = Registry("animal", key="zoo.animal")
    >>> @ANIMALS.register("dog", description="barks")
    ... def make_dog(volume=1):
    ...     return "woof" * volume
    >>> ANIMALS.build("dog", 2), ANIMALS.names(), "dog" in ANIMALS, ANIMALS.entry("dog").description
    ('woofwoof', ['dog'], True, 'barks')
    >>> ANIMALS.declare("cat", "builtins:str", "a lazy entry: the target is imported on first use")
    >>> ANIMALS.get("cat") is str
    True
    >>> ANIMALS.get("cow")
    Traceback (most recent call last):
    ...
    LookupError: zoo.animal: unknown animal 'cow' (known animals: cat, dog)

This module imports nothing of the project; the error class is the registry's own (``error=``): the config's
registries raise :class:`~retrieval.errors.ConfigError`, the study registries :class:`~studies.errors.SpecError`.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from typing import Any, Generic, Iterator, Mapping, TypeVar

__all__ = ["Entry", "Registry", "resolve"]

T = TypeVar("T")
_MISSING: Any = object()


def resolve(target: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names (the module is imported)."""
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Entry:
    """One registered plug-in.

    ``target`` is the object itself or, for a declared built-in, ``"package.module:attribute"`` (imported by
    :meth:`load` on first use). ``example``: dotted config overrides that select and build this entry with small
    settings (the contract tests build it from them; empty: the registry's ``key`` set to the name is enough).
    ``meta``: static facts of this kind of plug-in (a data set's splits, an augmentation's config section ...),
    readable without importing the target.
    """

    name: str
    target: Any
    description: str = ""
    example: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def lazy(self) -> bool:
        """True for a declared entry whose target is a ``"module:attribute"`` reference."""
        return isinstance(self.target, str)

    def load(self) -> Any:
        """The target object (importing its module for a declared entry)."""
        return resolve(self.target) if self.lazy else self.target


class Registry(Generic[T]):
    """Maps names to :class:`Entry` objects of one plug-in kind.

    ``kind`` names the kind in messages ("audio encoder"); ``key`` is the dotted config key whose value names an
    entry (``audio_encoder.name``), used to prefix unknown-name errors; ``error`` is the exception class of those
    errors (a ``ConfigError`` for the config's registries). Names are listed sorted.
    """

    def __init__(self, kind: str, *, key: str | None = None, error: type[Exception] = LookupError) -> None:
        self.kind = kind
        self.key = key
        self.error = error
        self._entries: dict[str, Entry] = {}
        self._loaded: dict[str, Any] = {}

    # ---------------------------------------------------------------- adding and removing entries
    def register(self, name: str, obj: Any = _MISSING, *, description: str = "",
                 example: Mapping[str, Any] | None = None, replace: bool = False, **meta: Any) -> Any:
        """Register ``obj`` under ``name`` and return it; without ``obj``, a decorator that does so.

        Registering a name twice is a programming error (``ValueError``) unless ``replace=True``.
        """
        self._check_new(name, replace)
        if obj is _MISSING:
            def decorator(target: T) -> T:
                self._add(Entry(name, target, description, dict(example or {}), dict(meta)), replace)
                return target

            return decorator
        self._add(Entry(name, obj, description, dict(example or {}), dict(meta)), replace)
        return obj

    def declare(self, name: str, target: str, description: str = "", *, example: Mapping[str, Any] | None = None,
                **meta: Any) -> None:
        """A built-in entry whose ``target`` (``"package.module:attribute"``) is imported on first use."""
        if not isinstance(target, str) or ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: a declared target is 'package.module:attribute', got {target!r}")
        self._check_new(name, False)
        self._add(Entry(name, target, description, dict(example or {}), dict(meta)), False)

    def unregister(self, name: str) -> Entry:
        """Remove ``name`` (unknown names raise the registry's error); returns its entry."""
        entry = self.entry(name)
        del self._entries[name]
        self._loaded.pop(name, None)
        return entry

    @contextlib.contextmanager
    def temporary(self, name: str, obj: Any, **kwargs: Any) -> Iterator[Any]:
        """``with registry.temporary(name, obj, ...):`` ``obj`` is registered inside the block only."""
        self.register(name, obj, **kwargs)
        try:
            yield obj
        finally:
            self._entries.pop(name, None)
            self._loaded.pop(name, None)

    # ---------------------------------------------------------------- looking entries up
    def entry(self, name: str, *, key: str | None = None) -> Entry:
        """The :class:`Entry` of ``name``; unknown names raise the registry's error listing the known ones."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.unknown(name, key=key) from None

    def get(self, name: str, *, key: str | None = None) -> T:
        """The object registered as ``name`` (a declared target is imported now). ``key`` (a dotted config key)
        prefixes the unknown-name error instead of the registry's own ``key``."""
        entry = self.entry(name, key=key)
        if name not in self._loaded:
            self._loaded[name] = entry.load()
        return self._loaded[name]

    def build(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """``get(name)(*args, **kwargs)``: build the entry."""
        return self.get(name)(*args, **kwargs)

    def check(self, name: Any, *, key: str | None = None) -> str:
        """``name`` when it is registered; else the registry's error (prefixed with ``key`` or the registry's)."""
        if not isinstance(name, str) or name not in self._entries:
            raise self.unknown(name, key=key)
        return name

    def unknown(self, name: Any, *, key: str | None = None) -> Exception:
        """The error for an unknown ``name``: ``"<key>: unknown <kind> 'x' (known <kind>s: a, b)"``."""
        key = key or self.key
        prefix = f"{key}: " if key else ""
        known = ", ".join(self.names()) or "none registered"
        return self.error(f"{prefix}unknown {self.kind} {name!r} (known {self.kind}s: {known})")

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        """Every entry, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def where(self, **meta: Any) -> list[Entry]:
        """The entries whose ``meta`` holds every given value (``AUGMENTATIONS.where(modality="audio")``)."""
        return [e for e in self.entries() if all(e.meta.get(k, _MISSING) == v for k, v in meta.items())]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"

    # ---------------------------------------------------------------- internals
    def _check_new(self, name: str, replace: bool) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} registry: a name must be a non-empty string, got {name!r}")
        if name in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered")

    def _add(self, entry: Entry, replace: bool) -> None:
        self._entries[entry.name] = entry
        self._loaded.pop(entry.name, None)
