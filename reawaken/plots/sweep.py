"""A sweep at a glance: a recovery score against one config value, mean and interval over seeds.

Draws :func:`reawaken.analysis.interval_by` results (paper Fig. 2a, 5: RS against model size,
T, M or the learning rate), one line per value of an optional second key (e.g. the order).
"""

from __future__ import annotations

from collections.abc import Mapping

import holoviews as hv
import numpy as np
import xarray as xr

from reawaken.plots.style import curve_style, legend_options, run_colors, styled

__all__ = ["sweep_scores"]


def sweep_scores(
    intervals: xr.Dataset,
    x: str,
    *,
    lines: str | None = None,
    ylabel: str = "recovery score",
    colors: Mapping[str, str] | None = None,
) -> hv.Overlay:
    """Mean with its interval (error bars) against ``x``, one line per value of ``lines``.

    Parameters
    ----------
    intervals
        ``mean``, ``lower``, ``upper`` (and ``count``) on dim ``x`` (and ``lines``), e.g.
        ``interval_by(rs.sel(presentation=4), "model")``.
    x, lines
        The dims to draw along and to split lines by.
    ylabel
        What the values are, e.g. ``"RS(4)"``.
    colors
        Colour of each line, by its label.

    Examples
    --------
    >>> ci = xr.Dataset({"mean": ("lr", [0.6, 0.3]), "lower": ("lr", [0.5, 0.1]),
    ...     "upper": ("lr", [0.7, 0.5]), "count": ("lr", [3, 3])}, coords={"lr": [1e-4, 1e-3]})
    >>> bars = sweep_scores(ci, "lr").traverse(lambda e: e, [hv.ErrorBars])[0]
    >>> bars.dimension_values(2).round(2).tolist()  # mean - lower
    [0.1, 0.2]
    >>> by_order = ci.assign_coords(lr=["cyclic", "shuffled"]).rename(lr="order")
    >>> [type(e).__name__ for e in sweep_scores(by_order, "order")]  # no line across categories
    ['ErrorBars', 'Scatter']
    """
    groups = (
        {f"{lines}={v}": intervals.sel({lines: v}) for v in intervals[lines].values}
        if lines
        else {"": intervals}
    )
    hues = run_colors(groups, colors)
    values = intervals[x].values
    numeric = np.issubdtype(values.dtype, np.number)
    x_dim = hv.Dimension(x, label=x.replace("_", " "))
    y_dim = hv.Dimension("score", label=ylabel)
    layers: list[hv.Element] = []
    for label, group in groups.items():
        keep = np.isfinite(group["mean"].values)
        xs = values[keep] if numeric else values[keep].astype(str)
        mean = group["mean"].values[keep]
        low = np.nan_to_num(mean - group["lower"].values[keep])
        high = np.nan_to_num(group["upper"].values[keep] - mean)
        count = group["count"].values[keep]
        layers.append(
            styled(
                hv.ErrorBars((xs, mean, low, high), kdims=[x_dim], vdims=[y_dim, "below", "above"]),
                common={"color": hues[label]},
                bokeh={"line_width": 1.5},
                matplotlib={"linewidth": 1.0, "capsize": 2},
            )
        )
        table = {x: xs, "score": mean, "runs": count}
        # A line joins values with an order between them (model size, lr), not categories.
        named = label or ylabel
        if numeric:
            curve = hv.Curve(table, kdims=[x_dim], vdims=[y_dim, "runs"], label=named)
            layers.append(curve_style(curve, hues[label]))
        layers.append(
            styled(
                hv.Scatter(
                    table, kdims=[x_dim], vdims=[y_dim, "runs"], label="" if numeric else named
                ),
                common={"color": hues[label]},
                bokeh={"size": 7},
                matplotlib={"s": 16},
            )
        )
    spread = values[values > 0] if numeric else np.zeros(0)
    log = bool(spread.size and spread.max() / spread.min() >= 10)
    legend = legend_options(len(groups))
    return styled(
        hv.Overlay(layers),
        common={"logx": log, "ylabel": ylabel, "xlabel": x.replace("_", " ")},
        bokeh={
            "title": f"{ylabel} against {x}: mean and 95% interval over seeds",
            **legend["bokeh"],
        },
        matplotlib=legend["matplotlib"],
    )
