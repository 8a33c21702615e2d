"""Symmetric NT-Xent (InfoNCE) loss with multiple positives.

For a similarity matrix ``S`` (``[Q, I]``: rows are queries/captions, columns items/recordings) and a boolean
positive mask ``P`` (``P[q, i]`` iff caption ``q`` describes recording ``i``)::

    L = 1/2 * ( mean_{q : P[q,:] has a positive} CE(S[q, :] / tau, t_q)
              + mean_{i : P[:, i] has a positive} CE(S[:, i] / tau, t_i) )

where ``t_q`` is the uniform distribution over the positives of row ``q`` (soft-label cross-entropy
``CE(z, t) = -sum_j t_j log softmax(z)_j``), likewise ``t_i`` for column ``i``. With ``Q == I`` and
``P = identity`` this is the NT-Xent of the DCASE 2022 system of Primus & Widmer::

    L = 1/(2N) * sum_i [ CE(C_i*, I_i*) + CE(C_*i, I_*i) ].

Rows/columns without a positive are left out of their mean (they still act as negatives in the other
direction); if there is no positive at all, ``ValueError`` is raised.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["MIN_TEMPERATURE", "ContrastiveLoss", "nt_xent", "positives_from_ids"]

#: Smallest temperature a learnable :class:`ContrastiveLoss` can reach (``log(1/tau)`` is clamped).
MIN_TEMPERATURE = 0.001


def _soft_ce(logits: torch.Tensor, positives: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean over lines (rows if ``dim == 1``) with a positive of ``-mean_{positives} log_softmax``."""
    log_p = F.log_softmax(logits, dim=dim)
    n_pos = positives.sum(dim=dim)
    # masked_fill (not multiplication) so a -inf logit on a negative never produces 0 * -inf = NaN
    pos_log_p = log_p.masked_fill(~positives, 0.0).sum(dim=dim)
    has_pos = n_pos > 0
    per_line = -pos_log_p[has_pos] / n_pos[has_pos].to(log_p.dtype)
    return per_line.mean()


def nt_xent(similarity: torch.Tensor, positives: torch.Tensor, temperature: float | torch.Tensor) -> torch.Tensor:
    """Symmetric multi-positive NT-Xent (see the module docstring for the formula).

    Args:
        similarity: ``[Q, I]`` floating tensor (cosine similarities or fused scores).
        positives: ``[Q, I]`` boolean tensor (integer 0/1 is accepted), ``True`` where query ``q`` describes
            item ``i``.
        temperature: ``tau > 0``, a float or a scalar tensor (may require grad).

    Returns:
        A scalar tensor.

    Raises:
        ValueError: on a non-2-D or non-floating ``similarity``, a shape mismatch, a non-boolean mask, a
            non-positive / non-scalar temperature, or when no row has a positive.
    """
    if not isinstance(similarity, torch.Tensor) or similarity.dim() != 2:
        shape = tuple(similarity.shape) if isinstance(similarity, torch.Tensor) else type(similarity).__name__
        raise ValueError(f"similarity: expected a [Q, I] tensor, got {shape}")
    if not similarity.is_floating_point():
        raise ValueError(f"similarity: expected a floating tensor, got {similarity.dtype}")
    if not isinstance(positives, torch.Tensor):
        raise ValueError(f"positives: expected a bool tensor, got {type(positives).__name__}")
    if positives.shape != similarity.shape:
        raise ValueError(
            f"positives has shape {tuple(positives.shape)} but similarity has shape {tuple(similarity.shape)}")
    if positives.dtype != torch.bool:
        if positives.is_floating_point() or positives.is_complex():
            raise ValueError(f"positives: expected a bool mask, got {positives.dtype}")
        if bool(((positives != 0) & (positives != 1)).any()):
            raise ValueError("positives: integer mask must hold only 0 and 1")
        positives = positives != 0
    positives = positives.to(similarity.device)
    if isinstance(temperature, torch.Tensor):
        if temperature.numel() != 1:
            raise ValueError(f"temperature: expected a scalar, got shape {tuple(temperature.shape)}")
        temperature = temperature.reshape(())
        if not bool(temperature.detach() > 0):
            raise ValueError(f"temperature must be > 0, got {float(temperature)}")
    else:
        temperature = float(temperature)
        if not temperature > 0 or not math.isfinite(temperature):
            raise ValueError(f"temperature must be a finite value > 0, got {temperature}")
    if not bool(positives.any()):
        raise ValueError("positives: no query has a positive item; the loss is undefined")
    logits = similarity / temperature
    return 0.5 * (_soft_ce(logits, positives, dim=1) + _soft_ce(logits, positives, dim=0))


