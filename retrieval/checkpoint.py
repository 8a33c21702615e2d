"""A run's checkpoint files: writing ``best.pt`` and ``last.pt`` after an epoch, resuming from ``last.pt``, reloading
``best.pt``, starting from ``train.init_from``, and reading every such file a user can damage or replace (those,
and ``audio_encoder.checkpoint``).

:func:`save_checkpoint` writes ``best.pt`` (when the epoch improved: the weights that were evaluated, an average
with ``train.weight_averaging``), ``last.pt`` (the resume state: model, optimiser, scheduler, scaler, the weight
average, history, best epoch, fingerprint) and the partial ``metrics.json``;
:func:`load_resume_state` reads ``last.pt`` back into the model and the optimisation, :func:`resume_fingerprint`
says which configuration wrote it, :func:`load_best` reloads ``best.pt``, :func:`init_weights` and
:func:`apply_init_weights` start a run from another run's weights (``train.init_from``).

Every ``torch.load`` of such a file goes through :func:`load_checkpoint` (always ``weights_only=True``): a truncated,
empty or foreign file is a :class:`CheckpointError` (or the caller's error class) naming the file and saying what to
do, never torch's traceback. :func:`load_state` loads a state dict into a model the same way: one that does not fit
is an error naming the file and what does not fit.

>>> import tempfile, pathlib
>>> bad = pathlib.Path(tempfile.mkdtemp()) / "best.pt"
>>> _ = bad.write_bytes(b"PK\\x03\\x04 not a checkpoint")
>>> try:
...     load_checkpoint(bad, hint="re-run training")
... except CheckpointError as exc:
...     print(str(exc).replace(str(bad), "RUN/best.pt").split(" (")[0])
RUN/best.pt is not a readable checkpoint
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, HarnessError
from .utils import atomic_torch_save, atomic_write_json

__all__ = ["CheckpointError", "apply_init_weights", "first_few", "init_weights", "load_best", "load_checkpoint",
           "load_resume_state", "load_state", "resume_fingerprint", "resume_hint", "save_checkpoint",
           "state_dict_mismatch"]


class CheckpointError(HarnessError, ValueError):
    """A checkpoint file (``best.pt``, ``last.pt``, a state dict) that cannot be read or does not fit."""


def _reason(exc: BaseException) -> str:
    """The first line of ``exc``'s message, short (torch's messages run to several sentences)."""
    text = (str(exc).strip().splitlines() or [""])[0] or type(exc).__name__
    if text.startswith("PytorchStreamReader failed"):  # ... reading zip archive: failed finding central directory
        text = text.split(". ")[0]
    return text if len(text) <= 200 else text[:200] + "..."


def first_few(items: Sequence[str], n: int = 5) -> str:
    """The first ``n`` of ``items``, comma-separated, and how many more there are."""
    shown = ", ".join(items[:n])
    return shown + (f", ... (+{len(items) - n} more)" if len(items) > n else "")


def state_dict_mismatch(expected: Mapping[str, Any], state: Mapping[str, Any]) -> list[str]:
    """What keeps ``state`` from loading into a module whose state dict is ``expected``: ``"N missing key(s): ..."``,
    ``"N unexpected key(s): ..."``, ``"N shape mismatch(es): key: checkpoint [..] vs model [..]"`` (the first few of
    each); empty when it fits."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k}: checkpoint {list(state[k].shape)} vs model {list(expected[k].shape)}"
                  for k in expected if k in state and state[k].shape != expected[k].shape]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s): {first_few(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s): {first_few(unexpected)}")
    if mismatched:
        parts.append(f"{len(mismatched)} shape mismatch(es): {first_few(mismatched)}")
    return parts


def load_checkpoint(path: str | Path, *, hint: str, map_location: Any = "cpu",
                    error: type[HarnessError] = CheckpointError, prefix: str = "") -> Any:
    """``torch.load(path, map_location, weights_only=True)``; a file that is missing or cannot be read as a
    checkpoint raises ``error`` (default :class:`CheckpointError`) with the message
    ``"<prefix><path> is not a readable checkpoint (<torch's reason>): <hint>"``."""
    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise error(f"{prefix}{path} not found: {hint}") from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, pickle errors, foreign objects: all a bad file
        raise error(f"{prefix}{path} is not a readable checkpoint ({_reason(exc)}): {hint}") from None


def load_state(model, state: Any, path: str | Path, *, hint: str, error: type[HarnessError] = CheckpointError,
               prefix: str = "") -> None:
    """``model.load_state_dict(state)`` for a state dict read from ``path``; one that does not fit the model (not a
    dict, missing or unexpected keys, other shapes) raises ``error`` naming ``path`` and what does not fit."""
    import torch

    if not isinstance(state, dict):
        raise error(f"{prefix}{path} holds a {type(state).__name__}, not a state dict: {hint}")
    odd = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if odd:
        raise error(f"{prefix}{path} is not a state dict ({len(odd)} entries are not tensors, e.g. {odd[0]!r}): "
                    f"{hint}")
    parts = state_dict_mismatch(model.state_dict(), state)
    if parts:
        raise error(f"{prefix}{path} does not fit this model: {'; '.join(parts)}: {hint}")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:  # e.g. a non-tensor entry
        raise error(f"{prefix}{path} does not fit this model ({_reason(exc)}): {hint}") from None


# --------------------------------------------------------------------------------------------- a run's checkpoints
def resume_hint(last_path: Path) -> str:
    """What to do about a ``last.pt`` that cannot be resumed from."""
    return f"start the run over with --no-resume (or delete {last_path})"


def save_checkpoint(run_dir: Path, model, opt, progress, fingerprint: str, *, improved: bool, evaluated=None,
                    averaged: Mapping[str, Any] | None = None) -> None:
    """``best.pt`` when the epoch improved, then ``last.pt`` (resume state) and the partial ``metrics.json``.
    ``opt``: the run's :class:`retrieval.train.Optimisation`; ``progress``: its :class:`retrieval.train.Progress`;
    ``evaluated``: the model whose weights were evaluated when it is not ``model`` (a weight average), what
    ``best.pt`` holds; ``averaged``: the weight average's state (:class:`retrieval.averaging.WeightAveraging`)."""
    if improved:
        atomic_torch_save((evaluated if evaluated is not None else model).state_dict(), run_dir / "best.pt")
    atomic_torch_save({"model": model.state_dict(), "optimizer": opt.optimizer.state_dict(),
                       "scheduler": opt.scheduler.state_dict(), "epoch": len(progress.history),
                       "history": progress.history, "best": progress.best, "fingerprint": fingerprint,
                       **({"scaler": opt.scaler.state_dict()} if opt.use_amp else {}),
                       **({"averaged": dict(averaged)} if averaged is not None else {})}, run_dir / "last.pt")
    atomic_write_json(run_dir / "metrics.json", {"fingerprint": fingerprint, "history": progress.history,
                                                 "best_epoch": progress.best["epoch"], "complete": False})


def resume_fingerprint(last_path: Path) -> str:
    """The fingerprint of the configuration whose run wrote ``last_path`` (a :class:`CheckpointError` when the file
    is no run's resume state)."""
    state = load_checkpoint(last_path, hint=resume_hint(last_path))
    other = state.get("fingerprint") if isinstance(state, dict) else None
    if other is None:
        raise CheckpointError(f"{last_path} does not hold a run's resume state (no fingerprint): "
                              f"{resume_hint(last_path)}")
    return other


def load_resume_state(last_path: Path, model, opt, device, averaging=None
                      ) -> tuple[list[dict[str, float]], dict[str, Any], int]:
    """Load ``last.pt`` into the model, the optimisation (``opt``: a :class:`retrieval.train.Optimisation`) and the
    weight average (``averaging``: a :class:`retrieval.averaging.WeightAveraging` that keeps one, or None); the
    history, the best epoch and the number of epochs done."""
    hint = resume_hint(last_path)
    state = load_checkpoint(last_path, map_location=device, hint=hint)
    averaged = averaging is not None and averaging.state_dict() is not None
    keys = ("model", "optimizer", "scheduler", "history", "best", "epoch") + (("averaged",) if averaged else ())
    missing = [k for k in keys if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{last_path} does not hold a run's resume state (no {', '.join(missing)}): {hint}")
    load_state(model, state["model"], last_path, hint=hint)  # copies into the parameters and buffers in place
    if averaged:
        load_state(averaging.averaged, state["averaged"], last_path, hint=hint)
    try:
        opt.optimizer.load_state_dict(state["optimizer"])
        opt.scheduler.load_state_dict(state["scheduler"])
        if opt.use_amp and "scaler" in state:
            opt.scaler.load_state_dict(state["scaler"])
        return list(state["history"]), dict(state["best"]), int(state["epoch"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{last_path}: its optimiser state does not fit this run ({type(exc).__name__}: "
                              f"{exc}): {hint}") from None


def load_best(run_dir: Path, model, device) -> None:
    """Load the run's ``best.pt`` into the model, when there is one."""
    best_path = run_dir / "best.pt"
    if best_path.exists():
        hint = f"start the run over with --no-resume (or delete {best_path} and {run_dir / 'last.pt'})"
        load_state(model, load_checkpoint(best_path, map_location=device, hint=hint), best_path, hint=hint)


def init_weights(init_from: str, run_dir: Path) -> dict[str, Any]:
    """The state dict ``train.init_from`` names (a run folder's ``best.pt`` or a ``.pt`` file). A run folder's
    text-encoder artifacts (tiny-bert's WordPiece vocabulary) are copied into this run first, so that the token ids
    the pre-trained embeddings were learnt with stay the same."""
    import shutil

    src = Path(init_from).expanduser()
    weights = src / "best.pt" if src.is_dir() else src  # its existence was checked by check_requirements
    artifacts = src / "text_encoder" if src.is_dir() else None
    if artifacts is not None and artifacts.is_dir() and not (run_dir / "text_encoder").exists():
        tmp = run_dir / ".text_encoder.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(artifacts, tmp)
        tmp.rename(run_dir / "text_encoder")
    state = load_checkpoint(weights, error=ConfigError, prefix="train.init_from: ",
                            hint="give a finished run folder holding best.pt, or a state-dict file")
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a last.pt resume state
    if not isinstance(state, dict):
        raise ConfigError(f"train.init_from: {weights} does not hold a state dict")
    return state


def apply_init_weights(model, state: dict[str, Any], source: str) -> None:
    """Load :func:`init_weights`' state dict into the model; one of another architecture is a ConfigError."""
    parts = state_dict_mismatch(model.state_dict(), state)
    if parts:
        raise ConfigError(f"train.init_from: {source} does not fit this model's architecture: " + "; ".join(parts)
                          + " (fine-tuning needs the same encoders, sizes and fusion)")
    model.load_state_dict(state)
