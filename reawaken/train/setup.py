"""Everything a run needs before its first step: workload, order and store layout."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from reawaken.config import RunConfig
from reawaken.errors import ConfigError
from reawaken.schedule import training_schedule
from reawaken.store.schema import StoreLayout
from reawaken.train.classify import ClassifierWorkload
from reawaken.train.probes import weight_size
from reawaken.train.toy import ToyWorkload
from reawaken.train.workload import LanguageWorkload, Workload

__all__ = [
    "build_workload",
    "prepare",
    "resolve_layers",
    "resolve_threads",
    "run_threads",
    "snapshot_steps",
    "store_layout",
    "versions",
]


def versions() -> dict[str, str]:
    """Versions of the packages that shape a run's numbers, stored in its attributes."""
    import transformers
    import xarray
    import zarr

    from reawaken._version import __version__

    return {
        "reawaken": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "xarray": xarray.__version__,
        "zarr": zarr.__version__,
    }


def resolve_threads(threads: int | None) -> int:
    """CPU threads for torch: ``threads``, else ``$OMP_NUM_THREADS``, else the usable cores.

    Examples
    --------
    >>> resolve_threads(3)
    3
    """
    if threads is not None:
        return threads
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return len(usable) if usable else os.cpu_count() or 1


def run_threads(config: RunConfig, workload: Workload) -> int:
    """The CPU threads a run uses: ``threads`` if given, else the workload's own choice (the
    toy model takes one), else :func:`resolve_threads`'s default. The runner applies them for
    the run only and restores the process's setting after it."""
    return resolve_threads(config.threads if config.threads is not None else workload.threads)


def resolve_layers(layers: tuple[int, ...], num_layers: int) -> list[int]:
    """Activation layers as indices 0..L (-1 = L, the final one after the last norm)."""
    resolved = []
    for layer in layers:
        index = layer if layer >= 0 else num_layers + 1 + layer
        if not 0 <= index <= num_layers:
            raise ConfigError(
                f"config key 'probes.activation_layers': layer {layer} is out of range for a "
                f"model with {num_layers} blocks (use 0..{num_layers} or -1 for the final one)"
            )
        resolved.append(index)
    return resolved


def snapshot_steps(config: RunConfig) -> np.ndarray:
    """Steps after which a snapshot is taken (always step 0, unless snapshots are off)."""
    if config.probes.snapshot_every == "epoch":  # epochs may differ in length (one-offs)
        return np.concatenate([[0], config.epoch_end_steps]).astype(np.int64)
    every = config.steps_between(config.probes.snapshot_every)
    return np.arange(0, config.total_steps + 1, every) if every else np.array([], dtype=np.int64)


def store_layout(
    config: RunConfig, workload: Workload, order: Sequence[np.ndarray], layers: list[int]
) -> StoreLayout:
    """The shape of the run's store, from the config and the built model and documents."""
    probes = config.probes
    snapshots = snapshot_steps(config)
    return StoreLayout(
        order=order,
        steps_per_doc=config.schedule.steps_per_doc,
        n_tokens=workload.n_tokens,
        source_ids=list(workload.source_ids),
        # A workload without one-off documents need not declare the attribute.
        one_off_source_ids=list(getattr(workload, "one_off_source_ids", ())),
        snapshot_steps=snapshots,
        activation_layers=layers if len(snapshots) else [],
        hidden_size=workload.hidden_size,
        sketch_size=probes.sketch_size if len(snapshots) else 0,
        grad_sketch=probes.grad_sketch and bool(probes.sketch_size),
        weight_size=weight_size(workload.model, probes.weights) if len(snapshots) else 0,
        num_heldout_docs=workload.num_heldout_docs,
        token_loss=probes.token_loss and bool(len(snapshots)),
    )


def build_workload(config: RunConfig) -> Workload:
    """The model family's workload: the toy model, an image classifier, or a language (or
    Image GPT) model."""
    if config.model.is_toy:
        return ToyWorkload.build(config)
    if config.model.is_vision:
        return ClassifierWorkload.build(config)
    return LanguageWorkload.build(config)


def prepare(config: RunConfig) -> tuple[Workload, list[np.ndarray], list[int]]:
    """Build the model and documents and fix the schedule (one array of documents per
    epoch, :func:`reawaken.schedule.training_schedule`); seeded, so resume rebuilds the same."""
    torch.manual_seed(config.seed)
    workload = build_workload(config)
    order = training_schedule(config.schedule, len(workload), config.seed)
    layers = resolve_layers(config.probes.activation_layers, workload.num_layers)
    return workload, order, layers
