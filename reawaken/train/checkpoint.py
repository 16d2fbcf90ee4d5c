"""Atomic training checkpoints beside a run store, for resuming a killed or failed run.

A checkpoint is a folder ``<run>.ckpt/step-<N>/`` holding the model (safetensors) and
everything else needed to continue bit-identically (optimiser state, RNG states) in a file
read back with ``torch.load(weights_only=True)``. It is written under a temporary name and
renamed when complete, so a kill during the write leaves only a ``.partial`` folder that
resume ignores. Only the newest ``keep`` checkpoints are kept.

The policy (:class:`CheckpointPolicy`) lives here too: when a checkpoint is due, and that the
optimiser state is left out where the optimiser is reset at that boundary anyway.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from reawaken.config import RunConfig
from reawaken.errors import StoreError

__all__ = [
    "Checkpoint",
    "CheckpointPolicy",
    "checkpoint_at",
    "checkpoint_dir",
    "frozen_state",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]

STEP_FOLDER = re.compile(r"step-(\d+)")


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint on disk: the step it was taken after and its folder."""

    step: int
    path: Path


@dataclass
class CheckpointPolicy:
    """When a run checkpoints (``checkpoint.every``), and whether the optimiser state goes in.

    ``doc`` and ``epoch`` checkpoint after every document block or epoch; ``auto`` at the
    first block boundary ``checkpoint.interval`` seconds after the run (or its resume) started
    or the last checkpoint was written, and after the last block; ``never`` never. With
    ``optimizer.reset_per_doc`` the optimiser starts afresh after every block, so its state is
    not saved (for Adam that is two thirds of a checkpoint).

    Examples
    --------
    >>> from reawaken.config import load_config
    >>> config = load_config(overrides=["checkpoint.every=epoch"])  # T=10, M=5: 50 steps each
    >>> policy = CheckpointPolicy.of(config)
    >>> [step for step in range(5, 251, 5) if policy.due(step)]
    [50, 100, 150, 200, 250]
    >>> policy.saves_optimizer  # the demo resets Adam for every document
    False
    """

    every: str
    block_steps: int
    epoch_ends: frozenset[int]
    total_steps: int
    interval: float
    saves_optimizer: bool
    clock: Callable[[], float] = time.monotonic
    last: float = field(init=False)

    def __post_init__(self) -> None:
        self.last = self.clock()

    @classmethod
    def of(cls, config: RunConfig, clock: Callable[[], float] = time.monotonic) -> CheckpointPolicy:
        """The policy of a run's config; the ``auto`` clock starts now."""
        return cls(
            every=config.checkpoint.every,
            block_steps=int(config.steps_between("doc") or 1),
            epoch_ends=frozenset(int(step) for step in config.epoch_end_steps),
            total_steps=config.total_steps,
            interval=config.checkpoint.interval,
            saves_optimizer=not config.optimizer.reset_per_doc,
            clock=clock,
        )

    def due(self, step: int) -> bool:
        """Whether to checkpoint after ``step`` (the last step of a block)."""
        if self.every == "never":
            return False
        if self.every == "auto":
            return step == self.total_steps or self.clock() - self.last >= self.interval
        if self.every == "epoch":
            return step in self.epoch_ends
        return step % self.block_steps == 0

    def written(self) -> None:
        """Restart the ``auto`` interval (after a checkpoint is written)."""
        self.last = self.clock()


