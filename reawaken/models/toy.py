"""The paper's linear toy model (§4.4, App. A.5): a slow embedding P and a fast vector w.

Task i is one point x_i in R^N with an invertible target map f_i; its loss is
l_i = 1/2 ||P x_i - f_i(w)||^2. One step on task i is a gradient step on P with w held
fixed (the optimiser does it: SGD on this loss is exactly P <- P - lr (P x_i - f_i(w)) x_i^T),
then :meth:`ToyModel.solve_` sets w <- f_i^{-1}(P x_i). Two families of maps:
``identity`` (f_i(w) = w, Fig. 10a) and ``inverse`` (f_i(w) = y_i - w, Fig. 10b and 11).
"""

from __future__ import annotations

import torch

__all__ = ["TOY_KINDS", "ToyModel", "build_toy"]

TOY_KINDS = ("identity", "inverse")
TOY_STREAM = 0x70E  # keeps the toy's draws apart from other uses of the same seed


class ToyModel(torch.nn.Module):
    """P (embedding x input) trains; the tasks' points, targets and w are buffers.

    Examples
    --------
    >>> toy = build_toy("inverse", num_tasks=3, input_size=4, embedding_size=2, seed=0)
    >>> toy.task_losses().shape, toy.points().shape
    (torch.Size([3]), torch.Size([3, 2]))
    >>> toy.solve_(1)
    >>> bool(toy.task_losses()[1] < 1e-12)
    True
    """

    def __init__(
        self,
        kind: str,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        p: torch.Tensor,
        w: torch.Tensor,
    ) -> None:
        super().__init__()
        if kind not in TOY_KINDS:
            raise ValueError(f"toy kind must be one of {', '.join(TOY_KINDS)}, got {kind!r}")
        self.kind = kind
        self.embedding = torch.nn.Parameter(p)  # P, (M, N)
        self.register_buffer("inputs", inputs)  # x_i, (T, N)
        self.register_buffer("targets", targets)  # y_i, (T, M); zeros for identity
        self.register_buffer("fast", w)  # w, (M,)

    def _sign(self) -> float:
        return 1.0 if self.kind == "identity" else -1.0

    def _offset(self) -> torch.Tensor:
        return torch.zeros_like(self.targets) if self.kind == "identity" else self.targets

    def targets_at(self, w: torch.Tensor) -> torch.Tensor:
        """f_i(w) for every task, (T, M): w, or y_i - w."""
        return self._offset() + self._sign() * w

    def embedded(self) -> torch.Tensor:
        """P x_i for every task, (T, M)."""
        return self.inputs @ self.embedding.T

    def task_losses(self) -> torch.Tensor:
        """l_i = 1/2 ||P x_i - f_i(w)||^2 for every task at the current P and w, (T,)."""
        difference = self.embedded() - self.targets_at(self.fast)
        return 0.5 * (difference**2).sum(-1)

    def loss(self, task: int) -> torch.Tensor:
        """l_task, differentiable in P (w is a buffer, so it is held fixed)."""
        difference = self.inputs[task] @ self.embedding.T - self.targets_at(self.fast)[task]
        return 0.5 * (difference**2).sum()

    def points(self) -> torch.Tensor:
        """f_i^{-1}(P x_i) for every task, (T, M): the w that would solve each task now."""
        return self._sign() * (self.embedded() - self._offset())

    @torch.no_grad()
    def solve_(self, task: int) -> None:
        """The fast update: w <- f_task^{-1}(P x_task), which makes l_task zero."""
        self.fast.copy_(self.points()[task])


def build_toy(
    kind: str,
    *,
    num_tasks: int,
    input_size: int,
    embedding_size: int,
    seed: int,
    input_scale: float = 1.0,
    init_std: float | None = None,
) -> ToyModel:
    """The toy of the paper's App. A.5, seeded: x_i ~ Unif(-s, s)^N, w_0 and y_i ~ Unif(-1, 1)^M,
    P_0 ~ N(0, init_std^2) with init_std = 1/N by default.

    Examples
    --------
    >>> a = build_toy("identity", num_tasks=2, input_size=3, embedding_size=3, seed=1)
    >>> b = build_toy("identity", num_tasks=2, input_size=3, embedding_size=3, seed=1)
    >>> bool(torch.equal(a.embedding, b.embedding)), float(a.targets.abs().sum())
    (True, 0.0)
    """
    generator = torch.Generator().manual_seed(seed * 7919 + TOY_STREAM)

    def uniform(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.rand(*shape, generator=generator) * 2 - 1) * scale

    std = init_std if init_std is not None else 1.0 / input_size
    p = torch.randn(embedding_size, input_size, generator=generator) * std
    inputs = uniform(num_tasks, input_size, scale=input_scale)
    w = uniform(embedding_size)
    targets = uniform(num_tasks, embedding_size)
    if kind == "identity":
        targets = torch.zeros_like(targets)
    return ToyModel(kind, inputs, targets, p, w)