class ContrastiveLoss(torch.nn.Module):
    """:func:`nt_xent` with a fixed or learnable temperature.

    The temperature is stored as ``log_inv_temperature = log(1/tau)`` (a ``Parameter`` if
    ``learn_temperature`` else a buffer, so it is in the ``state_dict`` either way). In ``forward`` it is
    clamped to ``<= log(1/MIN_TEMPERATURE)``, i.e. ``tau >= 0.001`` (the gradient is zero while clamped).
    """

    def __init__(self, temperature: float = 0.05, learn_temperature: bool = False) -> None:
        super().__init__()
        temperature = float(temperature)
        if not math.isfinite(temperature) or temperature < MIN_TEMPERATURE:
            raise ValueError(f"temperature must be >= {MIN_TEMPERATURE}, got {temperature}")
        self.learn_temperature = bool(learn_temperature)
        init = torch.tensor(math.log(1.0 / temperature), dtype=torch.float32)
        if self.learn_temperature:
            self.log_inv_temperature = torch.nn.Parameter(init)
        else:
            self.register_buffer("log_inv_temperature", init)

    def _tau(self) -> torch.Tensor:
        return torch.exp(-self.log_inv_temperature.clamp(max=math.log(1.0 / MIN_TEMPERATURE)))

    @property
    def temperature(self) -> float:
        """The effective (clamped) temperature ``tau``."""
        return float(self._tau().detach())

    def forward(self, similarity: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        return nt_xent(similarity, positives, self._tau())

    def extra_repr(self) -> str:
        return f"temperature={self.temperature:.4g}, learn_temperature={self.learn_temperature}"


def positives_from_ids(query_ids: Sequence | torch.Tensor, item_ids: Sequence | torch.Tensor) -> torch.Tensor:
    """``[Q, I]`` bool mask with ``True`` where ``query_ids[q] == item_ids[i]``.

    Ids may be tensors (compared elementwise, on ``query_ids``' device) or sequences of any hashable ids
    (e.g. recording file names). Raises ``ValueError`` for ids that are not one-dimensional.
    """
    if isinstance(query_ids, torch.Tensor) and isinstance(item_ids, torch.Tensor):
        if query_ids.dim() != 1 or item_ids.dim() != 1:
            raise ValueError(
                f"ids must be 1-D, got shapes {tuple(query_ids.shape)} and {tuple(item_ids.shape)}")
        return query_ids.unsqueeze(1) == item_ids.to(query_ids.device).unsqueeze(0)
    q_list = _id_list(query_ids, "query_ids")
    i_list = _id_list(item_ids, "item_ids")
    codes: dict = {}
    q_codes = torch.tensor([codes.setdefault(x, len(codes)) for x in q_list], dtype=torch.long)
    i_codes = torch.tensor([codes.setdefault(x, len(codes)) for x in i_list], dtype=torch.long)
    device = query_ids.device if isinstance(query_ids, torch.Tensor) else (
        item_ids.device if isinstance(item_ids, torch.Tensor) else None)
    out = q_codes.unsqueeze(1) == i_codes.unsqueeze(0)
    return out.to(device) if device is not None else out


def _id_list(ids: Sequence | torch.Tensor, name: str) -> list:
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1:
            raise ValueError(f"{name} must be 1-D, got shape {tuple(ids.shape)}")
        return ids.tolist()
    if isinstance(ids, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of ids, not a single string")
    out = list(ids.tolist() if hasattr(ids, "tolist") else ids)
    for x in out:
        if isinstance(x, list):
            raise ValueError(f"{name} must be 1-D (got a nested sequence)")
    return out