def checkpoint_dir(store_path: str | Path) -> Path:
    """``runs/NAME.ckpt`` for the store ``runs/NAME.zarr``."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.stem + ".ckpt")


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


class FrozenState:
    """A host copy of a module's or optimiser's ``state_dict()``, taken when it is built.

    :func:`save_checkpoint` accepts it in place of the model or optimiser, so the files can be
    written on another thread while training goes on. Tensors that share storage (tied
    weights) share it in the copy too; CUDA tensors are copied without a host sync.

    Examples
    --------
    >>> layer = torch.nn.Linear(2, 1)
    >>> frozen = FrozenState(layer)
    >>> with torch.no_grad():
    ...     _ = layer.weight.zero_()
    >>> bool(frozen.state_dict()["weight"].abs().sum() > 0)
    True
    """

    def __init__(self, owner: torch.nn.Module | torch.optim.Optimizer) -> None:
        copies: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}

        def copy(value: Any) -> Any:
            if isinstance(value, torch.Tensor):
                key = (value.data_ptr(), tuple(value.shape))  # tied weights: one copy
                if key not in copies or not value.numel():
                    host = torch.empty_like(value, device="cpu", pin_memory=value.is_cuda)
                    copies[key] = host.copy_(value.detach(), non_blocking=True)
                return copies[key]
            if isinstance(value, dict):
                return {k: copy(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return type(value)(copy(v) for v in value)
            return value

        self._state = copy(owner.state_dict())
        # The copies above are queued on the device; the writer waits for them, not training.
        self._ready = torch.cuda.Event() if torch.cuda.is_available() else None
        if self._ready is not None:
            self._ready.record()

    def state_dict(self) -> dict[str, Any]:
        if self._ready is not None:
            self._ready.synchronize()
        return self._state


def frozen_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer | None
) -> tuple[FrozenState, FrozenState | None, dict[str, Any]]:
    """Host copies of model, optimiser (None: none) and RNG states now, for
    :func:`save_checkpoint` later."""
    frozen_optimizer = None if optimizer is None else FrozenState(optimizer)
    return FrozenState(model), frozen_optimizer, _rng_state()


def save_checkpoint(
    store_path: str | Path,
    step: int,
    model: torch.nn.Module | FrozenState,
    optimizer: torch.optim.Optimizer | FrozenState | None,
    extra: dict[str, Any] | None = None,
    *,
    keep: int = 2,
    protect: Collection[int] = (),
    rng: dict[str, Any] | None = None,
) -> Checkpoint:
    """Write the state after ``step`` atomically, then drop all but the newest ``keep``.

    Checkpoints at the steps in ``protect`` are never dropped (``checkpoint.keep_epochs``).
    ``optimizer`` is None where the run resets it after this step: nothing of it is saved.
    ``model`` and ``optimizer`` may be :class:`FrozenState` host copies; ``rng`` is then the
    RNG state taken with them by :func:`frozen_state` (default: the current one).
    """
    root = checkpoint_dir(store_path)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:09d}"
    staging = root / f"{final.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    # Tied weights share storage; safetensors refuses duplicates, so store each once.
    seen: dict[int, str] = {}
    unique = {}
    for name, tensor in state.items():
        key = tensor.untyped_storage().data_ptr()
        if key in seen and tensor.numel():
            continue
        seen[key] = name
        unique[name] = tensor
    save_file(unique, str(staging / "model.safetensors"))
    torch.save(
        {
            "step": step,
            "optimizer": None if optimizer is None else optimizer.state_dict(),
            "rng": _rng_state() if rng is None else rng,
            "extra": extra or {},
        },
        staging / "state.pt",
    )
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    for old in sorted(_complete(root), key=lambda c: c.step)[:-keep]:
        if old.step not in protect:
            shutil.rmtree(old.path, ignore_errors=True)
    for partial in root.glob("*.partial-*"):
        if partial != staging:
            shutil.rmtree(partial, ignore_errors=True)
    return Checkpoint(step, final)


def _complete(root: Path) -> list[Checkpoint]:
    found = []
    for folder in root.iterdir() if root.is_dir() else []:
        match = STEP_FOLDER.fullmatch(folder.name)
        if match and (folder / "model.safetensors").is_file() and (folder / "state.pt").is_file():
            found.append(Checkpoint(int(match.group(1)), folder))
    return found


def latest_checkpoint(store_path: str | Path, *, at_most: int | None = None) -> Checkpoint | None:
    """The newest complete checkpoint taken at or before step ``at_most``."""
    candidates = [
        c for c in _complete(checkpoint_dir(store_path)) if at_most is None or c.step <= at_most
    ]
    return max(candidates, key=lambda c: c.step, default=None)


def checkpoint_at(store_path: str | Path, step: int) -> Checkpoint | None:
    """The complete checkpoint taken exactly after ``step``, if there is one."""
    found = latest_checkpoint(store_path, at_most=step)
    return found if found is not None and found.step == step else None


def load_checkpoint(
    checkpoint: Checkpoint, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore model, optimiser and RNG states; returns the checkpoint's ``extra`` dict.

    A checkpoint saved without optimiser state leaves ``optimizer`` as it is (fresh).
    """
    try:
        weights = load_file(str(checkpoint.path / "model.safetensors"))
        state = torch.load(checkpoint.path / "state.pt", weights_only=True)
    except Exception as error:
        raise StoreError(
            f"checkpoint {checkpoint.path} is damaged ({error}); delete it to resume from "
            "the one before"
        ) from error
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or any(not _is_tied(model, name) for name in missing):
        raise StoreError(
            f"checkpoint {checkpoint.path} does not fit this model (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}): the run's config names a different model"
        )
    if state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return dict(state["extra"])


def _is_tied(model: torch.nn.Module, name: str) -> bool:
    """A parameter left out of the file because it shares storage with another."""
    tensors = model.state_dict()
    pointer = tensors[name].untyped_storage().data_ptr()
    return any(
        other != name and t.untyped_storage().data_ptr() == pointer for other, t in tensors.items()
    )
