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


def parse_seeds(tokens: Sequence[str] | str, *, start: int, option: str, minimum: int = 1) -> list[int]:
    """The seeds an option names: one bare integer ``N`` is a count (``start .. start + N - 1``; ``0``: none);
    anything else lists seeds, as items ``7`` or ranges ``0-4``, separated by commas or given as several words
    (``0-4``, ``0,1,2``, ``10 11 12``; one explicit seed: ``7-7``). Raises :class:`UsageError` (one ``error:`` line
    on the command line) for a malformed item, a negative or repeated seed, or fewer than ``minimum`` seeds."""
    from retrieval.errors import UsageError

    words = [tokens] if isinstance(tokens, str) else list(tokens)
    items = [item.strip() for w in words for item in str(w).split(",") if item.strip()]
    if len(items) == 1 and items[0].isdigit():
        seeds = list(range(start, start + int(items[0])))
    else:
        seeds = []
        for item in items:
            lo, sep, hi = item.partition("-")
            if not lo.isdigit() or (sep and not hi.isdigit()):
                raise UsageError(f"{option}: {item!r} is not a seed or a range of seeds (e.g. 5 for a count, 0-4, "
                                 "0,1,2)")
            a, b = int(lo), int(hi) if sep else int(lo)
            if b < a:
                raise UsageError(f"{option}: range {item!r} runs backwards")
            seeds += range(a, b + 1)
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise UsageError(f"{option}: seed {repeated[0]} is listed twice")
    if len(seeds) < minimum:
        raise UsageError(f"{option}: {len(seeds)} seed(s), need at least {minimum}")
    return seeds


def seed_sets(discovery: Sequence[str] | str, replication: Sequence[str] | str | None, *,
              minimum: int = 2, replication_start: int | None = None) -> tuple[list[int], list[int]]:
    """The discovery and replication seed sets of a claim (:mod:`reports.replication`): ``--seeds`` from 0,
    ``--replication-seeds`` from ``REPLICATION_START`` (100), by default as many as the discovery set. ``0``
    replication seeds: none (discovery only: nothing is called detected). Overlapping sets are refused with a
    :class:`UsageError`."""
    from reports.replication import REPLICATION_START
    from retrieval.errors import UsageError

    disc = parse_seeds(discovery, start=0, option="--seeds", minimum=minimum)
    start = REPLICATION_START if replication_start is None else replication_start
    rep = (list(range(start, start + len(disc))) if replication is None
           else parse_seeds(replication, start=start, option="--replication-seeds", minimum=0))
    if rep and len(rep) < minimum:
        raise UsageError(f"--replication-seeds: {len(rep)} seed(s), need at least {minimum} (or 0 for none)")
    both = sorted(set(disc) & set(rep))
    if both:
        raise UsageError(f"the discovery seeds ({_seeds_words(disc)}) and the replication seeds "
                         f"({_seeds_words(rep)}) overlap in {_seeds_words(both)}: a replication must use seeds "
                         "the discovery did not see")
    return disc, rep


def _seeds_words(seeds: Sequence[int]) -> str:
    from reports.replication import seeds_text

    return seeds_text(seeds)


#: Applied to every arm before ``--set``: the planted mechanisms are those of SynthCaps 2.0.0, and its tiny-bert text
#: encoder (post-LN, from scratch) needs a 3-epoch warm-up at the rate of ``synthcaps-small`` (with 1 epoch, test
#: mAP@10 is ~7 pp lower and its seed sd higher); both are what ``synthcaps-small`` has held since 2026-11-29, and are
#: kept here so that ``--config synthcaps-small-v1`` measures the same arms. ``vocab_augment_passes`` is 0 but in the
#: text arms (:data:`benchmarks.planted_effects.VOCAB`): without text augmentation it changes nothing, and so the off arms are the runs measured
#: before the key existed.
PLANTED_BASE: dict[str, Any] = {"data.synth_version": "2.0.0", "optim.warmup_epochs": 3,
                                "text_encoder.vocab_augment_passes": 0}
