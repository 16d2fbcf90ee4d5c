"""The run store's schema (version 1): names, dims, dtypes and the empty full-size template.

Every array of a run is declared here once; the writer creates the store from
:func:`run_template`, the reader and :mod:`reawaken.store.check` validate against
:data:`VARIABLES`, and the synthetic runs of :mod:`reawaken.testing` are built from the same
template, so tests exercise exactly the layout a real run writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dask.array as da
import numpy as np
import xarray as xr

__all__ = [
    "BEFORE_TRAINING",
    "SCHEMA_VERSION",
    "STATUSES",
    "VARIABLES",
    "StoreLayout",
    "VariableSpec",
    "run_template",
    "step_coordinates",
]

SCHEMA_VERSION = 1
STATUSES = ("running", "completed", "failed", "interrupted")
#: Value of the per-step coordinates (epoch, cycle_position, trained_doc, grad_step) at step 0.
BEFORE_TRAINING = -1


@dataclass(frozen=True)
class VariableSpec:
    """One data variable of the store: its dims, dtype and CF-style labels."""

    dims: tuple[str, ...]
    dtype: str
    long_name: str
    units: str = ""
    required: bool = True


VARIABLES: dict[str, VariableSpec] = {
    "loss": VariableSpec(("step", "doc"), "float32", "evaluation loss", "nats"),
    "train_loss": VariableSpec(("step",), "float32", "training loss before the update", "nats"),
    "lr": VariableSpec(("step",), "float32", "learning rate"),
    "grad_norm": VariableSpec(("step",), "float32", "gradient norm (L2, all parameters)"),
    "tokens": VariableSpec(("doc", "token"), "int32", "token ids (-1 = padding)"),
    "activation": VariableSpec(
        ("snapshot", "doc", "layer", "hidden"), "float32", "mean hidden state", required=False
    ),
    "weight_sketch": VariableSpec(
        ("snapshot", "sketch"),
        "float32",
        "random projection of the parameter change since step 0",
        required=False,
    ),
    "weight": VariableSpec(("snapshot", "param"), "float32", "chosen weights", required=False),
    "grad_sketch": VariableSpec(
        ("snapshot", "doc", "sketch"),
        "float32",
        "random projection of each document's gradient",
        required=False,
    ),
    "heldout_loss": VariableSpec(
        ("step", "heldout_doc"), "float32", "held-out evaluation loss", "nats", required=False
    ),
    "token_loss": VariableSpec(
        ("step", "doc", "token"), "float16", "per-token evaluation loss", "nats", required=False
    ),
    # Added after the run by `reawaken pairwise` (reawaken.train.pairwise), not at creation.
    "pairwise_loss_change": VariableSpec(
        ("source_doc", "doc"),
        "float32",
        "change in each document's loss after M steps on source_doc alone, from one checkpoint",
        "nats",
        required=False,
    ),
}


@dataclass(frozen=True)
class StoreLayout:
    """Sizes and per-step facts that fix the shape of a run store.

    ``order`` has one row per epoch: ``order[e, p]`` is the document trained at cycle position
    ``p`` of epoch ``e`` (the schedule's output).
    """

    order: np.ndarray
    steps_per_doc: int
    n_tokens: np.ndarray
    source_ids: list[str]
    snapshot_steps: np.ndarray
    activation_layers: list[int] = field(default_factory=list)
    hidden_size: int = 0
    sketch_size: int = 0
    weight_size: int = 0
    grad_sketch: bool = False
    num_heldout_docs: int = 0
    token_loss: bool = False

    @property
    def num_epochs(self) -> int:
        return int(self.order.shape[0])

    @property
    def num_docs(self) -> int:
        return int(self.order.shape[1])

    @property
    def num_steps(self) -> int:
        """Number of entries on the ``step`` dim: E*T*M updates plus step 0."""
        return self.num_epochs * self.num_docs * self.steps_per_doc + 1

    @property
    def max_tokens(self) -> int:
        return int(np.max(self.n_tokens))


def step_coordinates(order: np.ndarray, steps_per_doc: int) -> dict[str, np.ndarray]:
    """Per-step coordinates for a training order of shape (epoch, cycle_position).

    Step 0 is before any update; step ``s >= 1`` is after the s-th update.

    Examples
    --------
    >>> coords = step_coordinates(np.array([[1, 0]]), steps_per_doc=2)
    >>> coords["trained_doc"].tolist()
    [-1, 1, 1, 0, 0]
    >>> coords["grad_step"].tolist()
    [-1, 0, 1, 0, 1]
    """
    num_epochs, num_docs = order.shape
    update = np.arange(num_epochs * num_docs * steps_per_doc)
    episode = update // steps_per_doc
    epoch = episode // num_docs
    position = episode % num_docs

    def with_step0(values: np.ndarray) -> np.ndarray:
        return np.concatenate([[BEFORE_TRAINING], values]).astype(np.int32)

    return {
        "epoch": with_step0(epoch),
        "cycle_position": with_step0(position),
        "trained_doc": with_step0(order[epoch, position]),
        "grad_step": with_step0(update % steps_per_doc),
    }


def _lazy_nan(shape: tuple[int, ...], dtype: str, chunks: tuple[int, ...]) -> da.Array:
    return da.full(shape, np.nan, dtype=dtype, chunks=chunks)


def run_template(layout: StoreLayout, attrs: dict[str, object] | None = None) -> xr.Dataset:
    """The full-size, NaN-filled Dataset of a run (data lazy, coordinates concrete).

    Chunks along ``step`` hold one document block (M steps) and along ``snapshot`` one
    snapshot, so each flush at a document boundary writes whole chunks and a concurrent
    reader sees either the old (NaN) or the new chunk, never a mix.

    Examples
    --------
    >>> layout = StoreLayout(order=np.array([[0, 1], [0, 1]]), steps_per_doc=3,
    ...     n_tokens=np.array([5, 4]), source_ids=["a", "b"], snapshot_steps=np.array([0, 3]))
    >>> ds = run_template(layout)
    >>> dict(ds.sizes)
    {'step': 13, 'doc': 2, 'token': 5, 'snapshot': 2}
    """
    steps, docs, tokens = layout.num_steps, layout.num_docs, layout.max_tokens
    block = layout.steps_per_doc
    snapshots = len(layout.snapshot_steps)
    coords: dict[str, object] = {
        "step": np.arange(steps, dtype=np.int64),
        "doc": np.arange(docs, dtype=np.int64),
        "source_id": ("doc", np.asarray(layout.source_ids, dtype=object)),
        "n_tokens": ("doc", np.asarray(layout.n_tokens, dtype=np.int32)),
        "token": np.arange(tokens, dtype=np.int64),
        "snapshot": np.arange(snapshots, dtype=np.int64),
        "snapshot_step": ("snapshot", np.asarray(layout.snapshot_steps, dtype=np.int64)),
    }
    coords.update(
        {name: ("step", values) for name, values in step_coordinates(layout.order, block).items()}
    )
    data: dict[str, tuple[tuple[str, ...], object]] = {
        "loss": (("step", "doc"), _lazy_nan((steps, docs), "float32", (block, docs))),
        "train_loss": (("step",), _lazy_nan((steps,), "float32", (block,))),
        "lr": (("step",), _lazy_nan((steps,), "float32", (block,))),
        "grad_norm": (("step",), _lazy_nan((steps,), "float32", (block,))),
        "tokens": (("doc", "token"), da.full((docs, tokens), -1, dtype="int32", chunks=-1)),
    }
    if layout.activation_layers and layout.hidden_size:
        coords["layer"] = np.asarray(layout.activation_layers, dtype=np.int64)
        coords["hidden"] = np.arange(layout.hidden_size, dtype=np.int64)
        shape = (snapshots, docs, len(layout.activation_layers), layout.hidden_size)
        data["activation"] = (
            VARIABLES["activation"].dims,
            _lazy_nan(shape, "float32", (1, *shape[1:])),
        )
    if layout.sketch_size:
        coords["sketch"] = np.arange(layout.sketch_size, dtype=np.int64)
        data["weight_sketch"] = (
            ("snapshot", "sketch"),
            _lazy_nan((snapshots, layout.sketch_size), "float32", (1, layout.sketch_size)),
        )
        if layout.grad_sketch:
            shape = (snapshots, docs, layout.sketch_size)
            data["grad_sketch"] = (
                VARIABLES["grad_sketch"].dims,
                _lazy_nan(shape, "float32", (1, *shape[1:])),
            )
    if layout.weight_size:
        coords["param"] = np.arange(layout.weight_size, dtype=np.int64)
        data["weight"] = (
            ("snapshot", "param"),
            _lazy_nan((snapshots, layout.weight_size), "float32", (1, layout.weight_size)),
        )
    if layout.num_heldout_docs:
        coords["heldout_doc"] = np.arange(layout.num_heldout_docs, dtype=np.int64)
        shape = (steps, layout.num_heldout_docs)
        data["heldout_loss"] = (
            ("step", "heldout_doc"),
            _lazy_nan(shape, "float32", (block, shape[1])),
        )
    if layout.token_loss:
        shape = (steps, docs, tokens)
        data["token_loss"] = (
            ("step", "doc", "token"),
            _lazy_nan(shape, "float16", (block, docs, tokens)),
        )
    ds = xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))
    for name, variable in ds.data_vars.items():
        spec = VARIABLES[str(name)]
        variable.attrs.update({"long_name": spec.long_name, "units": spec.units})
    return ds
