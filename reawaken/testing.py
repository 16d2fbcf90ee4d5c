"""Synthetic runs in the store schema, for tests and examples whose answers are known by hand.

:func:`synthetic_run` builds the same Dataset layout a real run writes (from
:func:`reawaken.store.schema.run_template`) and fills it with the arrays you give;
:func:`v1_layout` turns it into the layout schema version 1 wrote, to test that old stores
still open.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from reawaken.store.schema import (
    SCHEMA_VERSION,
    V1_INDEX_COORDINATES,
    StoreLayout,
    run_template,
)

__all__ = ["synthetic_config", "synthetic_run", "v1_layout", "write_store"]


def synthetic_config(
    num_docs: int, steps_per_doc: int, num_epochs: int, **overrides: Any
) -> dict[str, Any]:
    """A resolved-config dict like the one a real run stores in ``attrs["config"]``.

    ``overrides`` are dotted keys, e.g. ``**{"model.name": "pythia-1b", "seed": 2}``.
    """
    config: dict[str, Any] = {
        "seed": 0,
        "model": {"name": "synthetic", "revision": "main", "pretrained": True},
        "data": {"source": "synthetic", "num_docs": num_docs, "context_length": 8},
        "schedule": {"order": "cyclic", "steps_per_doc": steps_per_doc, "num_epochs": num_epochs},
        "optimizer": {"name": "sgd", "lr": 1e-3},
        "evaluation": {"every": "step"},
    }
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return config


def synthetic_run(
    loss: np.ndarray,
    *,
    steps_per_doc: int,
    order: Sequence[Sequence[int]] | np.ndarray | None = None,
    num_epochs: int | None = None,
    snapshot_steps: np.ndarray | None = None,
    arrays: Mapping[str, np.ndarray] | None = None,
    config: Mapping[str, Any] | None = None,
    status: str = "completed",
    completed_steps: int | None = None,
) -> xr.Dataset:
    """A run Dataset whose ``loss`` (step, doc) is the array you give.

    ``order`` (the documents of each epoch, in order; epochs may differ in length) defaults
    to cyclic 0..T-1 in every epoch; labels T.. in it are one-off documents (trained, never
    evaluated: the ``one_off`` dim);
    ``snapshot_steps`` defaults to every document boundary. ``arrays`` fills other variables
    (e.g. ``activation``, ``weight_sketch``, ``train_loss``) and sizes their extra dims from
    the arrays' shapes.

    Examples
    --------
    >>> T, M, E = 2, 1, 2
    >>> ds = synthetic_run(np.zeros((E * T * M + 1, T)), steps_per_doc=M, num_epochs=E)
    >>> ds.trained_doc.values.tolist()
    [-1, 0, 1, 0, 1]
    >>> ragged = synthetic_run(np.zeros((6, T)), steps_per_doc=1, order=[[0, 1, 2], [0, 1]])
    >>> ragged.epoch.values.tolist(), ragged.one_off.values.tolist()
    ([-1, 0, 0, 0, 1, 1], [2])
    """
    loss = np.asarray(loss, dtype=np.float32)
    steps, num_docs = loss.shape
    if order is None:
        if num_epochs is None:
            num_epochs = (steps - 1) // (num_docs * steps_per_doc)
        order = np.tile(np.arange(num_docs), (num_epochs, 1))
    epochs = [np.asarray(epoch, dtype=np.int64) for epoch in order]
    needed = sum(len(epoch) for epoch in epochs) * steps_per_doc + 1
    if needed != steps:
        raise ValueError(
            f"loss has {steps} steps; order {[len(e) for e in epochs]} (documents per epoch) "
            f"with steps_per_doc={steps_per_doc} needs {needed}"
        )
    labels = np.concatenate(epochs) if epochs else np.zeros(0, dtype=np.int64)
    num_one_offs = int(labels.max()) + 1 - num_docs if len(labels) else 0
    if snapshot_steps is None:
        snapshot_steps = np.arange(0, steps, steps_per_doc)
    arrays = dict(arrays or {})
    activation = arrays.get("activation")
    sketch = arrays.get("weight_sketch", arrays.get("grad_sketch"))
    weight = arrays.get("weight")
    layout = StoreLayout(
        order=epochs,
        steps_per_doc=steps_per_doc,
        n_tokens=np.full(num_docs, 8),
        source_ids=[f"doc-{i}" for i in range(num_docs)],
        snapshot_steps=np.asarray(snapshot_steps),
        activation_layers=list(range(activation.shape[2])) if activation is not None else [],
        hidden_size=activation.shape[3] if activation is not None else 0,
        sketch_size=sketch.shape[-1] if sketch is not None else 0,
        grad_sketch="grad_sketch" in arrays,
        weight_size=weight.shape[1] if weight is not None else 0,
        num_heldout_docs=arrays["heldout_loss"].shape[1] if "heldout_loss" in arrays else 0,
        token_loss="token_loss" in arrays,
        one_off_source_ids=[f"one-off-{i}" for i in range(max(num_one_offs, 0))],
    )
    attrs = {
        "schema_version": SCHEMA_VERSION,
        "config": json.dumps(
            dict(config or synthetic_config(num_docs, steps_per_doc, len(epochs)))
        ),
        "status": status,
        "completed_steps": steps - 1 if completed_steps is None else completed_steps,
    }
    ds = run_template(layout, attrs).compute()
    ds["loss"].values[:] = loss
    for name, values in arrays.items():
        ds[name].values[:] = values
    return ds


def write_store(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a synthetic run as a run store at ``path`` (a ``.zarr`` folder), as a run would.

    Examples
    --------
    >>> import tempfile
    >>> from reawaken.store.reader import open_run
    >>> run = synthetic_run(np.zeros((5, 2)), steps_per_doc=1, arrays={"train_loss": np.ones(5)})
    >>> path = write_store(run, Path(tempfile.mkdtemp()) / "tiny.zarr")
    >>> open_run(path).attrs["status"]
    'completed'
    """
    path = Path(path)
    ds.to_zarr(path, zarr_format=3, consolidated=False, mode="w")
    return path


def v1_layout(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` (a rectangular-schedule run) as store schema version 1 laid it out: with index
    coordinates 0..n-1 on ``param`` and ``sketch``, and ``schema_version`` 1.

    Examples
    --------
    >>> run = synthetic_run(np.zeros((3, 2)), steps_per_doc=1, arrays={"weight": np.ones((3, 5))})
    >>> old = v1_layout(run)
    >>> old.param.values.tolist(), old.attrs["schema_version"]
    ([0, 1, 2, 3, 4], 1)
    """
    if "one_off" in ds.dims:
        raise ValueError("schema version 1 cannot hold one-off documents")
    indexes = {dim: np.arange(ds.sizes[dim]) for dim in V1_INDEX_COORDINATES if dim in ds.dims}
    return ds.assign_coords(indexes).assign_attrs(schema_version=1)
