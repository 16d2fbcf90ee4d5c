"""PCA of the documents' representations at each snapshot (paper Fig. 11, the toy's circle).

At every snapshot the T documents' stored activations (doc x hidden) are centred and
projected on their own top principal components, so each snapshot's panel shows how the
documents sit relative to each other then: for the toy model, a circle in task order.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reawaken.analysis._batch import Batch, zero_absent_features
from reawaken.analysis._checks import activation_at_layer

__all__ = ["representation_pca"]


def representation_pca(ds: xr.Dataset, *, n_components: int = 2, layer: int = -1) -> xr.Dataset:
    """Each snapshot's documents projected on that snapshot's top principal components.

    Centred PCA, not whitened: the projection of document i on component c is
    (a_i - mean_j a_j) . u_c, with u_c the c-th right singular vector of the centred
    (doc x hidden) matrix. The sign of each component is fixed so that document 0's
    projection is non-negative. Snapshots not written yet are NaN.

    Parameters
    ----------
    ds
        A run or several runs with ``activation`` (snapshot, doc, layer, hidden).
    n_components
        Components kept (at most min(docs, hidden); the rest are NaN).
    layer
        Position along ``layer`` (-1 = the last stored layer).

    Returns
    -------
    xarray.Dataset
        ``projection`` (``snapshot``, ``doc``, ``component``) and
        ``explained_variance_ratio`` (``snapshot``, ``component``); components are numbered
        1..n_components; ``snapshot_step`` is kept on ``snapshot``.

    Examples
    --------
    >>> from reawaken.testing import synthetic_run
    >>> angle = np.arange(4) * np.pi / 2  # 4 documents on a circle of radius 3, in 3-D
    >>> points = np.stack([3 * np.cos(angle), 3 * np.sin(angle), np.ones(4)], axis=1)
    >>> act = points[None, :, None, :].repeat(9, axis=0)  # 9 snapshots, 1 layer
    >>> ds = synthetic_run(np.zeros((9, 4)), steps_per_doc=1, arrays={"activation": act})
    >>> pca = representation_pca(ds).isel(snapshot=-1)
    >>> np.hypot(*pca["projection"].values.T).round(6).tolist()  # distance from the centre
    [3.0, 3.0, 3.0, 3.0]
    >>> pca["explained_variance_ratio"].round(6).values.tolist()
    [0.5, 0.5]
    """
    func = "representation_pca"
    if n_components < 1:
        raise ValueError(f"{func}: n_components must be at least 1, got {n_components}")
    activation = activation_at_layer(ds, func, layer)
    core = ("snapshot", "doc", "hidden")
    batch = Batch.of(activation, core)
    values = batch.values(activation, core).astype(np.float64)  # (B, snapshot, doc, hidden)
    # Runs combined by open_runs are padded with NaN: features a run lacks count as 0, and
    # documents a run lacks are left out of the centring and the fit.
    present = np.isfinite(values).any(axis=(1, 3))  # (B, doc), before padding turns to 0
    values = zero_absent_features(values)
    written = (np.isfinite(values).all(axis=3) | ~present[:, None, :]).all(axis=2)
    usable = written[..., None] & present[:, None, :]  # (B, snapshot, doc)
    centred = np.where(usable[..., None], values, 0.0)
    count = np.maximum(usable.sum(axis=2, keepdims=True), 1)[..., None]
    centred = centred - centred.sum(axis=2, keepdims=True) / count
    centred = np.where(usable[..., None], centred, 0.0)
    u, singular, _ = np.linalg.svd(centred, full_matrices=False)  # u: (B, S, doc, k)
    kept = min(n_components, singular.shape[-1])
    scores = u[..., :kept] * singular[..., None, :kept]  # (B, S, doc, kept)
    sign = np.where(scores[..., :1, :] < 0, -1.0, 1.0)
    scores = np.where(usable[..., None], scores * sign, np.nan)
    variance = singular**2
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = variance[..., :kept] / variance.sum(axis=-1, keepdims=True)
    projection = np.full((*scores.shape[:-1], n_components), np.nan)
    projection[..., :kept] = scores
    explained = np.full((*ratio.shape[:-1], n_components), np.nan)
    explained[..., :kept] = np.where(written[..., None], ratio, np.nan)
    component = np.arange(1, n_components + 1)
    coords = {"snapshot": ds["snapshot"].values, "doc": ds["doc"].values, "component": component}
    if "snapshot_step" in ds.coords:
        steps = batch.values(ds["snapshot_step"], ("snapshot",))
        coords["snapshot_step"] = batch.coord(steps, ("snapshot",))
    dims = ("snapshot", "doc", "component")
    return xr.Dataset(
        {
            "projection": batch.wrap(projection, dims, coords=coords),
            "explained_variance_ratio": batch.wrap(
                explained,
                ("snapshot", "component"),
                coords={k: v for k, v in coords.items() if k != "doc"},
            ),
        },
        attrs={"long_name": "PCA of the documents' activations, per snapshot"},
    )
