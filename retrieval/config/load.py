"""Reading configurations: YAML files with their ``extends:`` chains, dotted keys and ``--set`` overrides, and the
typed construction of a config's frozen dataclasses from nested mappings.

:func:`build` makes a section's dataclass from a mapping: unknown keys are refused, every value is checked and
converted against its field's annotation by the shared validator (:func:`retrieval.checks.coerce`), and the section's
own ``_validate(key)`` runs (the range checks of :mod:`retrieval.config.schema`). Old spellings of moved keys are
moved first (:func:`retrieval.config.compat.move_aliases`). Every error is a :class:`ConfigError` naming the dotted
key.

Example::

    >>> parse_override("fusion.kind=late"), parse_override("data.train_on=[clotho, wavcaps]")
    (('fusion.kind', 'late'), ('data.train_on', ['clotho', 'wavcaps']))
    >>> raw = deep_merge({"train": {"epochs": 3, "seed": 1}}, {"train": {"epochs": 5}})
    >>> set_dotted(raw, "fusion.kind", "mid"); raw
    {'train': {'epochs': 5, 'seed': 1}, 'fusion': {'kind': 'mid'}}
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..checks import coerce
from ..errors import ConfigError
from .compat import move_aliases, upgrade_raw
from .named import config_path

__all__ = ["build", "deep_merge", "get_dotted", "load_raw", "parse_override", "plain", "set_dotted",
           "validate_tree"]


def load_raw(name_or_path: str | Path, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a named config or YAML file into a nested dict, resolving ``extends`` (a run folder's ``config.yaml``
    gives its ``config``). Each file's old spellings are moved to their keys before the files are merged."""
    path = config_path(name_or_path)
    if not path.exists():
        raise ConfigError(f"config: file not found: {path}")
    key = str(path.resolve())
    if key in _seen:
        raise ConfigError(f"config: 'extends' cycle through {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {path} must hold a mapping at the top level")
    if "config" in raw and "fingerprint" in raw:  # a run directory's config.yaml
        raw = raw["config"]
    parent = raw.pop("extends", None)
    raw = upgrade_raw(raw)  # each file on its own, before merging: old spellings never meet new ones
    if parent is None:
        return raw
    base_path = Path(parent)
    if not base_path.is_absolute() and (path.parent / base_path).exists():
        base_path = path.parent / base_path
    base = load_raw(base_path if base_path.exists() else parent, _seen + (key,))
    return deep_merge(base, raw)


def deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``update``, mappings merged key by key (copies; neither argument changes)."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def get_dotted(raw: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted key of a nested mapping."""
    node: Any = raw
    for part in dotted.split("."):
        node = node[part]
    return node


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted key of a nested dict, creating the sections it lies in."""
    parts = dotted.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"{'.'.join(parts[: i + 1])}: is not a section, cannot set {dotted}")
        node = nxt
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` from the command line; the value is read as YAML (``1e-3``, ``true``, ``[a, b]``)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, value = text.split("=", 1)
    try:
        parsed = yaml.safe_load(value) if value != "" else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def build(cls: type, raw: Any, prefix: str) -> Any:
    """The dataclass ``cls`` (a config section at dotted key ``prefix``; ``""``: the whole config) from a mapping,
    checked and validated (see the module docstring)."""
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(raw).__name__}")
    raw = move_aliases(raw, prefix)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(f"{key}: unknown key (known keys here: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = coerce(hints[name], value, key, ConfigError, nested=build)
    obj = cls(**kwargs)
    validate = getattr(obj, "_validate", None)
    if validate is not None:
        validate(prefix or "config")
    return obj


def validate_tree(obj: Any, prefix: str = "") -> None:
    """Run every section's ``_validate(key)``, innermost first (what :func:`build` does while building)."""
    for f in dataclasses.fields(obj):
        val = getattr(obj, f.name)
        if dataclasses.is_dataclass(val):
            validate_tree(val, f"{prefix}.{f.name}" if prefix else f.name)
    validate = getattr(obj, "_validate", None)
    if validate is not None:
        validate(prefix or "config")


def plain(obj: Any) -> Any:
    """Plain nested data: dicts stay dicts, lists and tuples become lists (what YAML writes)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj
