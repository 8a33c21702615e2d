"""What keeps earlier configurations valid and their fingerprints unchanged.

Three kinds of change have been made to the configuration since fingerprints were first published, each without
changing any fingerprint:

* **moved keys** (:data:`KEY_ALIASES`): the keys of the per-encoder subsections ``audio_encoder.cnn`` and
  ``audio_encoder.passt`` sat directly in ``audio_encoder`` before (``audio_encoder.width``,
  ``audio_encoder.dim`` ...). The old spellings are accepted wherever a key is (config files, old run folders'
  ``config.yaml``, ``--set`` overrides, study search spaces: :func:`canonical_key`, :func:`upgrade_raw`,
  :func:`move_aliases`) and the fingerprint hashes these keys under the old spelling (:func:`flat_layout`);
* **later keys** (:data:`LATER_KEYS`): a key added afterwards is left out of the fingerprint while it holds the
  value that means what configurations meant before it existed; a later subsection (``train.seed_streams``,
  ``train.weight_averaging``) is left out while its switch holds its old value;
* **the SynthCaps generator version** (:data:`LEGACY_SYNTH_VERSION`): a configuration that names none means the
  generator before versions existed, and that value is left out of the fingerprint.

:func:`fingerprint` applies them, with :data:`NON_SEMANTIC_KEYS` (settings that cannot change a result), to a
configuration's ``to_dict()``. This module knows the configuration only as nested mappings.

Example::

    >>> canonical_key("audio_encoder.width"), canonical_key("fusion.kind")
    ('audio_encoder.cnn.width', 'fusion.kind')
    >>> upgrade_raw({"audio_encoder": {"width": 8, "dropout": 0.1}})
    {'audio_encoder': {'dropout': 0.1, 'cnn': {'width': 8}}}
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Mapping

from ..errors import ConfigError

__all__ = ["KEY_ALIASES", "LATER_KEYS", "LEGACY_SYNTH_VERSION", "NON_SEMANTIC_KEYS", "canonical_key",
           "fingerprint", "flat_layout", "move_aliases", "upgrade_raw"]

#: Settings that cannot change a result (progress bars, the cache folder): left out of the fingerprint, so the same
#: experiment has the same fingerprint wherever it runs.
NON_SEMANTIC_KEYS = ("train.progress", "data.cache_dir")
#: Keys added after fingerprints were published, left out of the fingerprint while they hold the value that means
#: what configurations meant before the key existed (so every earlier fingerprint stays the same). A subsection's
#: old meaning is a mapping of its switch keys: the whole subsection is left out while they hold those values (its
#: other keys cannot act then: single mode refuses stream seeds, no averaging ignores the averaging settings).
LATER_KEYS: dict[str, Any] = {"text_encoder.vocab_augment_passes": 0,
                              "train.seed_streams": {"mode": "single"},
                              "train.weight_averaging": {"kind": "none"}}
#: The SynthCaps generator version of a configuration that names none (``data.synth_version``): the generator before
#: versions existed. It is left out of the fingerprint, so those configurations keep theirs.
LEGACY_SYNTH_VERSION = "1.1.0"

_PASST_KEYS = ("dim", "depth", "heads", "patch_size", "patch_stride", "max_time_patches", "s_patchout_t",
               "s_patchout_f")
#: Old dotted spellings and the keys they stand for (``audio_encoder.width`` -> ``audio_encoder.cnn.width``,
#: ``audio_encoder.dim`` -> ``audio_encoder.passt.dim`` ...). They are accepted everywhere a key is: in config
#: files and run folders' ``config.yaml`` (old runs wrote them), in overrides (``--set audio_encoder.width=8``)
#: and as study search-space parameters (the shipped specs keep them: they are the Optuna parameter names their
#: studies recorded). The fingerprint hashes these keys under their old spelling.
KEY_ALIASES: dict[str, str] = {
    "audio_encoder.width": "audio_encoder.cnn.width",
    **{f"audio_encoder.{k}": f"audio_encoder.passt.{k}" for k in _PASST_KEYS},
}


def canonical_key(dotted: str) -> str:
    """The key ``dotted`` stands for: itself, or the new spelling of an old one (:data:`KEY_ALIASES`)."""
    return KEY_ALIASES.get(dotted, dotted)


def _section_aliases() -> dict[str, dict[str, tuple[str, str]]]:
    """Section -> {old key: (subsection, key)}: :data:`KEY_ALIASES` by the section the old keys sit in."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for old, new in KEY_ALIASES.items():
        section, leaf = old.rsplit(".", 1)
        sub, key = new[len(section) + 1:].split(".")
        out.setdefault(section, {})[leaf] = (sub, key)
    return out


