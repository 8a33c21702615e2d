"""The replay's plot: regret of the incumbent's true quality against trial-epochs, per protocol (PNG and PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np


def plot_curves(regret: Mapping[str, Any], out_stem: str | Path, title: str,
                highlight: tuple[str, ...] = ()) -> list[Path]:
    """Median regret (table's best true quality - the incumbent's, in pp) against trial-epochs (log scale), IQR
    shaded for the ``highlight`` protocols; PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 5.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    x = np.asarray(regret["epochs"], float)
    styles = ["-", "--", ":", "-."]
    for i, (name, r) in enumerate(regret["protocols"].items()):
        c = colours[i % len(colours)]
        med = np.array([np.nan if v is None else 100 * v for v in r["median"]], float)
        lw = 2.6 if name in highlight else 1.3
        ax.plot(x, med, color=c, linestyle=styles[(i // len(colours)) % len(styles)], linewidth=lw, label=name)
        if name in highlight:
            lo = np.array([np.nan if v is None else 100 * v for v in r["q25"]], float)
            hi = np.array([np.nan if v is None else 100 * v for v in r["q75"]], float)
            ax.fill_between(x, lo, hi, color=c, alpha=0.15)
    ax.set_xscale("log")
    ax.set_xlabel("trial-epochs spent (log scale)")
    ax.set_ylabel("regret of the incumbent (pp of true val mAP@10)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6.5, loc="upper right")
    ax.grid(True, alpha=0.3)
    ax.set_ylim(0, 12)  # the first jobs' regrets (up to 50 pp) would hide the differences that matter
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
