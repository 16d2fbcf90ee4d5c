"""One gradient step, the optimiser factory, and the per-block buffer of step results.

Results stay on the device inside a block and cross to the host once per block, so a GPU run
does not stall on a host sync after every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from reawaken.config import OptimizerConfig
from reawaken.errors import RunFailed

__all__ = ["BlockBuffer", "StepResult", "build_optimizer", "scheduled_lr", "set_lr", "train_step"]


def build_optimizer(model: torch.nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    """A fresh optimiser over the trainable parameters (SGD without momentum by default)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    if config.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    optimizer_class = torch.optim.Adam if config.name == "adam" else torch.optim.AdamW
    return optimizer_class(parameters, lr=config.lr, weight_decay=config.weight_decay)


def scheduled_lr(config: OptimizerConfig, step: int, *, steps_per_doc: int, total: int) -> float:
    """The learning rate of gradient step ``step`` (1-based) of a ``total``-step run.

    With ``schedule_unit: doc`` the unit index is the document block, u = (step - 1) // M,
    out of U = total / M units; with ``step``, u = step - 1 and U = total. A linear warm-up
    of W = ``warmup_steps`` units scales the lr by (u + 1) / W while u < W. A cosine schedule
    then decays from ``lr`` to ``min_lr``:
    lr(u) = min_lr + (lr - min_lr) * (1 + cos(pi * (u - W) / (U - W))) / 2,
    so it reaches ``min_lr`` at the end of the run, after the last update.

    Examples
    --------
    >>> from reawaken.config import OptimizerConfig
    >>> cosine = OptimizerConfig(lr=1.0, lr_schedule="cosine")
    >>> [round(scheduled_lr(cosine, s, steps_per_doc=1, total=4), 3) for s in range(1, 5)]
    [1.0, 0.854, 0.5, 0.146]
    >>> warm = OptimizerConfig(lr=1.0, warmup_steps=2, schedule_unit="doc")
    >>> [scheduled_lr(warm, s, steps_per_doc=2, total=8) for s in range(1, 9)]
    [0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    unit, units = step - 1, total
    if config.schedule_unit == "doc":
        unit, units = (step - 1) // steps_per_doc, total // steps_per_doc
    warmup = config.warmup_steps
    if unit < warmup:
        return config.lr * (unit + 1) / warmup
    if config.lr_schedule == "cosine":
        progress = (unit - warmup) / max(units - warmup, 1)
        return config.min_lr + (config.lr - config.min_lr) * (1 + math.cos(math.pi * progress)) / 2
    return config.lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Use ``lr`` for the next update (``train_step`` records what the optimiser holds)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


@dataclass(frozen=True)
class StepResult:
    """What one update reports; tensors stay on the device until the block is written."""

    loss: torch.Tensor  #: training loss before the update
    grad_norm: torch.Tensor  #: L2 norm of the gradient over all parameters
    lr: float  #: learning rate of the update


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    compute_loss: Callable[[], torch.Tensor],
    clip_grad_norm: float | None = None,
) -> StepResult:
    """One update on one document.

    ``compute_loss`` runs the forward pass (in training mode) and returns the scalar loss,
    e.g. ``lambda: model(input_ids=ids, labels=ids).loss`` for a causal LM. With
    ``clip_grad_norm`` the gradient is scaled to at most that global L2 norm before the
    update; the returned norm is the one before clipping.

    Examples
    --------
    >>> layer = torch.nn.Linear(2, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(1.0)
    >>> sgd = torch.optim.SGD(layer.parameters(), lr=0.5)
    >>> result = train_step(layer, sgd, lambda: layer(torch.ones(2)).sum())
    >>> float(result.loss), float(result.grad_norm), result.lr, layer.weight.tolist()
    (2.0, 1.4142135381698608, 0.5, [[0.5, 0.5]])
    """
    model.train()
    loss = compute_loss()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p for p in model.parameters() if p.grad is not None]
    if clip_grad_norm is None:
        # The norm alone: clip_grad_norm_ would also rescale every gradient by 1.0.
        grad_norm = torch.nn.utils.get_total_norm([p.grad for p in grads])
    else:
        grad_norm = torch.nn.utils.clip_grad_norm_(grads, max_norm=clip_grad_norm)
    lr = float(optimizer.param_groups[0]["lr"])
    optimizer.step()
    return StepResult(loss.detach(), grad_norm.detach(), lr)


class BlockBuffer:
    """Step results of one document block (M steps), written to the store in one go."""

    def __init__(self, steps_per_doc: int, num_docs: int) -> None:
        self.steps_per_doc = steps_per_doc
        self.num_docs = num_docs
        self.train_loss: list[torch.Tensor] = []
        self.grad_norm: list[torch.Tensor] = []
        self.lr: list[float] = []
        self.losses: dict[int, torch.Tensor] = {}
        self.heldout: dict[int, torch.Tensor] = {}
        self._arrays: dict[str, np.ndarray] | None = None

    def record_update(self, result: StepResult) -> None:
        self.train_loss.append(result.loss)
        self.grad_norm.append(result.grad_norm)
        self.lr.append(result.lr)

    def record_loss(
        self, grad_step: int, loss: torch.Tensor, heldout: torch.Tensor | None = None
    ) -> None:
        self.losses[grad_step] = loss
        if heldout is not None:
            self.heldout[grad_step] = heldout

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Arrays for the block's M rows; loss rows not evaluated stay NaN."""
        if self._arrays is None:
            self._arrays = {
                "loss": self._rows(self.losses),
                "train_loss": torch.stack(self.train_loss).float().cpu().numpy(),
                "grad_norm": torch.stack(self.grad_norm).float().cpu().numpy(),
                "lr": np.asarray(self.lr, dtype=np.float32),
            }
            if self.heldout:
                self._arrays["heldout_loss"] = self._rows(self.heldout)
        return self._arrays

    def _rows(self, evaluated: dict[int, torch.Tensor]) -> np.ndarray:
        """(M, docs) with the evaluated grad steps filled and the rest NaN."""
        width = len(next(iter(evaluated.values()))) if evaluated else self.num_docs
        rows = np.full((self.steps_per_doc, width), np.nan, dtype=np.float32)
        for grad_step, values in evaluated.items():
            rows[grad_step] = values.float().cpu().numpy()
        return rows

    @property
    def last_train_loss(self) -> float:
        return float(self.to_numpy()["train_loss"][-1])

    @property
    def last_mean_loss(self) -> float:
        return float(np.nanmean(self.to_numpy()["loss"][-1]))

    def raise_if_not_finite(self, first_step: int, doc: int, epoch: int) -> None:
        """Stop the run at the first NaN/inf training or evaluation loss, naming the step."""
        arrays = self.to_numpy()
        bad_train = ~np.isfinite(arrays["train_loss"])
        evaluated = sorted(self.losses)
        bad_eval = ~np.isfinite(arrays["loss"][evaluated]).all(axis=1)
        bad = [int(i) for i in np.flatnonzero(bad_train)]
        bad += [evaluated[int(i)] for i in np.flatnonzero(bad_eval)]
        if bad:
            step = first_step + min(bad)
            raise RunFailed(
                f"non-finite loss at step {step} (document {doc}, epoch {epoch}); the "
                f"optimiser diverged: lower optimizer.lr (now {self.lr[0]:g})"
            )
