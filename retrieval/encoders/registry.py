"""Compatibility: the registry mechanism moved to :mod:`retrieval.registry` (one for every plug-in kind).

:class:`Registry` here is that registry with :class:`~retrieval.config.ConfigError` as its error class by default,
as it was when it lived here. The encoder registries themselves (``AUDIO_ENCODERS``, ``TEXT_ENCODERS``) are
declared in :mod:`retrieval.config` and re-exported by :mod:`retrieval.encoders`.

Example::

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
    retrieval.errors.ConfigError: unknown animal 'cat' (known animals: dog)
"""

from __future__ import annotations

from typing import TypeVar

from retrieval import registry
from retrieval.config import ConfigError
from retrieval.registry import Entry

__all__ = ["Entry", "Registry"]

T = TypeVar("T")


class Registry(registry.Registry[T]):
    """:class:`retrieval.registry.Registry` raising :class:`ConfigError` for unknown names unless told otherwise."""

    def __init__(self, kind: str, *, key: str | None = None, error: type[Exception] = ConfigError) -> None:
        super().__init__(kind, key=key, error=error)
