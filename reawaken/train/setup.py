"""Everything a run needs before its first step: model, documents, order and store layout."""

from __future__ import annotations

import os

import numpy as np
import torch

from reawaken.config import RunConfig
from reawaken.data import DocumentSet, load_documents
from reawaken.errors import ConfigError
from reawaken.models import LoadedModel, load_model
from reawaken.schedule import training_order
from reawaken.store.schema import StoreLayout
from reawaken.train.probes import weight_size

__all__ = [
    "evaluated_documents",
    "prepare",
    "resolve_layers",
    "resolve_threads",
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
    every = config.steps_between(config.probes.snapshot_every)
    return np.arange(0, config.total_steps + 1, every) if every else np.array([], dtype=np.int64)


def evaluated_documents(config: RunConfig, documents: DocumentSet) -> DocumentSet:
    """What evaluation sees: the documents, or their centre windows when training shifts them.

    The store's ``tokens`` and ``n_tokens`` describe these, since ``loss`` averages over them.
    """
    return documents.windows(config.window_size) if config.noise.windowed else documents


def store_layout(
    config: RunConfig,
    loaded: LoadedModel,
    documents: DocumentSet,
    order: np.ndarray,
    layers: list[int],
) -> StoreLayout:
    """The shape of the run's store, from the config and the loaded model and documents."""
    probes = config.probes
    snapshots = snapshot_steps(config)
    evaluated = evaluated_documents(config, documents)
    return StoreLayout(
        order=order,
        steps_per_doc=config.schedule.steps_per_doc,
        n_tokens=evaluated.n_tokens,
        source_ids=list(documents.source_ids),
        snapshot_steps=snapshots,
        activation_layers=layers if len(snapshots) else [],
        hidden_size=loaded.model.config.hidden_size,
        sketch_size=probes.sketch_size if len(snapshots) else 0,
        grad_sketch=probes.grad_sketch and bool(probes.sketch_size),
        weight_size=weight_size(loaded.model, probes.weights) if len(snapshots) else 0,
        num_heldout_docs=len(documents.heldout) if documents.heldout is not None else 0,
        token_loss=probes.token_loss and bool(len(snapshots)),
    )


def _check_positions(loaded: LoadedModel, documents: DocumentSet) -> None:
    """Documents longer than the model's position table fail deep in torch; say it here."""
    limit = getattr(loaded.model.config, "max_position_embeddings", None)
    longest = int(documents.n_tokens.max())
    if documents.heldout is not None:
        longest = max(longest, int(documents.heldout.n_tokens.max()))
    if isinstance(limit, int) and longest > limit:
        raise ConfigError(
            f"documents have up to {longest} tokens but the model takes at most {limit} "
            f"positions: lower data.context_length (or data.image_size for images) to {limit}"
        )


def prepare(config: RunConfig) -> tuple[LoadedModel, DocumentSet, np.ndarray, list[int]]:
    """Load the model and documents and fix the order; seeded, so resume rebuilds the same.

    Sets torch's CPU threads first (``threads``), since loading already computes.
    """
    torch.set_num_threads(resolve_threads(config.threads))
    torch.manual_seed(config.seed)
    loaded = load_model(config.model, seed=config.seed)
    documents = load_documents(config.data, loaded.tokenize, config.seed)
    _check_positions(loaded, documents)
    order = training_order(config.schedule, len(documents), config.seed)
    layers = resolve_layers(config.probes.activation_layers, loaded.model.config.num_hidden_layers)
    return loaded, documents, order, layers
