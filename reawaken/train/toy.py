"""The toy model (paper §4.4) as a workload: tasks are the documents, points the activations.

A run of ``toy:identity`` or ``toy:inverse`` writes the same store as a language model's:
``loss`` is every task's l_i after every step, ``activation`` (layer 0) holds the points
f_i^{-1}(P x_i), ``tokens`` holds each task's index. So the recovery, representation and
trajectory views show Fig. 10 and Fig. 11 unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from reawaken.config import RunConfig
from reawaken.models import model_info, resolve_device
from reawaken.models.toy import ToyModel, build_toy
from reawaken.train.evaluate import Evaluation

__all__ = ["ToyWorkload"]


class ToyWorkload:
    """T tasks of the toy model; one training step = SGD on P, then w <- f_i^{-1}(P x_i).

    Examples
    --------
    >>> from reawaken.config import load_config
    >>> config = load_config(preset="paper/toy-inverse", overrides=["data.num_docs=3"])
    >>> toy = ToyWorkload.build(config)
    >>> len(toy), toy.hidden_size, toy.token_matrix().tolist()
    (3, 100, [[0], [1], [2]])
    """

    num_layers = 0  # the points are the only representation: layer 0 (= -1)
    num_heldout_docs = 0
    # Every tensor here is tiny: on a busy CPU, waking a thread pool for each op costs ~50x
    # the op itself (3 ms against 0.06 ms for a 25x100x100 product, measured), so the toy
    # runs on one thread (the runner applies it for the run and restores it after).
    threads = 1

    def __init__(self, model: ToyModel, device: torch.device) -> None:
        self.model = model.to(device)
        self.device = device
        num_tasks = int(model.inputs.shape[0])
        self.source_ids = [f"toy:{model.kind}:task-{i:03d}" for i in range(num_tasks)]
        self.n_tokens = np.ones(num_tasks, dtype=np.int32)
        self.hidden_size = int(model.embedding.shape[0])
        # P is the only parameter; the points, targets and w are buffers.
        self.info = model_info(model, device, source=f"toy:{model.kind}")

    @classmethod
    def build(cls, config: RunConfig) -> ToyWorkload:
        """The seeded toy of ``config`` (T = ``data.num_docs``, sizes from ``model.toy``)."""
        toy = config.model.toy
        model = build_toy(
            config.model.name.removeprefix("toy:"),
            num_tasks=config.data.num_docs,
            input_size=toy.input_size,
            embedding_size=toy.embedding_size,
            seed=config.seed,
            input_scale=toy.input_scale,
            init_std=toy.init_std,
        )
        return cls(model, resolve_device(config.model.device))

    def __len__(self) -> int:
        return len(self.source_ids)

    def token_matrix(self) -> np.ndarray:
        return np.arange(len(self), dtype=np.int32)[:, None]

    def training_loss(self, doc: int) -> torch.Tensor:
        return self.model.loss(doc)

    def after_update(self, doc: int) -> None:
        self.model.solve_(doc)

    @torch.no_grad()
    def evaluate(self, layers: Sequence[int], *, token_losses: bool = False) -> Evaluation:
        """Every task's loss; the points as the activation. A task has one "token" and no
        next-token loss, so ``token_losses`` gives none."""
        losses = self.model.task_losses()
        if not layers:
            return Evaluation(losses)
        points = self.model.points()[:, None, :]  # (task, layer, hidden)
        return Evaluation(losses, points.expand(-1, len(layers), -1))

    def evaluate_heldout(self) -> torch.Tensor | None:
        return None

    def document_loss(self, doc: int) -> torch.Tensor:
        return self.model.loss(doc)

    def state_dict(self) -> dict[str, Any]:
        return {}  # w is a buffer of the model, so the checkpoint's weights hold it

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
