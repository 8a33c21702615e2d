"""Fabricated studies for the report tests: Optuna studies in SQLite whose trials point at run directories with
planted per-query effects (no training, no Ray)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest

N_QUERIES = 300


def base_scores(n: int = N_QUERIES, seed: int = 0) -> np.ndarray:
    """AP-like per-query scores in [0.2, 0.9] (so a planted -0.1 shift never clips at 0)."""
    return np.random.default_rng(seed).uniform(0.2, 0.9, n)


def queries(n: int = N_QUERIES) -> list[tuple[str, str]]:
    """(caption, target) rows with 5 captions per file and one caption used twice for the same file (Clotho)."""
    rows = [(f"caption {i} of clip {i // 5}", f"clip_{i // 5:03d}.wav") for i in range(n - 1)]
    rows.append(rows[0])  # a duplicate (query, target) row
    return rows


def write_run(run_dir: Path, ap: np.ndarray, *, rows: Sequence[tuple[str, str]] | None = None,
              order: np.ndarray | None = None, metrics: bool = True) -> Path:
    """A run directory with per_query.csv (rank consistent with ap: 1/ap when ap > 0) and metrics.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = list(rows if rows is not None else queries(len(ap)))
    idx = np.arange(len(ap)) if order is None else order
    with open(run_dir / "per_query.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["query", "target", "rank", "ap10"])
        for i in idx:
            a = float(ap[i])
            rank = int(round(1 / a)) if a > 0 else 20
            w.writerow([rows[i][0], rows[i][1], rank, f"{a:.6f}"])
    if metrics:
        (run_dir / "metrics.json").write_text(json.dumps({"test": {"test_map10": float(np.mean(ap))}}))
    return run_dir


def add_trial(study, *, params: dict[str, Any], distributions: dict[str, Any], state: str = "COMPLETE",
              value: float | None = None, run_dir: Path | None = None, seed: int = 0, epochs: int = 3,
              fail_reason: str | None = None, wall: float = 10.0) -> None:
    import optuna
    from optuna.trial import TrialState

    attrs: dict[str, Any] = {"seed": seed, "epochs_trained": epochs, "wall_time_s": wall, "stopped": "completed"}
    if run_dir is not None:
        attrs["run_dir"] = str(run_dir)
    if fail_reason:
        attrs["fail_reason"] = fail_reason
    if state == "PRUNED":
        attrs["stopped"] = "stopped_by_report"
    st = TrialState[state]
    inter = {e: 0.1 * e for e in range(1, epochs + 1)} if state != "FAIL" else {}
    study.add_trial(optuna.trial.create_trial(
        params=params, distributions=distributions, state=st,
        value=(value if value is not None else 0.5) if st in (TrialState.COMPLETE, TrialState.PRUNED) else None,
        intermediate_values=inter, user_attrs=attrs))


def new_study(tmp_path: Path, name: str, *, sampler: str = "grid", scheduler: str = "asha"):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path / (name + '.db')}"
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    study.set_user_attr("sampler", sampler)
    study.set_user_attr("scheduler", scheduler)
    study.set_user_attr("objective", "val_map10 (max)")
    return study, url


VARIANTS = ("full", "no_x", "same")


@pytest.fixture
def ablation_study(tmp_path):
    """Grid over variants full / no_x (per-query AP lower by exactly 0.1) / same (same distribution as full,
    independent noise), seeds 0 and 1; plus one PRUNED, one FAIL and one COMPLETE trial without per_query.csv."""
    from optuna.distributions import CategoricalDistribution

    study, url = new_study(tmp_path, "abl")
    dists = {"variant": CategoricalDistribution(list(VARIANTS)), "seed": CategoricalDistribution([0, 1])}
    base = base_scores()
    rng = np.random.default_rng(1)
    runs: dict[tuple[str, int], Path] = {}
    ap_by: dict[tuple[str, int], np.ndarray] = {}
    for seed in (0, 1):
        full = np.clip(base + rng.normal(0, 0.02, base.size), 0.2, 0.9)
        for v in VARIANTS:
            if v == "full":
                ap = full
            elif v == "no_x":
                ap = full - 0.1
            else:
                ap = np.clip(base + rng.normal(0, 0.02, base.size), 0.2, 0.9)
            d = write_run(tmp_path / "runs" / f"{v}-{seed}", ap)
            runs[(v, seed)] = d
            ap_by[(v, seed)] = np.round(ap, 6)
            add_trial(study, params={"variant": v, "seed": seed}, distributions=dists, value=float(np.mean(ap)),
                      run_dir=d, seed=seed)
    add_trial(study, params={"variant": "same", "seed": 0}, distributions=dists, state="PRUNED", value=0.1,
              run_dir=tmp_path / "runs" / "pruned", epochs=1)
    add_trial(study, params={"variant": "no_x", "seed": 1}, distributions=dists, state="FAIL",
              fail_reason="TrainingDiverged: loss is NaN at epoch 2", epochs=2)
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    add_trial(study, params={"variant": "full", "seed": 1}, distributions=dists, value=0.3,
              run_dir=tmp_path / "runs" / "empty")
    return {"url": url, "name": "abl", "runs": runs, "ap": ap_by, "tmp": tmp_path}


@pytest.fixture
def no_figures(monkeypatch):
    """Builds without matplotlib (fast): the figure step returns nothing."""
    import reports.build as build

    monkeypatch.setattr(build, "_figures", lambda report, fig_dir, quiet: ([], []))


@pytest.fixture
def fab():
    """The helpers above, for test modules (which cannot import conftest under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(write_run=write_run, add_trial=add_trial, new_study=new_study, base_scores=base_scores,
                           queries=queries, N=N_QUERIES, VARIANTS=VARIANTS)
