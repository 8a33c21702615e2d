"""Small helpers: atomic writes, cache location, provenance."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any, BinaryIO, Callable

import yaml


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


#: the mode an ordinary ``open(path, "w")`` would give (mkstemp's temporary files are 0600: results, reports and
#: caches that others share must stay readable)
FILE_MODE = _file_mode()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_cache_entry(path: Path, write: Callable[[BinaryIO], None], what: str) -> bool:
    """Best-effort atomic write of a cache entry: ``write(fh)`` fills a temporary file in the same folder, which is
    then renamed to ``path``. A read-only or full cache must not stop the work: an ``OSError`` becomes a warning
    (``"<what>: cannot write <path>: ..."``) and the result is False."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError as exc:
        warnings.warn(f"{what}: cannot write {path}: {exc}", stacklevel=3)
        return False
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def file_in_the_way(path: str | Path) -> Path | None:
    """The file (or dangling link) that keeps ``path`` from being a folder: ``path`` itself or the nearest existing
    folder above it when that is not a folder; None when ``path`` is a folder or can be created as one."""
    path = Path(path).expanduser()
    for p in (path, *path.parents):
        if p.is_dir():
            return None
        if p.exists() or p.is_symlink():
            return p
    return None


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_write_yaml(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, yaml.safe_dump(obj, sort_keys=False))


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def default_cache_dir() -> Path:
    """``$RETRIEVAL_CACHE``, else ``~/.cache/audio-retrieval-harness``."""
    env = os.environ.get("RETRIEVAL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "audio-retrieval-harness"


def git_commit(path: str | Path | None = None) -> str | None:
    """The commit of the checkout holding this package, or None (not a checkout, git missing)."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("audio-retrieval-harness")
    except Exception:  # noqa: BLE001 - not installed (running from a source tree)
        return "0+unknown"
