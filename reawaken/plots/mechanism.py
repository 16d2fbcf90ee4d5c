"""Mechanism figures: weight-residual similarity (Fig. 8c) and update magnitudes (Fig. 22).

Draws :func:`reawaken.analysis.weight_residual_similarity` as a (snapshot x snapshot)
heatmap on training-progress axes, and :func:`reawaken.analysis.update_magnitudes` as two
curves over training. Gradient similarity (Fig. 8a) uses
:func:`reawaken.plots.document_similarity`.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from reawaken.plots.style import PROGRESS, color, image, styled

__all__ = ["update_magnitudes_plot", "weight_residual_similarity_plot"]


def _progress(da: xr.DataArray | xr.Dataset, name: str, steps_per_epoch: int) -> np.ndarray:
    if name in da.coords and steps_per_epoch:
        return np.asarray(da[name].values, dtype=float) / steps_per_epoch
    return np.asarray(da[name.removesuffix("_step")].values, dtype=float)


def weight_residual_similarity_plot(
    similarity: xr.DataArray, *, steps_per_epoch: int
) -> hv.Element:
    """Cosine of the weight residuals between snapshots: stripes one epoch apart (Fig. 8c).

    Parameters
    ----------
    similarity
        (``snapshot``, ``other_snapshot``) with ``snapshot_step`` coordinates.
    steps_per_epoch
        T*M: the axes are drawn in epochs.

    Examples
    --------
    >>> s = xr.DataArray(np.eye(3), dims=("snapshot", "other_snapshot"),
    ...     coords={"snapshot_step": ("snapshot", [0, 2, 4]),
    ...             "other_snapshot_step": ("other_snapshot", [0, 2, 4])})
    >>> weight_residual_similarity_plot(s, steps_per_epoch=4).dimension_values(0, expanded=False)
    array([0. , 0.5, 1. ])
    """
    similarity = similarity.transpose("snapshot", "other_snapshot")
    x = _progress(similarity, "other_snapshot_step", steps_per_epoch)
    y = _progress(similarity, "snapshot_step", steps_per_epoch)
    other = hv.Dimension("other_progress", label="training progress", unit="epochs")
    element = image(
        x,
        y,
        similarity.values,
        kdims=[other, PROGRESS],
        vdim=hv.Dimension("similarity", label="cosine of weight residuals"),
    )
    window = similarity.attrs.get("window")
    title = "Weight-residual similarity" + (f" (window {window})" if window else "")
    return styled(
        element,
        common={"cmap": "viridis", "colorbar": True},
        bokeh={"tools": ["hover"], "clabel": "cosine", "title": title},
        matplotlib={"clabel": "cosine"},
    )


def update_magnitudes_plot(magnitudes: xr.Dataset, *, steps_per_epoch: int) -> hv.Layout:
    """How far a document's activation and the weights move per snapshot (Fig. 22a, 22b).

    Parameters
    ----------
    magnitudes
        :func:`reawaken.analysis.update_magnitudes`: ``activation_update`` and
        ``weight_update`` on ``snapshot`` with ``snapshot_step``.
    steps_per_epoch
        T*M: the x axis is drawn in epochs.

    Examples
    --------
    >>> m = xr.Dataset({"activation_update": ("snapshot", [np.nan, 1.0, 2.0]),
    ...                 "weight_update": ("snapshot", [np.nan, 3.0, 2.0])},
    ...                coords={"snapshot_step": ("snapshot", [0, 2, 4])}, attrs={"doc": 0})
    >>> layout = update_magnitudes_plot(m, steps_per_epoch=2)
    >>> [curve.dimension_values(1).tolist() for curve in layout]
    [[1.0, 2.0], [3.0, 2.0]]
    """
    x = _progress(magnitudes, "snapshot_step", steps_per_epoch)
    doc = magnitudes.attrs.get("doc", 0)
    panels = []
    for index, (name, label, title) in enumerate(
        (
            ("activation_update", "‖a(k) − a(k−1)‖", f"Change of doc {doc}'s activation"),
            ("weight_update", "‖w(k) − w(k−1)‖", "Change of the weights"),
        )
    ):
        values = magnitudes[name].values
        keep = np.isfinite(values)
        curve = hv.Curve(
            (x[keep], values[keep]), kdims=[PROGRESS], vdims=[hv.Dimension(name, label=label)]
        )
        panels.append(
            styled(
                curve,
                common={"color": color(index)},
                bokeh={"line_width": 2, "tools": ["hover"], "title": title},
                matplotlib={"title": title},
            )
        )
    return hv.Layout(panels).cols(2)