_ALIASES_BY_SECTION = _section_aliases()


def move_aliases(raw: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    """``raw`` (the mapping of config section ``section``, e.g. ``audio_encoder``) with its old flat keys moved
    into their subsections; ``raw`` itself when it holds none. An old and a new spelling of one key in one mapping
    must agree (else :class:`ConfigError`)."""
    aliases = _ALIASES_BY_SECTION.get(section)
    if not aliases or not any(k in raw for k in aliases):
        return raw
    out = dict(raw)
    for old, (sub, key) in aliases.items():
        if old not in out:
            continue
        value = out.pop(old)
        inner = out.get(sub)
        if inner is None:
            inner = {}
        if not isinstance(inner, Mapping):
            raise ConfigError(f"{section}.{sub}: expected a mapping, got {type(inner).__name__}")
        if key in inner and inner[key] != value:
            raise ConfigError(f"{section}.{old}: is the old spelling of {section}.{sub}.{key}, which is given too "
                              f"({value!r} vs {inner[key]!r}); give one of them")
        out[sub] = {**inner, key: value}
    return out


def upgrade_raw(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a nested config mapping with the old flat spellings (:data:`KEY_ALIASES`) moved to the keys they
    stand for; anything else (unknown keys included) is left for :meth:`TrialConfig.from_dict` to judge. Apply it
    to each mapping before :func:`~retrieval.config.load.deep_merge`-ing them, so an old spelling in one never
    meets a new one in the other."""
    if not isinstance(raw, Mapping):
        return copy.deepcopy(raw)
    out = copy.deepcopy(dict(raw))
    for section in _ALIASES_BY_SECTION:
        node: Any = out
        *parents, leaf = section.split(".")
        for part in parents:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, dict) and isinstance(node.get(leaf), Mapping):
            node[leaf] = move_aliases(node[leaf], section)
    return out


def flat_layout(raw: dict[str, Any]) -> dict[str, Any]:
    """``to_dict()`` output with the keys of :data:`KEY_ALIASES` back under their old spelling (fingerprints)."""
    raw = copy.deepcopy(raw)
    for old, new in KEY_ALIASES.items():
        *path, leaf = new.split(".")
        node = raw
        for part in path:
            node = node[part]
        value = node.pop(leaf)
        *old_path, old_leaf = old.split(".")
        target = raw
        for part in old_path:
            target = target[part]
        target[old_leaf] = value
    for new in KEY_ALIASES.values():  # drop the subsections the move emptied
        section, sub, _ = new.split(".")
        if sub in raw[section] and not raw[section][sub]:
            del raw[section][sub]
    return raw


def _at_old_meaning(value: Any, before: Any) -> bool:
    """A later key's value means what configurations meant before the key existed: it equals ``before``; for a
    subsection (``before`` a mapping of switch keys), each switch holds its value there."""
    if isinstance(before, Mapping):
        return isinstance(value, Mapping) and all(value.get(k) == v for k, v in before.items())
    return value == before


def fingerprint(raw: Mapping[str, Any]) -> str:
    """The 16-hex-digit fingerprint of a resolved configuration's ``to_dict()``: sha256 of its JSON (sorted keys)
    without :data:`NON_SEMANTIC_KEYS`, without ``data.synth_version`` when it is :data:`LEGACY_SYNTH_VERSION` and
    each key of :data:`LATER_KEYS` at its old meaning, with the keys of :data:`KEY_ALIASES` under their old
    (flat) spelling: every fingerprint published before those changes stays the same."""
    raw = copy.deepcopy(dict(raw))
    for dotted in NON_SEMANTIC_KEYS:
        section, key = dotted.split(".")
        raw[section].pop(key, None)
    if raw["data"].get("synth_version") == LEGACY_SYNTH_VERSION:  # hashed as before versions existed
        raw["data"].pop("synth_version")
    for dotted, before in LATER_KEYS.items():
        section, key = dotted.split(".")
        if key not in raw[section] or _at_old_meaning(raw[section][key], before):
            raw[section].pop(key, None)
    raw = flat_layout(raw)  # hashed as before the subsections existed, so every fingerprint stays the same
    blob = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
