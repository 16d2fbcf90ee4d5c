"""The run store's schema (version 2): the one declaration of its arrays, and the template.

Every array and coordinate of a run is declared once, in :data:`VARIABLES` and
:data:`COORDINATES`. The writer creates a store from :func:`run_template`, which builds each
declared array with its declared dims and dtype; the reader and :mod:`reawaken.store.check`
validate against the same declaration; the schema tables of the README and of
docs/architecture.md are :func:`schema_tables` (a test compares them); and the synthetic
runs of :mod:`reawaken.testing` come from the same template, so tests exercise exactly the
layout a real run writes.

Version 2 (this one) differs from version 1 in two ways, and the reader opens a version-1
store as version 2 (:data:`V1_INDEX_COORDINATES`): the schedule is explicit, so epochs may
differ in length (the per-step coordinates say which document each step trains; one-off
documents, trained once and never evaluated, are labelled on the ``one_off`` dim), and the
``param`` and ``sketch`` dims have no index coordinates (the ``param`` index of Pythia-1B's
``embed_out`` alone is about 0.8 GB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import dask.array as da
import numpy as np
import xarray as xr

__all__ = [
    "BEFORE_TRAINING",
    "COORDINATES",
    "POST_RUN_DIMS",
    "READABLE_VERSIONS",
    "SCHEMA_VERSION",
    "STATUSES",
    "V1_INDEX_COORDINATES",
    "VARIABLES",
    "CoordinateSpec",
    "StoreLayout",
    "VariableSpec",
    "dim_sizes",
    "run_template",
    "schema_tables",
    "step_coordinates",
]

SCHEMA_VERSION = 2
#: Versions the reader opens (an older one is read as :data:`SCHEMA_VERSION`).
READABLE_VERSIONS = (1, 2)
#: Index coordinates a version-1 store has and version 2 drops (the dims stay).
V1_INDEX_COORDINATES = ("param", "sketch")
STATUSES = ("running", "completed", "failed", "interrupted")
#: Value of the per-step coordinates (epoch, cycle_position, trained_doc, grad_step) at step 0.
BEFORE_TRAINING = -1


@dataclass(frozen=True)
class VariableSpec:
    """One data variable of the store.

    ``long_name`` and ``units`` become the array's CF attributes; ``description`` is its row in
    the schema table. An optional variable (``required=False``) is in a store when every one
    of its dims has a size there and, if ``switch`` names a flag of :class:`StoreLayout`, when
    that flag is set. A ``post_run`` variable is never in the template: a command adds it to
    a finished store (``pairwise_loss_change``, by ``reawaken pairwise``).
    """

    dims: tuple[str, ...]
    dtype: str
    long_name: str
    description: str
    units: str = ""
    required: bool = True
    switch: str = ""
    post_run: bool = False


@dataclass(frozen=True)
class CoordinateSpec:
    """One coordinate of the store; a coordinate named like its dim labels that dim."""

    dims: tuple[str, ...]
    dtype: str
    description: str


VARIABLES: dict[str, VariableSpec] = {
    "loss": VariableSpec(
        ("step", "doc"),
        "float32",
        "evaluation loss",
        "mean next-token cross-entropy of each document after the step (an image "
        "classifier: of its batch of images; step 0 = before training; NaN where the config "
        "evaluates less often)",
        "nats",
    ),
    "train_loss": VariableSpec(
        ("step",),
        "float32",
        "training loss before the update",
        "loss of the step's training forward pass, before its update",
        "nats",
    ),
    "lr": VariableSpec(("step",), "float32", "learning rate", "learning rate of the step"),
    "grad_norm": VariableSpec(
        ("step",),
        "float32",
        "gradient norm (L2, all parameters)",
        "L2 norm of the step's gradient over all parameters",
    ),
    "tokens": VariableSpec(
        ("doc", "token"),
        "int32",
        "token ids (-1 = padding)",
        "token ids evaluated (-1 = padding; the toy model: each task's index; an image "
        "classifier: each image's class)",
    ),
    "heldout_loss": VariableSpec(
        ("step", "heldout_doc"),
        "float32",
        "held-out evaluation loss",
        "loss of each document's second text (`data.heldout_field`), evaluated with `loss`",
        "nats",
        required=False,
    ),
    "activation": VariableSpec(
        ("snapshot", "doc", "layer", "hidden"),
        "float32",
        "mean hidden state",
        "mean hidden state of each document over its tokens, at the chosen layers",
        required=False,
    ),
    "weight_sketch": VariableSpec(
        ("snapshot", "sketch"),
        "float32",
        "random projection of the parameter change since step 0",
        "count sketch of the parameter change since step 0",
        required=False,
    ),
    "weight": VariableSpec(
        ("snapshot", "param"),
        "float32",
        "chosen weights",
        "chosen parameters, flattened (`probes.weights`)",
        required=False,
    ),
    "grad_sketch": VariableSpec(
        ("snapshot", "doc", "sketch"),
        "float32",
        "random projection of each document's gradient",
        "count sketch of each document's gradient (`probes.grad_sketch`)",
        required=False,
        switch="grad_sketch",
    ),
    "token_loss": VariableSpec(
        ("snapshot", "doc", "token"),
        "float16",
        "per-token evaluation loss",
        "loss of each token given the ones before it (NaN at token 0 and at padding; "
        "`probes.token_loss`)",
        "nats",
        required=False,
        switch="token_loss",
    ),
    "pairwise_loss_change": VariableSpec(
        ("source_doc", "doc"),
        "float32",
        "change in each document's loss after M steps on source_doc alone, from one checkpoint",
        "added by `reawaken pairwise RUN --epoch N`: each document's loss change after M "
        "steps on `source_doc` alone from the checkpoint after epoch N (attrs `epoch`, `step`)",
        "nats",
        required=False,
        post_run=True,
    ),
}
#: Dims that only variables added after the run have.
POST_RUN_DIMS = ("source_doc",)

COORDINATES: dict[str, CoordinateSpec] = {
    "step": CoordinateSpec(("step",), "int64", "0 = before any update, s = after the s-th"),
    "epoch": CoordinateSpec(("step",), "int32", "epoch of the step's update (-1 at step 0)"),
    "cycle_position": CoordinateSpec(
        ("step",),
        "int32",
        "index of the trained document in its epoch's order (-1 at step 0; epochs may differ "
        "in length)",
    ),
    "trained_doc": CoordinateSpec(
        ("step",),
        "int32",
        "document updated at the step: a `doc`, or a `one_off` (-1 at step 0); the run's schedule",
    ),
    "grad_step": CoordinateSpec(
        ("step",), "int32", "index of the update in its document's block, 0..M-1 (-1 at step 0)"
    ),
    "doc": CoordinateSpec(("doc",), "int64", "document index 0..T-1 (the evaluated ones)"),
    "source_id": CoordinateSpec(("doc",), "object", "the document's index or id in its source"),
    "n_tokens": CoordinateSpec(("doc",), "int32", "the document's number of evaluated tokens"),
    "token": CoordinateSpec(("token",), "int64", "token position"),
    "snapshot": CoordinateSpec(("snapshot",), "int64", "snapshot index"),
    "snapshot_step": CoordinateSpec(("snapshot",), "int64", "step the snapshot was taken after"),
    "heldout_doc": CoordinateSpec(("heldout_doc",), "int64", "index of the held-out text"),
    "layer": CoordinateSpec(("layer",), "int64", "hidden-state layer, 0..L (L = final)"),
    "hidden": CoordinateSpec(("hidden",), "int64", "hidden unit"),
    "one_off": CoordinateSpec(
        ("one_off",),
        "int64",
        "label in `trained_doc` of a one-off document (T, T+1, ...: trained once, never "
        "evaluated; `schedule.one_offs`)",
    ),
    "one_off_source_id": CoordinateSpec(
        ("one_off",), "object", "the one-off document's index or id in its source"
    ),
    "source_doc": CoordinateSpec(
        ("source_doc",), "int64", "document trained alone by `reawaken pairwise`"
    ),
}


@dataclass(frozen=True)
class StoreLayout:
    """Sizes and per-step facts that fix the shape of a run store.

    ``order`` has one entry per epoch: ``order[e][p]`` is the document trained at cycle
    position ``p`` of epoch ``e`` (the schedule's output,
    :func:`reawaken.schedule.training_schedule`; a rectangular (epoch, position) array when
    every epoch has the same T documents). Labels 0..T-1 are the evaluated documents (T =
    ``len(n_tokens)``), labels T.. the one-off documents of ``one_off_source_ids``.
    """

    order: Sequence[np.ndarray]
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
    one_off_source_ids: list[str] = field(default_factory=list)

    @property
    def num_epochs(self) -> int:
        return len(self.order)

    @property
    def num_docs(self) -> int:
        return len(self.n_tokens)

    @property
    def num_blocks(self) -> int:
        """Document blocks of the run (E*T, plus one per one-off document)."""
        return sum(len(epoch) for epoch in self.order)

    @property
    def num_steps(self) -> int:
        """Number of entries on the ``step`` dim: one per update plus step 0."""
        return self.num_blocks * self.steps_per_doc + 1

    @property
    def max_tokens(self) -> int:
        return int(np.max(self.n_tokens))


def dim_sizes(layout: StoreLayout) -> dict[str, int | None]:
    """The size of every dim of the schema in a store of ``layout`` (None = the dim is absent).

    Examples
    --------
    >>> layout = StoreLayout(order=np.array([[0, 1]]), steps_per_doc=1,
    ...     n_tokens=np.array([3, 2]), source_ids=["a", "b"], snapshot_steps=np.array([0, 2]),
    ...     sketch_size=8)
    >>> {dim: size for dim, size in dim_sizes(layout).items() if size is not None}
    {'step': 3, 'doc': 2, 'token': 3, 'snapshot': 2, 'sketch': 8}
    """
    activations = bool(layout.activation_layers and layout.hidden_size)
    return {
        "step": layout.num_steps,
        "doc": layout.num_docs,
        "token": layout.max_tokens,
        "snapshot": len(layout.snapshot_steps),
        "heldout_doc": layout.num_heldout_docs or None,
        "layer": len(layout.activation_layers) if activations else None,
        "hidden": layout.hidden_size if activations else None,
        "sketch": layout.sketch_size or None,
        "param": layout.weight_size or None,
        "one_off": len(layout.one_off_source_ids) or None,
        "source_doc": None,  # only after the run, when `reawaken pairwise` adds its variable
    }


def step_coordinates(order: Sequence[np.ndarray], steps_per_doc: int) -> dict[str, np.ndarray]:
    """Per-step coordinates for a schedule: one array of documents per epoch, of any length.

    Step 0 is before any update; step ``s >= 1`` is after the s-th update.

    Examples
    --------
    >>> coords = step_coordinates(np.array([[1, 0]]), steps_per_doc=2)
    >>> coords["trained_doc"].tolist()
    [-1, 1, 1, 0, 0]
    >>> coords["grad_step"].tolist()
    [-1, 0, 1, 0, 1]
    >>> ragged = step_coordinates([np.array([0, 2]), np.array([0])], steps_per_doc=1)
    >>> ragged["epoch"].tolist(), ragged["cycle_position"].tolist()
    ([-1, 0, 0, 1], [-1, 0, 1, 0])
    """
    lengths = [len(epoch) for epoch in order]
    epoch = np.repeat(np.arange(len(lengths)), lengths)
    position = np.concatenate([np.arange(n) for n in lengths]) if lengths else epoch
    trained = np.concatenate([np.asarray(e, dtype=np.int64) for e in order]) if lengths else epoch

    def with_step0(per_block: np.ndarray) -> np.ndarray:
        per_step = np.repeat(per_block, steps_per_doc)
        return np.concatenate([[BEFORE_TRAINING], per_step]).astype(np.int32)

    grad_step = np.tile(np.arange(steps_per_doc), len(trained))
    return {
        "epoch": with_step0(epoch),
        "cycle_position": with_step0(position),
        "trained_doc": with_step0(trained),
        "grad_step": np.concatenate([[BEFORE_TRAINING], grad_step]).astype(np.int32),
    }


def _has(dims: tuple[str, ...], sizes: dict[str, int | None]) -> bool:
    return all(sizes[dim] is not None for dim in dims)


def _present(spec: VariableSpec, sizes: dict[str, int | None], layout: StoreLayout) -> bool:
    switched_on = not spec.switch or bool(getattr(layout, spec.switch))
    return spec.required or (switched_on and _has(spec.dims, sizes))


def _coordinate_values(layout: StoreLayout) -> dict[str, object]:
    """Values of every coordinate that is not a plain 0..n-1 range of its dim."""
    return {
        **step_coordinates(layout.order, layout.steps_per_doc),
        "source_id": layout.source_ids,
        "n_tokens": layout.n_tokens,
        "snapshot_step": layout.snapshot_steps,
        "layer": layout.activation_layers,
        "one_off": np.arange(len(layout.one_off_source_ids)) + layout.num_docs,
        "one_off_source_id": layout.one_off_source_ids,
    }


#: Bytes aimed at per chunk along ``step``: a paper-size ``loss`` (1251 x 25 float32) is one
#: chunk, so reading it back is one file, not one per document block (126).
STEP_CHUNK_BYTES = 1 << 20


def _chunks(
    dims: tuple[str, ...], sizes: dict[str, int], dtype: str, steps_per_doc: int
) -> tuple[int, ...]:
    """Along ``step`` whole document blocks filling about :data:`STEP_CHUNK_BYTES`; one
    snapshot along ``snapshot``; whole elsewhere."""
    row_bytes = np.dtype(dtype).itemsize * int(np.prod([sizes[d] for d in dims if d != "step"]))
    blocks = max(1, STEP_CHUNK_BYTES // (steps_per_doc * row_bytes))
    per_dim = {"step": min(sizes.get("step", 1), blocks * steps_per_doc), "snapshot": 1}
    return tuple(per_dim.get(dim, sizes[dim]) for dim in dims)


def run_template(layout: StoreLayout, attrs: dict[str, object] | None = None) -> xr.Dataset:
    """The full-size, NaN-filled Dataset of a run (data lazy, coordinates concrete).

    Every variable of :data:`VARIABLES` that the layout has is built with its declared dims
    and dtype. Chunks along ``step`` hold whole document blocks (about
    :data:`STEP_CHUNK_BYTES`) and along ``snapshot`` one snapshot. A flush at a document
    boundary rewrites the chunks it touches; chunk files are replaced atomically, so a
    concurrent reader sees the old or the new chunk, never a mix. Integer arrays are filled
    with -1.

    Examples
    --------
    >>> layout = StoreLayout(order=np.array([[0, 1], [0, 1]]), steps_per_doc=3,
    ...     n_tokens=np.array([5, 4]), source_ids=["a", "b"], snapshot_steps=np.array([0, 3]))
    >>> ds = run_template(layout)
    >>> dict(ds.sizes)
    {'step': 13, 'doc': 2, 'token': 5, 'snapshot': 2}
    >>> sorted(ds.data_vars)
    ['grad_norm', 'loss', 'lr', 'tokens', 'train_loss']
    >>> ds["tokens"].dtype, ds["loss"].dtype
    (dtype('int32'), dtype('float32'))
    """
    sizes = dim_sizes(layout)
    present = {d: n for d, n in sizes.items() if n is not None}
    data = {}
    for name, spec in VARIABLES.items():
        if not _present(spec, sizes, layout):
            continue
        fill = np.nan if np.issubdtype(np.dtype(spec.dtype), np.floating) else -1
        shape = tuple(present[dim] for dim in spec.dims)
        chunks = _chunks(spec.dims, present, spec.dtype, layout.steps_per_doc)
        array = da.full(shape, fill, dtype=spec.dtype, chunks=chunks)
        data[name] = xr.Variable(
            spec.dims, array, {"long_name": spec.long_name, "units": spec.units}
        )
    values = _coordinate_values(layout)
    coords = {
        name: (
            spec.dims,
            np.asarray(values[name] if name in values else np.arange(sizes[name]), spec.dtype),
        )
        for name, spec in COORDINATES.items()
        if _has(spec.dims, sizes)
    }
    return xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))


def _table(header: str, rows: list[str]) -> str:
    columns = header.count("|") - 1
    return "\n".join([header, "|" + " --- |" * columns, *rows])


def schema_tables() -> str:
    """The store's variables and coordinates as Markdown tables, from the declaration above.

    The README and docs/architecture.md contain exactly this text (tests/store/test_schema.py
    checks it); ``python -m reawaken.store.schema`` prints it.

    Examples
    --------
    >>> print(schema_tables().splitlines()[4])
    | `lr` | step | float32 | learning rate of the step |
    """
    variables = [
        f"| `{name}` | {', '.join(spec.dims)} | {spec.dtype} | {spec.description}"
        + (f" ({spec.units})" if spec.units else "")
        + ("" if spec.required else ", optional")
        + " |"
        for name, spec in VARIABLES.items()
    ]
    coordinates = [
        f"| `{name}` | {', '.join(spec.dims)} | {spec.description} |"
        for name, spec in COORDINATES.items()
    ]
    return (
        _table("| variable | dims | dtype | meaning |", variables)
        + "\n\n"
        + _table("| coordinate | dims | meaning |", coordinates)
    )


if __name__ == "__main__":
    print(schema_tables())
