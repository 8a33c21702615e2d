"""Trainables for tests that must decide when a trial moves on: never a race against the machine's speed.

:func:`gated_train_trial` trains exactly like :func:`studies.trainable.train_trial`, but after it has reported an
epoch it waits at a *gate*: a folder named by the environment variable ``STUDIES_TEST_GATE`` (Ray's local workers
inherit the runner's environment). For trial number ``N`` after epoch ``E``:

- the trial writes ``N.E.waiting`` (it has reported epoch ``E``; Tune and Optuna have the value or are about to);
- it goes on once ``N.go`` (release trial ``N`` for good) or ``open`` (release every trial) exists;
- ``N.E.passed`` says it went on.

:class:`Gate` is the test's side. A test can thus hold a study in the state it wants (one trial finished, another
mid-way with intermediate values) for as long as it wants, whatever the machine's speed, before it kills or
interrupts the runner. (:class:`FakeTuneTrial` and :class:`FakeTuneController` stand in for Ray Tune's trial and
controller in scheduler tests.) Select the trainable with ``python -m studies run SPEC --trainable
studies.testing:gated_train_trial`` (a hidden option meant for tests and benchmarks).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

GATE_ENV = "STUDIES_TEST_GATE"
POLL_S = 0.05


class Gate:
    """The test's side of the gate folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        """The environment a runner needs to use this gate."""
        return {GATE_ENV: str(self.folder)}

    def waiting(self) -> dict[int, int]:
        """Trial number -> the last epoch at which that trial waits (or waited) at the gate."""
        out: dict[int, int] = {}
        for p in self.folder.glob("*.*.waiting"):
            number, epoch, _ = p.name.split(".")
            out[int(number)] = max(out.get(int(number), 0), int(epoch))
        return out

    def blocked(self) -> dict[int, int]:
        """Trials waiting at the gate now: trial number -> epoch (written ``waiting``, not yet ``passed``)."""
        return {n: e for n, e in self.waiting().items()
                if not (self.folder / f"{n}.{e}.passed").exists() and not self.released(n)}

    def released(self, number: int) -> bool:
        return (self.folder / "open").exists() or (self.folder / f"{number}.go").exists()

    def release(self, number: int) -> None:
        (self.folder / f"{number}.go").write_text("go\n")

    def open(self) -> None:
        (self.folder / "open").write_text("open\n")


def wait_at_gate(number: int, epoch: int, folder: str | Path) -> None:
    """The trial's side: say that trial ``number`` reported ``epoch``, then wait until it is released."""
    folder = Path(folder)
    (folder / f"{number}.{epoch}.waiting").write_text(f"{os.getpid()}\n")
    while not ((folder / "open").exists() or (folder / f"{number}.go").exists()):
        time.sleep(POLL_S)
    (folder / f"{number}.{epoch}.passed").write_text("passed\n")


def gated_train_trial(config: dict[str, Any]) -> None:
    """:func:`studies.trainable.train_trial` that waits at the gate of ``$STUDIES_TEST_GATE`` after every epoch."""
    from .trainable import fit_retriever, run_trial

    folder = os.environ.get(GATE_ENV)
    if not folder:
        raise RuntimeError(f"gated_train_trial needs the environment variable {GATE_ENV} (a gate folder)")

    def fit_gated(cfg: Mapping[str, Any], run_dir: Path, report) -> dict[str, Any]:
        number = int(cfg["trial"]["number"])

        def gated(epoch: int, metrics: Mapping[str, Any]) -> None:
            report(epoch, metrics)
            wait_at_gate(number, epoch, folder)

        return fit_retriever(cfg, run_dir, gated)

    run_trial(config, fit_gated)


PLANTED_ENV = "STUDIES_TEST_PLANTED"


def write_planted_run(run_dir: str | Path, planted: Mapping[str, Any], variant: str, seed: int) -> float:
    """Write the ``per_query.csv`` of one planted run (see :func:`planted_ablation_trial`) into ``run_dir``; returns
    its mAP."""
    import zlib

    import numpy as np

    from retrieval.utils import atomic_write_text

    n = int(planted.get("n_queries", 200))
    base = np.random.default_rng(0).uniform(0.2, 0.6, n)
    seed_term = np.random.default_rng([1, seed]).normal(0.0, float(planted.get("seed_sd", 0.02)))
    own = np.random.default_rng([2, seed, zlib.crc32(variant.encode())]).normal(
        0.0, float(planted.get("noise", {}).get(variant, 0.005)))
    ap = np.clip(base + seed_term + float(planted.get("effects", {}).get(variant, 0.0)) + own, 0.0, 1.0)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(run_dir) / "per_query.csv", "query,target,rank,ap10\n" + "".join(
        f"query {q},clip_{q:04d}.wav,1,{a:.6f}\n" for q, a in enumerate(ap)))
    return float(ap.mean())


def planted_ablation_trial(config: dict[str, Any]) -> None:
    """A trainable that trains nothing and writes a ``per_query.csv`` with planted effects, for tests of sequential
    ablations through a real Ray Tune run. ``$STUDIES_TEST_PLANTED`` holds JSON ``{"effects": {variant: Δ},
    "noise": {variant: sd}, "seed_sd": sd, "n_queries": n}``: query ``q`` of seed ``s`` in variant ``v`` scores
    ``base_q + seed_term_s + effects[v] + N(0, noise[v])`` (clipped to [0, 1]); ``seed_term_s`` is shared by every
    variant of seed ``s`` (common random numbers), the last term is the run's own. Deterministic in (variant, seed)."""
    import json

    from .trainable import run_trial

    planted = json.loads(os.environ[PLANTED_ENV])

    def fit_planted(cfg: Mapping[str, Any], run_dir: Path, report) -> dict[str, Any]:
        variant, seed = str(cfg["trial"]["params"].get("variant")), int(cfg["trial"]["seed"])
        value = write_planted_run(run_dir, planted, variant, seed)
        report(1, {"val_map10": value})
        return {"stopped": None, "fingerprint": f"planted-{variant}-{seed}", "best_epoch": 1, "epochs_trained": 1,
                "val": {"map10": value}, "test": {"map10": value}, "history": [{"epoch": 1, "val_map10": value}]}

    run_trial(config, fit_planted)


class FakeTuneTrial:
    """What the schedulers read of a Ray Tune trial (hashable, like the real one): its config (study run root and
    Optuna trial number), id, status, parameters and last result. For scheduler tests without Ray running."""

    def __init__(self, run_root: str | Path, number: int):
        self.config = {"study": {"run_root": str(run_root)}, "trial": {"number": number}}
        self.trial_id, self.status, self.evaluated_params, self.last_result = f"t{number}", "RUNNING", {}, {}


class FakeTuneController:
    """What the schedulers ask of Ray Tune's controller: the trials."""

    def __init__(self, trials: list[FakeTuneTrial]):
        self.trials = trials

    def get_live_trials(self) -> list[FakeTuneTrial]:
        return self.trials

    def get_trials(self) -> list[FakeTuneTrial]:
        return self.trials


__all__ = ["GATE_ENV", "PLANTED_ENV", "FakeTuneController", "FakeTuneTrial", "Gate", "gated_train_trial",
           "planted_ablation_trial", "wait_at_gate", "write_planted_run"]
