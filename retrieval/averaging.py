"""Weight averaging for evaluation (``train.weight_averaging``): an average of the weights, not the weights as
trained, is validated after every epoch, chosen as the best checkpoint and tested.

Both kinds are ``torch.optim.swa_utils.AveragedModel`` copies of the model:

- ``ema``: ``W_ema <- decay * W_ema + (1 - decay) * W`` after every optimiser step
  (``get_ema_multi_avg_fn(decay)``; the first step copies ``W``);
- ``swa``: the equal average of the weights at the end of every epoch from the start epoch on; before it, the
  weights as trained are evaluated.

Buffers are not averaged (``use_buffers=False``: the copy's buffers follow the model's), and BatchNorm's running
statistics (the CNN encoders have BatchNorm, PaSST and the text encoders do not) are re-estimated for the averaged
weights with ``swa_utils.update_bn`` before each evaluation: one pass of the audio encoder in training mode over
the training recordings' centred, un-augmented crops (``features.train_seconds``, ``train.batch_size`` at a time).
The running statistics of the trained weights would not match the averaged weights' activations, and averaging the
buffers too (``use_buffers=True``) would also average integer buffers (BatchNorm's batch counts, a Hugging Face
encoder's position ids) with float weights. A frozen audio encoder is left alone: its weights and statistics never
change. The pass costs one forward pass of the audio encoder over the training split per evaluation (none without
BatchNorm).

``last.pt`` keeps the averaged model (:meth:`WeightAveraging.state_dict`), so a resumed run continues exactly as
the uninterrupted one; ``best.pt`` holds the weights that were evaluated.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

from .batching import SplitData, make_audio_batch, normalise_batch, seconds_to_frames

__all__ = ["WeightAveraging"]


class _AudioPass(nn.Module):
    """The audio encoder called on one ``(x, lengths)`` input, the form ``update_bn`` feeds a model."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Any:
        return self.encoder(*batch)


class WeightAveraging:
    """The run's weight averaging (``cfg.train.weight_averaging``; kind ``none``: the model as trained throughout).

    ``fit`` calls :meth:`after_step` after every optimiser step and :meth:`end_of_epoch` after every epoch, which
    returns the model to evaluate and save as ``best.pt``."""

    def __init__(self, model: nn.Module, cfg: Any, train: SplitData, device: torch.device):
        wa = cfg.train.weight_averaging
        self.kind = wa.kind
        self.cfg, self.train, self.device = cfg, train, device
        self.averaged: AveragedModel | None = None
        if self.kind == "ema":
            self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(wa.decay), use_buffers=False)
        elif self.kind == "swa":
            self.averaged = AveragedModel(model, use_buffers=False)  # the default average: equal weights
            self.start = wa.swa_start(cfg.train.epochs)

    def after_step(self, model: nn.Module) -> None:
        """EMA: fold the weights after an optimiser step into the average."""
        if self.kind == "ema":
            self.averaged.update_parameters(model)

    def end_of_epoch(self, model: nn.Module, epoch: int) -> nn.Module:
        """SWA: average in the weights at the end of epoch ``epoch`` (0-based) when it is averaged. The model to
        evaluate: the averaged weights (their BatchNorm statistics re-estimated) once anything is averaged, else
        ``model``."""
        if self.kind == "swa" and epoch + 1 >= self.start:
            self.averaged.update_parameters(model)
        if self.averaged is None or int(self.averaged.n_averaged) == 0:
            return model
        self.update_batch_norm()
        return self.averaged.module

    def update_batch_norm(self) -> None:
        """Re-estimate the averaged audio encoder's BatchNorm statistics (``swa_utils.update_bn``); nothing for
        a frozen encoder or one without BatchNorm."""
        encoder = self.averaged.module.audio_encoder
        if getattr(encoder, "frozen", False) or self.train.encoded is not None:
            return
        update_bn(self._bn_batches(), _AudioPass(encoder))

    def _bn_batches(self) -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
        module = self.averaged.module
        frames = seconds_to_frames(self.cfg.features, self.cfg.features.train_seconds)
        size = self.cfg.train.batch_size
        for start in range(0, len(self.train.features), size):
            x, lengths = make_audio_batch(self.train.features[start:start + size], frames, float(module.feat_mean),
                                          None)
            x, lengths = x.to(self.device), lengths.to(self.device)
            yield [(normalise_batch(x, lengths, module.feat_mean, module.feat_std), lengths)]

    def state_dict(self) -> dict[str, Any] | None:
        """What ``last.pt`` keeps of the average (None without one)."""
        return self.averaged.state_dict() if self.averaged is not None else None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.averaged.load_state_dict(state)
