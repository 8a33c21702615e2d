"""The replay's plot: best-so-far curves per protocol against trial-epochs (PNG and PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .replay import ReplayResult


def plot_curves(runs: Mapping[str, Sequence[ReplayResult]], target_by_seed: Mapping[int, float],
                out_stem: str | Path, title: str) -> list[Path]:
    """Best-so-far val mAP@10 against trial-epochs: one thin line per repetition, the median across repetitions
    bold (at every trial-epoch count any run reached; a run that has stopped keeps its final best), PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    grid = np.unique(np.concatenate([r.cum_epochs for rs in runs.values() for r in rs]))
    styles = [("-", 2.6), ("--", 2.0), (":", 2.2)]  # paired runs share their first trials: keep overlaps visible
    for i, (name, rs) in enumerate(runs.items()):
        c = colours[i % len(colours)]
        ys = []
        for r in rs:
            ax.step(r.cum_epochs, r.best_so_far, where="post", color=c, alpha=0.25, linewidth=0.8)
            idx = np.searchsorted(r.cum_epochs, grid, side="right") - 1
            y = np.where(idx >= 0, r.best_so_far[np.clip(idx, 0, None)], np.nan)
            ys.append(y)
        style, width = styles[i % len(styles)]
        ax.step(grid, np.nanmedian(np.vstack(ys), axis=0), where="post", color=c, linestyle=style, linewidth=width,
                label=f"{name} (median)")
    if target_by_seed:
        t = float(np.median(list(target_by_seed.values())))
        ax.axhline(t, color="grey", linestyle="--", linewidth=1.0, label="target (2022 best - 1 pp, median)")
    ax.set_xscale("log")
    ax.set_xlabel("trial-epochs spent (log scale)")
    ax.set_ylabel("best validation mAP@10 so far")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = stem.with_name(stem.name + f".{ext}")
        tmp = p.with_name(p.name + ".tmp")
        fig.savefig(tmp, format=ext, dpi=150)
        tmp.replace(p)
        paths.append(p)
    plt.close(fig)
    return paths

