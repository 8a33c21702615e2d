"""A tiny name → factory registry.

Example::

    >>> from retrieval.encoders.registry import Registry
    >>> ANIMALS = Registry("animal")
    >>> @ANIMALS.register("dog")
    ... def make_dog():
    ...     return "woof"
    >>> ANIMALS.get("dog")()
    'woof'
    >>> ANIMALS.names()
    ['dog']
    >>> ANIMALS.get("cat")
    Traceback (most recent call last):
    ...
    retrieval.config.ConfigError: unknown animal 'cat' (known animals: dog)
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from retrieval.config import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects (usually factories). ``kind`` is used in error messages ("audio encoder")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering its target under ``name``; returns the target unchanged.

        Registering the same name twice is a programming error (``ValueError``).
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} registry: a name must be a non-empty string, got {name!r}")

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str, *, key: str | None = None) -> T:
        """The entry registered as ``name``.

        An unknown name raises :class:`ConfigError` listing the known names; ``key`` (a dotted config key such as
        ``audio_encoder.name``) prefixes the message when given.
        """
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            prefix = f"{key}: " if key else ""
            known = ", ".join(self.names()) or "none registered"
            raise ConfigError(f"{prefix}unknown {self.kind} {name!r} (known {self.kind}s: {known})") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"
