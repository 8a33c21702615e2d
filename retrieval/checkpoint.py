"""Reading checkpoint files a user can damage or replace: a run folder's ``best.pt`` and ``last.pt``,
``train.init_from`` and ``audio_encoder.checkpoint``.

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

from .errors import HarnessError

__all__ = ["CheckpointError", "first_few", "load_checkpoint", "load_state", "state_dict_mismatch"]


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
