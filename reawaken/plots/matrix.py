"""The pairwise recovery matrix: how much training one document changes another's loss.

Draws :func:`reawaken.analysis.recovery_matrix` (paper Fig. 8b, 23) with a diverging colour
map centred on zero, so documents that help each other and those that interfere stand apart.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from reawaken.plots.style import image, styled

__all__ = ["recovery_matrix_plot", "symmetric_limit"]

_X_LABELS = {
    "trained_doc": hv.Dimension("trained_doc", label="trained document j"),
    "distance": hv.Dimension("distance", label="cyclic distance j - i", unit="documents"),
}


def symmetric_limit(*matrices: xr.DataArray) -> float:
    """The largest absolute finite value of ``matrices`` (1.0 if none): one colour scale for all.

    Examples
    --------
    >>> symmetric_limit(xr.DataArray([[-2.7, 1.0]]), xr.DataArray([[3.0, np.nan]]))
    3.0
    """
    finite = [np.abs(m.values[np.isfinite(m.values)]) for m in matrices]
    values = np.concatenate([f.ravel() for f in finite]) if finite else np.zeros(0)
    return float(values.max()) if values.size and values.max() > 0 else 1.0


def recovery_matrix_plot(
    matrix: xr.DataArray, *, limit: float | None = None
) -> hv.Image | hv.QuadMesh:
    """Heatmap of R[i, j]: the mean change in document i's loss over document j's block.

    Negative (blue) means j's block lowers i's loss: j helps i recover.

    Parameters
    ----------
    matrix
        (``doc``, ``trained_doc``) or, ordered by cyclic distance, (``doc``, ``distance``):
        :func:`reawaken.analysis.recovery_matrix` (in-run), or
        :func:`reawaken.analysis.pairwise_recovery` (from one checkpoint; titled so).
    limit
        Colour limits are ``(-limit, limit)``; give matrices drawn side by side the same one
        (:func:`symmetric_limit` of all of them). Default: this matrix's own.

    Examples
    --------
    >>> r = xr.DataArray(np.array([[-0.5, 0.1], [0.2, -0.4]]), dims=("doc", "trained_doc"),
    ...     coords={"doc": [0, 1], "trained_doc": [0, 1]})
    >>> heat = recovery_matrix_plot(r)
    >>> heat.dimension_values(2, flat=False).tolist()
    [[-0.5, 0.1], [0.2, -0.4]]
    """
    x_name = next((d for d in matrix.dims if d != "doc"), None)
    if "doc" not in matrix.dims or x_name not in _X_LABELS or matrix.ndim != 2:
        raise ValueError(
            f"recovery_matrix_plot expects dims ('doc', 'trained_doc') or ('doc', 'distance'), got "
            f"{matrix.dims}; select one run first (e.g. matrix.sel(run=...))"
        )
    matrix = matrix.transpose("doc", x_name)
    title = "Pairwise recovery (negative: j helps i)"
    if matrix.name == "pairwise_recovery":  # the authors' version, from one checkpoint
        title = f"Pairwise recovery from the checkpoint after epoch {matrix.attrs.get('epoch')}"
    limit = symmetric_limit(matrix) if limit is None else float(limit)
    z = hv.Dimension("loss_change", label="change in loss of i", unit="nats")
    element = image(
        matrix[x_name].values,
        matrix["doc"].values,
        matrix.values,
        kdims=[_X_LABELS[x_name], hv.Dimension("doc", label="evaluated document i")],
        vdim=z,
    )
    return styled(
        element,
        common={"cmap": "RdBu_r", "colorbar": True, "clim": (-limit, limit)},
        bokeh={
            "tools": ["hover"],
            "clabel": "change in loss of i (nats)",
            "title": title,
        },
        matplotlib={"clabel": "change in loss of i (nats)"},
    )
