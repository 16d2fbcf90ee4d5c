"""Similarity of stored representations and gradients: cosine and linear CKA matrices.

Paper Fig. 8d compares one document's final hidden state across snapshots (cosine);
Fig. 8a compares documents' gradients at one checkpoint. Both read the snapshot probes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from reawaken.analysis._batch import Batch, zero_absent_features
from reawaken.analysis._checks import activation_at_layer, require
from reawaken.errors import StoreError

__all__ = ["cosine_matrix", "gradient_similarity", "linear_cka_matrix", "representation_similarity"]

Method = Literal["cosine", "cka"]


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of rows: (..., n, f) -> (..., n, n); NaN for zero rows.

    Examples
    --------
    >>> cosine_matrix(np.array([[1.0, 0.0], [1.0, 1.0]])).round(4).tolist()
    [[1.0, 0.7071], [0.7071, 1.0]]
    """
    norm = np.linalg.norm(vectors, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        product = vectors @ np.swapaxes(vectors, -1, -2)
        result = product / (norm[..., :, None] * norm[..., None, :])
    usable = (norm > 0)[..., :, None] & (norm > 0)[..., None, :]
    return np.where(usable, result, np.nan)


def linear_cka_matrix(
    representations: np.ndarray, examples: np.ndarray | None = None
) -> np.ndarray:
    """Linear CKA of every pair of representations: (..., n, m, f) -> (..., n, n).

    Representation r is an (m examples x f features) matrix X_r; with X centred over the
    examples, CKA(X, Y) = ||X^T Y||_F^2 / (||X^T X||_F ||Y^T Y||_F) (Kornblith et al. 2019),
    computed through the (m x m) Gram matrices. ``examples``, broadcastable to (..., n, m),
    marks the examples to use (the others are left out of the centring and the sums).

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # 3 examples, 2 features
    >>> rotated = x @ np.array([[0.0, -1.0], [1.0, 0.0]]) * 3  # rotation and scale: CKA 1
    >>> linear_cka_matrix(np.stack([x, rotated])).round(6).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    x = np.asarray(representations, dtype=np.float64)
    if examples is None:
        examples = np.ones(x.shape[:-1], dtype=bool)
    use = np.broadcast_to(np.asarray(examples)[..., None], x.shape)
    count = use[..., :1].sum(axis=-2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(use, x, 0.0).sum(axis=-2, keepdims=True) / count
    centred = np.where(use, x - mean, 0.0)
    gram = centred @ np.swapaxes(centred, -1, -2)  # (..., n, m, m)
    flat = gram.reshape((*gram.shape[:-2], -1))
    return cosine_matrix(flat)


def _snapshot_index(
    ds: xr.Dataset, func: str, written: np.ndarray, snapshot: int | None
) -> np.ndarray:
    """(B,) position of the chosen snapshot: the label given, or each run's last written one."""
    if snapshot is None:
        last = written.shape[1] - 1 - np.argmax(written[:, ::-1], axis=1)
        return np.where(written.any(axis=1), last, -1)
    labels = ds["snapshot"].values
    found = np.flatnonzero(labels == snapshot)
    if not len(found):
        raise StoreError(
            f"{func}: no snapshot {snapshot!r}; this run has snapshots {labels[0]}..{labels[-1]}"
            if len(labels)
            else f"{func}: this run has no snapshots"
        )
    return np.full(written.shape[0], found[0])


def _pick(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[b, index[b]] for (B, N, ...) values; NaN where index is -1."""
    taken = values[np.arange(values.shape[0]), np.clip(index, 0, None)]
    return np.where((index >= 0).reshape((-1,) + (1,) * (taken.ndim - 1)), taken, np.nan)


def _snapshot_coords(ds: xr.Dataset, batch: Batch, index: np.ndarray) -> dict[str, tuple]:
    steps = batch.values(ds["snapshot_step"], ("snapshot",))
    labels = ds["snapshot"].values
    valid = index >= 0
    return {
        "snapshot": batch.coord(np.where(valid, labels[np.clip(index, 0, None)], -1), ()),
        "snapshot_step": batch.coord(
            np.where(valid, steps[np.arange(len(index)), np.clip(index, 0, None)], -1), ()
        ),
    }


def _doc_by_doc(
    ds: xr.Dataset, batch: Batch, values: np.ndarray, index: np.ndarray, name: str, attrs: dict
) -> xr.DataArray:
    coords = {"doc": ds["doc"].values, "other_doc": ds["doc"].values}
    coords.update(_snapshot_coords(ds, batch, index))
    return batch.wrap(values, ("doc", "other_doc"), coords=coords, name=name, attrs=attrs)


def representation_similarity(
    ds: xr.Dataset,
    *,
    method: Method = "cosine",
    snapshot: int | None = None,
    doc: int | None = None,
    layer: int = -1,
) -> xr.DataArray:
    """Similarity of the stored mean hidden states (``activation``), between docs or snapshots.

    Parameters
    ----------
    ds
        A run or several runs with ``activation`` (snapshot, doc, layer, hidden).
    method
        ``"cosine"`` or ``"cka"`` (linear CKA). Cosine compares single vectors. CKA compares
        sets of examples, so a representation is a matrix: with ``doc=None``, document i's
        trajectory (snapshot x hidden) over the written snapshots up to ``snapshot`` (do two
        documents' representations move alike?); with ``doc`` given, the whole
        (doc x hidden) matrix at a snapshot (how much the geometry of all documents changed).
        CKA with ``doc`` given therefore does not depend on which ``doc``.
    snapshot
        Label on ``snapshot`` for ``doc=None``; default each run's last written snapshot.
    doc
        None: document-by-document matrix. A ``doc`` label: that document across snapshots
        (paper Fig. 8d); unwritten snapshots are NaN.
    layer
        Position along ``layer`` (-1 = the last stored layer).

    Returns
    -------
    xarray.DataArray
        (``doc``, ``other_doc``) with coordinates ``snapshot`` and ``snapshot_step``, or
        (``snapshot``, ``other_snapshot``) with ``snapshot_step`` and ``doc``.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> # 5 snapshots (one per document boundary), 2 docs, 1 layer, 2 hidden units
    >>> act = np.array([[[1.0, 0.0]], [[1.0, 1.0]]])[None].repeat(5, axis=0)
    >>> ds = synthetic_run(np.zeros((5, 2)), steps_per_doc=1, arrays={"activation": act})
    >>> representation_similarity(ds).round(4).values.tolist()
    [[1.0, 0.7071], [0.7071, 1.0]]
    """
    func = "representation_similarity"
    if method not in ("cosine", "cka"):
        raise ValueError(f"{func}: method must be 'cosine' or 'cka', got {method!r}")
    activation = activation_at_layer(ds, func, layer)
    core = ("snapshot", "doc", "hidden")
    batch = Batch.of(activation, core)
    values = batch.values(activation, core).astype(np.float64)  # (B, snapshot, doc, hidden)
    written = np.isfinite(values).any(axis=(2, 3))
    values = zero_absent_features(values)
    attrs = {"long_name": f"{method} similarity of mean hidden states", "method": method}
    layer_coord = activation["layer"].values
    if doc is None:
        index = _snapshot_index(ds, func, written, snapshot)
        if method == "cosine":
            result = cosine_matrix(_pick(values, index))
        else:
            upto = written & (np.arange(values.shape[1]) <= index[:, None])
            trajectories = np.swapaxes(values, 1, 2)  # (B, doc, snapshot, hidden)
            examples = upto[:, None, :] & np.isfinite(trajectories).all(axis=3)
            result = linear_cka_matrix(trajectories, examples)
            result[index < 0] = np.nan
        out = _doc_by_doc(ds, batch, result, index, "representation_similarity", attrs)
        return out.assign_coords(layer=layer_coord)
    labels = ds["doc"].values
    position = np.flatnonzero(labels == doc)
    if not len(position):
        raise StoreError(f"{func}: no doc {doc!r}; this run has docs {labels.tolist()}")
    if method == "cosine":
        result = cosine_matrix(values[:, :, position[0], :])
    else:  # documents missing from this run (open_runs pads them with NaN) are left out
        result = linear_cka_matrix(values, np.isfinite(values).all(axis=3))
    result = np.where(written[:, :, None] & written[:, None, :], result, np.nan)
    steps = batch.values(ds["snapshot_step"], ("snapshot",))
    snapshots = ds["snapshot"].values
    return batch.wrap(
        result,
        ("snapshot", "other_snapshot"),
        coords={
            "snapshot": snapshots,
            "other_snapshot": snapshots,
            "snapshot_step": batch.coord(steps, ("snapshot",)),
            "other_snapshot_step": batch.coord(steps, ("other_snapshot",)),
            "doc": doc,
            "layer": layer_coord,
        },
        name="representation_similarity",
        attrs=attrs,
    )


def gradient_similarity(ds: xr.Dataset, *, snapshot: int | None = None) -> xr.DataArray:
    """Cosine similarity of the documents' gradient sketches at one snapshot (paper Fig. 8a).

    Parameters
    ----------
    ds
        A run or several runs with ``grad_sketch`` (snapshot, doc, sketch).
    snapshot
        Label on ``snapshot``; default each run's last written snapshot.

    Returns
    -------
    xarray.DataArray
        (``doc``, ``other_doc``), coordinates ``snapshot`` and ``snapshot_step``. The sketch
        is a random projection, so cosines approximate those of the full gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> grads = np.array([[3.0, 0.0, 4.0], [0.0, 1.0, 0.0]])[None].repeat(5, axis=0)
    >>> ds = synthetic_run(np.zeros((5, 2)), steps_per_doc=1, arrays={"grad_sketch": grads})
    >>> gradient_similarity(ds).values.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    func = "gradient_similarity"
    sketch = require(
        ds,
        func,
        "grad_sketch",
        ("snapshot", "doc", "sketch"),
        hint="this run stored no gradient sketches; rerun with probes.grad_sketch=true",
    )
    core = ("snapshot", "doc", "sketch")
    batch = Batch.of(sketch, core)
    values = batch.values(sketch, core).astype(np.float64)
    written = np.isfinite(values).any(axis=(2, 3))
    values = zero_absent_features(values)
    index = _snapshot_index(ds, func, written, snapshot)
    return _doc_by_doc(
        ds,
        batch,
        cosine_matrix(_pick(values, index)),
        index,
        "gradient_similarity",
        {"long_name": "cosine similarity of gradient sketches", "method": "cosine"},
    )
