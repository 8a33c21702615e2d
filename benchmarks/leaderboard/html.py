"""The board as one self-contained HTML page (``python -m benchmarks leaderboard show NAME --format html``).

One file, nothing fetched: styles, scripts, the data (JSON) and the standings figure (PNG, a ``data:`` URI) are
inline, and the page's Content-Security-Policy (``default-src 'none'``; inline styles and scripts, ``data:`` images)
forbids the browser any other load -- a violation would be recorded in ``<body data-csp-violations>``. Rendered
with Jinja2 from the package's ``templates/board.html.j2`` (autoescaped).

Content: the ranked entries (rank, mAP@k with its bootstrap CI, mAP@10 when k is not 10, R@1/5/10, Δ to the leader,
Holm-adjusted p of the paired randomization test and the leader group -- :func:`.tables.standings`, the same
numbers as the Markdown / LaTeX / CSV tables), the standings figure, the submission history with superseded
entries marked, a drill-down per entry (its per-query AP@k against the leader's -- the runner-up's for the leader
-- as a scatter plot drawn by the page's script, counts of queries better / worse / equal, and the queries where
the two differ most, with their captions and relevant files), the metric definitions, and the ground truth's
fingerprint.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from .board import BoardInfo, Entry
from .tables import Standing

__all__ = ["N_DIFFER", "render_page"]

#: Queries listed per drill-down as "differ most" (the page's script can list more).
N_DIFFER = 10
_TEMPLATES = Path(__file__).with_name("templates")


def _num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _p_text(p: float) -> str:
    if p is None or math.isnan(p):
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _json_for_script(obj) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``<``, ``>`` or ``&`` characters)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _rank_or_none(r: float) -> int | None:
    return None if r is None or math.isnan(r) else int(r)


def _drill(entry: Entry, other: Entry, queries: Sequence[str], relevant: Sequence[Sequence[str]], k: int) -> dict:
    d = entry.ap - other.ap
    order = sorted(range(len(d)), key=lambda i: (-abs(d[i]), i))
    rows = [{"query": queries[i], "relevant": list(relevant[i]), "ap": float(entry.ap[i]),
             "ap_other": float(other.ap[i]), "delta": float(d[i]), "rank": _rank_or_none(entry.rank[i]),
             "rank_other": _rank_or_none(other.rank[i]), "i": int(i)}
            for i in order[:N_DIFFER] if d[i] != 0]
    return {"other": other, "better": int((d > 0).sum()), "worse": int((d < 0).sum()), "equal": int((d == 0).sum()),
            "rows": rows, "k": k}


def render_page(info: BoardInfo, ranked: Sequence[Standing], history: Sequence[Entry],
                mapping: Sequence[tuple[str, Sequence[str]]], *, cis: Sequence[tuple[float, float]],
                figure_png: bytes | None, n_resamples: int, seed: int, alpha: float) -> str:
    """The page (a string). ``ranked``: the active entries' standings; ``history``: every entry, superseded ones
    included (submission order); ``mapping``: the board's canonical ``[(query, [files])]`` (the order of the
    per-query scores); ``cis``: the entries' bootstrap CIs of mAP@k, in ``ranked`` order."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["p"] = _p_text
    queries = [q for q, _ in mapping]
    relevant = [list(files) for _, files in mapping]
    for s in ranked:
        if s.entry.ap.shape[0] != len(queries):
            raise ValueError(f"entry #{s.entry.id} has {s.entry.ap.shape[0]} per-query scores for {len(queries)} "
                             "queries of the board")
    k = info.k
    leader = ranked[0].entry if ranked else None
    runner_up = ranked[1].entry if len(ranked) > 1 else None
    rows = []
    for s, (low, high) in zip(ranked, cis):
        other = runner_up if s.is_leader else leader
        drill = _drill(s.entry, other, queries, relevant, k) if other is not None else None
        rows.append({"s": s, "e": s.entry, "ci": (low, high), "drill": drill})
    replaced = {e.id: e for e in history}
    data = {
        "board": {"name": info.name, "k": k, "n_queries": info.n_queries, "n_files": info.n_files,
                  "fingerprint": info.fingerprint},
        "queries": queries,
        "relevant": relevant,
        "leader": leader.id if leader else None,
        "runner_up": runner_up.id if runner_up else None,
        "entries": [{"id": s.entry.id, "label": s.entry.label, "rank": s.rank, "map_k": s.entry.map_k,
                     "ap": [round(float(x), 6) for x in s.entry.ap],
                     "ranks": [_rank_or_none(r) for r in s.entry.rank]} for s in ranked],
        "n_differ": N_DIFFER,
    }
    group = [s for s in ranked if s.same_as_leader]
    return env.get_template("board.html.j2").render(
        info=info, k=k, rows=rows, history=history, replaced=replaced, group=group,
        n_resamples=n_resamples, seed=seed, alpha=alpha, level=95,
        figure=base64.b64encode(figure_png).decode("ascii") if figure_png else None,
        data_json=_json_for_script(data), n_other=info.n_other,
        max_ap=max([1e-9] + [float(np.max(s.entry.ap)) for s in ranked]))
