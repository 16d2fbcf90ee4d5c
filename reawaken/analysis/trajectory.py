"""PCA of the weight trajectory over snapshots (paper Fig. 9): exact, through the Gram matrix.

With n snapshots of p parameters (n << p), the centred (n x n) Gram matrix has the same
non-zero eigenvalues as the (p x p) covariance, so an exact PCA costs one pass over the data.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from reawaken.analysis._batch import Batch
from reawaken.analysis._checks import require
from reawaken.analysis.blocks import STEP_COORDS

__all__ = ["weight_trajectory"]

Source = Literal["weight", "weight_sketch"]
_CHUNK_ELEMENTS = 1 << 22  # float64 working set per chunk: 32 MB


def _gram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, n, n) Gram matrix of the rows minus a reference row, and which rows are usable.

    Subtracting a written row first (a translation, which PCA ignores) keeps the float64
    sums of raw weights, whose common part dwarfs their changes, from cancelling. A row with
    NaN where other rows have data is a snapshot not written yet: unusable. A feature that is
    NaN in every row is one this run does not have (runs of different sizes combined by
    :func:`reawaken.open_runs`): ignored.
    """
    size, rows, features = values.shape
    usable = np.ones((size, rows), dtype=bool)
    has_data = np.zeros((size, rows), dtype=bool)
    gram = np.zeros((size, rows, rows))
    reference = None
    batch = np.arange(size)
    width = max(1, _CHUNK_ELEMENTS // max(1, size * rows))
    for first in range(0, features, width):
        block = values[:, :, first : first + width].astype(np.float64)
        finite_rows = np.isfinite(block.sum(axis=2))  # one NaN or inf spoils the row's sum
        if finite_rows.all():
            has_data[:] = True
        else:
            missing = ~np.isfinite(block)
            absent = missing.all(axis=1, keepdims=True)
            usable &= ~(missing & ~absent).any(axis=2)
            has_data |= (~missing).any(axis=2)
            block[missing] = 0.0
        if reference is None:
            reference = np.argmax(finite_rows, axis=1)
        block -= block[batch, reference][:, None, :]
        gram += block @ np.swapaxes(block, 1, 2)
    return gram, usable & has_data


def _snapshot_coords(ds: xr.Dataset, batch: Batch) -> dict[str, tuple]:
    coords: dict[str, tuple] = {}
    if "snapshot_step" not in ds.coords:
        return coords
    snapshot_step = batch.values(ds["snapshot_step"], ("snapshot",)).astype(np.int64)
    coords["snapshot_step"] = batch.coord(snapshot_step, ("snapshot",))
    if not all(name in ds.coords for name in STEP_COORDS):
        return coords
    position = np.searchsorted(ds["step"].values, snapshot_step)
    position = np.clip(position, 0, ds.sizes["step"] - 1)
    known = (snapshot_step >= 0) & (ds["step"].values[position] == snapshot_step)
    for name in ("epoch", "cycle_position", "trained_doc"):
        per_step = batch.values(ds[name], ("step",))
        at = np.take_along_axis(per_step, position, axis=1)
        coords[name] = batch.coord(np.where(known, at, -1), ("snapshot",))
    return coords


def weight_trajectory(
    ds: xr.Dataset, *, n_components: int = 3, source: Source = "weight"
) -> xr.Dataset:
    """Principal components of the weights (or their sketch) over the written snapshots.

    Centred PCA, not whitened (as sklearn's PCA): the projection of snapshot k on component
    c is (w_k - mean) . u_c. Snapshots not written yet (NaN) are left out of the fit and get
    NaN. The sign of each component is fixed so that its largest-magnitude projection is
    positive.

    Parameters
    ----------
    ds
        A run or several runs with ``weight`` (snapshot, param) or ``weight_sketch``
        (snapshot, sketch).
    n_components
        Number of components kept; components beyond the number of snapshots are NaN.
    source
        ``"weight"`` (the stored parameter copies) or ``"weight_sketch"`` (the random
        projection of the whole parameter change, which preserves distances approximately).

    Returns
    -------
    xarray.Dataset
        ``projection`` (``snapshot``, ``component``), ``explained_variance`` and
        ``explained_variance_ratio`` (``component``, numbered 1..n_components); coordinates
        on ``snapshot``: ``snapshot_step``, ``epoch``, ``cycle_position``, ``trained_doc``
        of the step each snapshot was taken after (-1 at step 0).

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> angle = np.arange(4) * np.pi / 2  # 4 snapshots on a circle of radius 2 (in 3-D)
    >>> w = np.stack([2 * np.cos(angle), 2 * np.sin(angle), np.full(4, 7.0)], axis=1)
    >>> ds = synthetic_run(np.zeros((5, 2)), steps_per_doc=1, snapshot_steps=np.arange(4),
    ...                    arrays={"weight": w})
    >>> pca = weight_trajectory(ds, n_components=2)
    >>> pca["explained_variance_ratio"].round(6).values.tolist()
    [0.5, 0.5]
    >>> np.hypot(*pca["projection"].values.T).round(6).tolist()  # distance from the centre
    [2.0, 2.0, 2.0, 2.0]
    """
    func = "weight_trajectory"
    if source not in ("weight", "weight_sketch"):
        raise ValueError(f"{func}: source must be 'weight' or 'weight_sketch', got {source!r}")
    if n_components < 1:
        raise ValueError(f"{func}: n_components must be at least 1, got {n_components}")
    feature = "param" if source == "weight" else "sketch"
    hint = (
        "this run stored no weights; set probes.weights, or use source='weight_sketch'"
        if source == "weight"
        else "this run stored no weight sketch; set probes.sketch_size > 0"
    )
    variable = require(ds, func, source, ("snapshot", feature), hint=hint)
    core = ("snapshot", feature)
    batch = Batch.of(variable, core)
    gram, usable = _gram(batch.values(variable, core))
    size, rows, _ = gram.shape
    count = usable.sum(axis=1)
    weight = usable / np.maximum(count, 1)[:, None]
    centring = np.eye(rows)[None] - np.ones((1, rows, 1)) * weight[:, None, :]
    both = usable[:, :, None] & usable[:, None, :]
    centred = centring @ np.where(both, gram, 0.0) @ np.swapaxes(centring, 1, 2)
    centred = np.where(both, (centred + np.swapaxes(centred, 1, 2)) / 2, 0.0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred)
    kept = min(n_components, rows)
    eigenvalues = np.clip(eigenvalues[:, ::-1][:, :kept], 0.0, None)
    projection = eigenvectors[:, :, ::-1][:, :, :kept] * np.sqrt(eigenvalues)[:, None, :]
    largest = np.argmax(np.abs(projection), axis=1)  # (B, component)
    sign = np.sign(np.take_along_axis(projection, largest[:, None, :], axis=1))
    projection *= np.where(sign == 0, 1.0, sign)
    projection[~usable] = np.nan
    total = np.trace(centred, axis1=1, axis2=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total[:, None] > 0, eigenvalues / total[:, None], np.nan)
        variance = eigenvalues / np.where(count > 1, count - 1, np.nan)[:, None]
    missing = n_components - kept
    if missing:
        projection = np.concatenate([projection, np.full((size, rows, missing), np.nan)], axis=2)
        ratio = np.concatenate([ratio, np.full((size, missing), np.nan)], axis=1)
        variance = np.concatenate([variance, np.full((size, missing), np.nan)], axis=1)
    coords = {"snapshot": ds["snapshot"].values, "component": np.arange(1, n_components + 1)}
    coords.update(_snapshot_coords(ds, batch))
    units = variable.attrs.get("units", "")
    projection_da = batch.wrap(
        projection,
        ("snapshot", "component"),
        coords=coords,
        attrs={"long_name": f"projection of {source} on principal components", "units": units},
    )
    component = {"component": coords["component"]}
    return xr.Dataset(
        {
            "projection": projection_da,
            "explained_variance": batch.wrap(
                variance,
                ("component",),
                coords=component,
                attrs={"long_name": "variance along the component (ddof=1)"},
            ),
            "explained_variance_ratio": batch.wrap(
                ratio,
                ("component",),
                coords=component,
                attrs={"long_name": "fraction of the variance explained"},
            ),
        },
        attrs={"source": source, "method": "centred PCA over written snapshots (Gram matrix)"},
    )
