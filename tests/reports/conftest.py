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


def write_config(run_dir: Path, seed: int, overrides: dict[str, Any] | None = None) -> Path:
    """A run folder's ``config.yaml`` as training writes it: synthcaps-tiny with ``overrides`` and ``train.seed``."""
    import yaml

    from retrieval.config import TrialConfig

    cfg = TrialConfig.load("synthcaps-tiny").with_overrides({**(overrides or {}), "train.seed": seed})
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"fingerprint": cfg.fingerprint(), "seed": seed,
                                                         "version": "test", "config": cfg.to_dict()},
                                                        sort_keys=False))
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


#: run-level seed effects (shift every query of a run) of :func:`seeded_ablation_study`, by (variant, seed)
SEED_SHIFTS = {"full": (0.03, -0.03, 0.0), "no_x": (0.0, 0.02, -0.02), "same": (0.05, 0.02, 0.02)}


@pytest.fixture
def seeded_ablation_study(tmp_path):
    """Grid over variants with seed effects, 3 seeds each: full, no_x (per-query AP 0.1 lower), same (the same
    recipe as full: other seeds, whose shifts happen to average +0.03 above full's), and once (one run: full's
    seed-0 scores - 0.05). Every run: base + seed shift (:data:`SEED_SHIFTS`) + per-query noise (sd 0.02)."""
    from optuna.distributions import CategoricalDistribution

    variants = ("full", "no_x", "same", "once")
    study, url = new_study(tmp_path, "sab")
    dists = {"variant": CategoricalDistribution(list(variants)), "seed": CategoricalDistribution([0, 1, 2])}
    base = base_scores()
    rng = np.random.default_rng(7)
    ap_by: dict[tuple[str, int], np.ndarray] = {}
    runs: dict[tuple[str, int], Path] = {}
    for v in ("full", "no_x", "same"):
        for seed in (0, 1, 2):
            ap = np.clip(base + SEED_SHIFTS[v][seed] + rng.normal(0, 0.02, base.size) - (0.1 if v == "no_x" else 0),
                         0, 1)
            ap_by[(v, seed)] = ap
    ap_by[("once", 0)] = np.clip(ap_by[("full", 0)] - 0.05, 0, 1)
    for (v, seed), ap in ap_by.items():
        d = write_run(tmp_path / "runs" / f"{v}-{seed}", ap)
        runs[(v, seed)] = d
        ap_by[(v, seed)] = np.round(ap, 6)
        add_trial(study, params={"variant": v, "seed": seed}, distributions=dists,
                  value=float(np.mean(ap)) + 0.001 * seed, run_dir=d, seed=seed)
    return {"url": url, "name": "sab", "runs": runs, "ap": ap_by, "tmp": tmp_path}


@pytest.fixture
def single_seed_study(tmp_path):
    """Grid over variants full / no_x (per-query AP 0.1 lower) / same (independent noise), one seed each."""
    from optuna.distributions import CategoricalDistribution

    study, url = new_study(tmp_path, "one_seed")
    dists = {"variant": CategoricalDistribution(list(VARIANTS))}
    base = base_scores()
    rng = np.random.default_rng(3)
    full = np.clip(base + rng.normal(0, 0.02, base.size), 0.2, 0.9)
    ap_by = {"full": full, "no_x": full - 0.1, "same": np.clip(base + rng.normal(0, 0.02, base.size), 0.2, 0.9)}
    for v, ap in ap_by.items():
        add_trial(study, params={"variant": v}, distributions=dists, value=float(np.mean(ap)),
                  run_dir=write_run(tmp_path / "runs" / v, ap))
    return {"url": url, "name": "one_seed", "ap": {k: np.round(a, 6) for k, a in ap_by.items()}, "tmp": tmp_path}


@pytest.fixture
def conditional_grid_study(tmp_path):
    """A grid over fusion.kind -- none: 3 seeds, late: 3 seeds (+0.1 per query), mid with fusion.mid.layers 1 and 2
    (2 seeds each) -- with seed effects -0.02, 0, +0.02 and per-query noise (sd 0.02); 200 queries."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    study, url = new_study(tmp_path, "gridc", sampler="grid")
    kind, layers, seed_d = (CategoricalDistribution(["none", "late", "mid"]), IntDistribution(1, 2),
                            CategoricalDistribution([0, 1, 2]))
    base = base_scores(200, seed=5) * 0.8
    rng = np.random.default_rng(4)
    for k, lay, seeds in (("none", None, (0, 1, 2)), ("late", None, (0, 1, 2)), ("mid", 1, (0, 1)),
                          ("mid", 2, (0, 1))):
        for seed in seeds:
            ap = np.clip(base + (0.1 if k == "late" else 0) + 0.02 * (seed - 1) + rng.normal(0, 0.02, base.size),
                         0, 1)
            params, dists = {"fusion.kind": k, "seed": seed}, {"fusion.kind": kind, "seed": seed_d}
            if lay is not None:
                params["fusion.mid.layers"], dists["fusion.mid.layers"] = lay, layers
            add_trial(study, params=params, distributions=dists, value=float(ap.mean()) + 0.001 * seed,
                      run_dir=write_run(tmp_path / "runs" / f"{k}-{lay}-{seed}", ap), seed=seed)
    return {"url": url, "name": "gridc", "tmp": tmp_path}


@pytest.fixture
def no_figures(monkeypatch):
    """Builds without matplotlib (fast): the figure step returns nothing."""
    import reports.build as build

    monkeypatch.setattr(build, "_figures", lambda report, fig_dir, quiet: ([], []))


@pytest.fixture
def fab():
    """The helpers above, for test modules (which cannot import conftest under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(write_run=write_run, write_config=write_config, add_trial=add_trial, new_study=new_study,
                           base_scores=base_scores, queries=queries, N=N_QUERIES, VARIANTS=VARIANTS)
