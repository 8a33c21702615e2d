"""The named configurations: the YAML files of ``retrieval/configs/`` (``synthcaps-small``, ``passt-roberta`` ...).

A name is looked up here when it is neither a file nor a path with a suffix (:func:`config_path`);
:func:`retrieval.config.load.load_raw` reads the file and resolves its ``extends:`` chain.

Example::

    >>> "synthcaps-tiny" in list_named_configs(), config_path("synthcaps-tiny").name
    (True, 'synthcaps-tiny.yaml')
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError

__all__ = ["CONFIG_DIR", "config_path", "list_named_configs"]

#: The folder of the named configurations.
CONFIG_DIR = Path(__file__).parent.parent / "configs"


def list_named_configs() -> list[str]:
    """The names of the named configurations, sorted."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def config_path(name_or_path: str | Path) -> Path:
    """The file ``name_or_path`` names: a path as given, or, for a bare name that is not a file, the named
    configuration's YAML file (an unknown name is a :class:`ConfigError` listing the named configurations)."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = CONFIG_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ConfigError(
                f"config: {name_or_path!r} is neither a file nor a named config "
                f"(named configs: {', '.join(list_named_configs())})")
    return path
