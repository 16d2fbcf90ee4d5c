"""Mechanism measures from the snapshots: weight residuals (Fig. 8c) and update sizes (Fig. 22).

Both read the weight snapshots (``weight_sketch``, a random projection of the parameter change
since step 0, or ``weight``) and the activations the run already stored; neither needs a new
probe. Differences of the sketch are sketches of weight differences, so norms and cosines are
preserved approximately (exactly for ``weight``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from reawaken.analysis._batch import Batch, zero_absent_features
from reawaken.analysis._checks import require
from reawaken.analysis.similarity import cosine_matrix
from reawaken.errors import StoreError

__all__ = ["update_magnitudes", "weight_residual_similarity"]

Source = Literal["weight_sketch", "weight"]
_FEATURE = {"weight_sketch": "sketch", "weight": "param"}


def _weights(ds: xr.Dataset, func: str, source: Source) -> tuple[Batch, np.ndarray]:
    if source not in _FEATURE:
        raise ValueError(f"{func}: source must be 'weight_sketch' or 'weight', got {source!r}")
    values = require(
        ds,
        func,
        source,
        ("snapshot", _FEATURE[source]),
        hint="store weight snapshots (probes.sketch_size > 0, or probes.weights)",
    )
    core = ("snapshot", _FEATURE[source])
    batch = Batch.of(values, core)
    return batch, batch.values(values, core).astype(np.float64)  # (B, snapshot, feature)


def _snapshot_coords(ds: xr.Dataset, batch: Batch, dim: str = "snapshot") -> dict[str, object]:
    coords: dict[str, object] = {dim: ds["snapshot"].values}
    if "snapshot_step" in ds.coords:
        steps = batch.values(ds["snapshot_step"], ("snapshot",))
        coords[f"{dim}_step" if dim != "snapshot" else "snapshot_step"] = batch.coord(steps, (dim,))
    return coords


def weight_residual_similarity(
    ds: xr.Dataset, *, window: int | None = None, source: Source = "weight_sketch"
) -> xr.DataArray:
    """Cosine similarity of the weight residuals of every pair of snapshots (paper Fig. 8c).

    w_res(t) = w(t) - mean of w(n) for t - h <= n <= t + h, h = window // 2: the weights
    minus their moving average over about one cycle, which removes the slow drift that makes
    raw weight cosines all about 1. Snapshots whose window is not fully written (the first and
    last h, and any not written yet) are NaN.

    Parameters
    ----------
    ds
        A run or several runs with ``weight_sketch`` (or ``weight``) snapshots.
    window
        Snapshots averaged, T in the paper; default the snapshots per epoch (T when a
        snapshot follows every document).
    source
        ``"weight_sketch"`` (default) or ``"weight"``.

    Returns
    -------
    xarray.DataArray
        (``snapshot``, ``other_snapshot``) with ``snapshot_step`` / ``other_snapshot_step``.

    Examples
    --------
    >>> from reawaken.testing import synthetic_run
    >>> t = np.arange(9.0)  # a steady drift plus a cycle of period 2: residual = the cycle
    >>> w = np.stack([t, t + np.where(t % 2 == 0, 1.0, -1.0)], axis=1)
    >>> ds = synthetic_run(np.zeros((9, 2)), steps_per_doc=1, snapshot_steps=np.arange(9),
    ...                    arrays={"weight": w})
    >>> r = weight_residual_similarity(ds, window=2, source="weight")
    >>> r.isel(snapshot=2, other_snapshot=[2, 3, 4]).values.round(6).tolist()
    [1.0, -1.0, 1.0]
    >>> bool(np.isnan(r.isel(snapshot=0, other_snapshot=0)))
    True
    """
    func = "weight_residual_similarity"
    batch, values = _weights(ds, func, source)
    count = values.shape[1]
    if window is None:
        window = _snapshots_per_epoch(ds)
    if window < 1:
        raise ValueError(f"{func}: window must be at least 1, got {window}")
    half = window // 2
    written = np.isfinite(values).any(axis=2)
    values = zero_absent_features(values)
    residual = np.full_like(values, np.nan)
    for t in range(half, count - half):
        span = slice(t - half, t + half + 1)
        full = written[:, span].all(axis=1)
        mean = values[:, span].mean(axis=1)
        residual[:, t] = np.where(full[:, None], values[:, t] - mean, np.nan)
    result = cosine_matrix(residual)
    coords = _snapshot_coords(ds, batch) | _snapshot_coords(ds, batch, "other_snapshot")
    return batch.wrap(
        result,
        ("snapshot", "other_snapshot"),
        coords=coords,
        name=func,
        attrs={
            "long_name": "cosine similarity of weight residuals",
            "window": window,
            "source": source,
        },
    )


def _snapshots_per_epoch(ds: xr.Dataset) -> int:
    """Snapshots in one epoch, from the snapshot steps and the steps per epoch."""
    steps = ds["snapshot_step"].values
    if "epoch" not in ds.coords or steps.ndim != 1 or len(steps) < 2:
        raise StoreError("weight_residual_similarity: give window= (snapshots per cycle)")
    per_epoch = int((ds["epoch"].values == 0).sum())
    spacing = int(np.diff(steps).min())
    return max(1, per_epoch // max(spacing, 1))


def update_magnitudes(
    ds: xr.Dataset, *, doc: int = 0, layer: int = -1, source: Source = "weight_sketch"
) -> xr.Dataset:
    """How far one document's activation and the weights move between snapshots (Fig. 22).

    ``activation_update`` [k] = ||a(k) - a(k-1)||_2 for document ``doc``'s stored
    activation, and ``weight_update`` [k] = ||w(k) - w(k-1)||_2 (approximately, for the
    sketch); NaN at the first snapshot and wherever either snapshot is not written. The paper
    shows steps in the first (the representation of x_1 jumps when x_1 is trained) and a
    smooth decline in the second.

    Parameters
    ----------
    ds
        A run with ``activation`` and ``weight_sketch`` (or ``weight``); a variable the run
        lacks gives an all-NaN result for it.
    doc, layer
        The document (label) and the layer (position; -1 = the last stored one).
    source
        ``"weight_sketch"`` (default) or ``"weight"``.

    Returns
    -------
    xarray.Dataset
        ``activation_update`` and ``weight_update`` on ``snapshot`` (with ``snapshot_step``).

    Examples
    --------
    >>> from reawaken.testing import synthetic_run
    >>> act = np.zeros((4, 2, 1, 2)); act[:, 0, 0, 0] = [0.0, 3.0, 3.0, 7.0]
    >>> w = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0], [3.0, 5.0]])
    >>> ds = synthetic_run(np.zeros((5, 2)), steps_per_doc=1, snapshot_steps=np.arange(4),
    ...                    arrays={"activation": act, "weight": w})
    >>> out = update_magnitudes(ds, source="weight")
    >>> out["activation_update"].values.tolist()[1:], out["weight_update"].values.tolist()[1:]
    ([3.0, 0.0, 4.0], [5.0, 0.0, 1.0])
    """
    func = "update_magnitudes"
    activation = require(
        ds,
        func,
        "activation",
        ("snapshot", "doc", "layer", "hidden"),
        hint="store activations (probes.activation_layers with snapshots on)",
    )
    labels = ds["doc"].values
    if doc not in labels:
        raise StoreError(f"{func}: no doc {doc!r}; this run has docs {labels.tolist()}")
    one = activation.sel(doc=doc).isel(layer=layer)
    core = ("snapshot", "hidden")
    batch = Batch.of(one, core)
    a = zero_absent_features(batch.values(one, core).astype(np.float64))
    moves = {"activation_update": np.linalg.norm(np.diff(a, axis=1), axis=2)}
    if source in ds:
        _, w = _weights(ds, func, source)
        moves["weight_update"] = np.linalg.norm(np.diff(zero_absent_features(w), axis=1), axis=2)
    else:
        moves["weight_update"] = np.full_like(moves["activation_update"], np.nan)
    coords = _snapshot_coords(ds, batch)
    variables = {}
    for name, move in moves.items():
        padded = np.concatenate([np.full((move.shape[0], 1), np.nan), move], axis=1)
        variables[name] = batch.wrap(padded, ("snapshot",), coords=coords)
    result = xr.Dataset(variables, attrs={"doc": doc, "source": source})
    result["activation_update"].attrs["long_name"] = f"change of doc {doc}'s activation"
    result["weight_update"].attrs["long_name"] = f"change of the weights ({source})"
    return result
