"""Writing benchmark results: one JSON and one Markdown file per benchmark, plus machine facts."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any, Sequence

from retrieval.errors import UsageError
from retrieval.utils import atomic_write_json, atomic_write_text, file_in_the_way, git_commit


def machine() -> dict[str, Any]:
    import torch

    return {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "git_commit": git_commit()}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A benchmark's Markdown table (:func:`reports.render.markdown_table`): floats with 3 significant digits
    (whole numbers from 1000 on), anything else as ``str`` gives it."""
    from reports.render import markdown_table as render

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    return render(header, [[fmt(v) for v in row] for row in rows])


def check_folder_option(flag: str, path: str | Path) -> None:
    """Refuse, before any training, a folder option (``--out``, ``--runs-dir``) that names a regular file or a path
    under one (:class:`~retrieval.errors.UsageError`)."""
    blocker = file_in_the_way(path)
    if blocker is not None:
        where = "is a file" if blocker == Path(path).expanduser() else f"lies under {blocker}, which is a file"
        raise UsageError(f"{flag} {path}: {where}, not a folder: give a folder path")


def write_results(out_dir: str | Path, name: str, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jpath, mpath = out / f"{name}.json", out / f"{name}.md"
    atomic_write_json(jpath, payload)
    atomic_write_text(mpath, markdown)
    return jpath, mpath
