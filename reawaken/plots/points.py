"""Draw points coloured by a value, joined by a path, directly with Bokeh.

The documents' PCA on the Representations page (:func:`reawaken.plots.document_points`) and
each panel of the weight trajectory on the Weights page
(:func:`reawaken.plots.trajectory_panels`) are a Path and Points overlay; HoloViews took
~0.06-0.2 s to turn one into Bokeh models, as much as the rest of the run's card.
:func:`points_figure` draws it as one ``multi_line`` and one ``scatter`` with the points'
colour map, colour limits and levels, colour bar (label, ticks), title, axis labels and every
value on hover. Only the browser view takes this path: paper figures draw the original
overlay with Matplotlib.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
from bokeh.models import ColorBar, FixedTicker, HoverTool, LinearColorMapper
from bokeh.plotting import figure

from reawaken.plots.grid import palette

__all__ = ["points_figure", "points_panels"]


def _mapper(values: np.ndarray, options: dict[str, Any]) -> LinearColorMapper:
    """The points' colour map over ``clim`` (else the values' range), in ``color_levels``
    steps if set: with ``clim=(-0.5, n - 0.5)`` and ``n`` levels, each integer 0..n-1 has its
    own colour, and values below (e.g. -1 for step 0) take the first."""
    colors = palette(str(options.get("cmap", "viridis")))
    levels = options.get("color_levels")
    if isinstance(levels, int) and levels > 0:
        picks = np.linspace(0, len(colors) - 1, levels).round().astype(int)
        colors = tuple(colors[i] for i in picks)
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    clim = options.get("clim")
    if clim is None or any(c is None or not np.isfinite(c) for c in clim):
        clim = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return LinearColorMapper(palette=list(colors), low=float(clim[0]), high=float(clim[1]))


def _options(obj: hv.core.Dimensioned, group: str) -> dict[str, Any]:
    return dict(hv.Store.lookup_options("bokeh", obj, group).kwargs)


def points_figure(obj: Any, *, height: int = 320) -> Any | None:
    """A Bokeh figure of an overlay of paths and one Points element coloured by a value
    dimension, or None if ``obj`` is not one.

    Examples
    --------
    >>> from reawaken.plots import document_points
    >>> import xarray as xr
    >>> pca = xr.Dataset({"projection": (("doc", "component"), [[1.0, 0.0], [0.0, 1.0]])},
    ...     coords={"doc": [0, 1], "component": [1, 2]})
    >>> fig = points_figure(document_points(pca))
    >>> fig.renderers[1].data_source.data["doc"].tolist()
    [0, 1]
    >>> points_figure(hv.Curve([1, 2])) is None
    True
    """
    if not isinstance(obj, hv.Overlay):
        return None
    elements = list(obj)
    points = [e for e in elements if type(e) is hv.Points]
    paths = [e for e in elements if type(e) is hv.Path]
    if len(points) != 1 or len(points) + len(paths) != len(elements):
        return None
    (dots,) = points
    style = _options(dots, "style")
    plot = _options(dots, "plot")
    by = style.get("color")
    if not isinstance(by, str) or by not in [d.name for d in dots.vdims]:
        return None  # not coloured by one of its values
    x_dim, y_dim = dots.kdims[0], dots.kdims[1]
    fig = figure(
        title=_options(obj, "plot").get("title") or plot.get("title", ""),
        height=height,
        min_height=height,
        sizing_mode="stretch_width",
        tools="pan,wheel_zoom,box_zoom,save,reset",
        x_axis_label=x_dim.pprint_label,
        y_axis_label=y_dim.pprint_label,
    )
    for path in paths:
        path_style = _options(path, "style")
        lines = path.split(datatype="array")
        fig.multi_line(
            [np.asarray(line[:, 0], dtype=float) for line in lines],
            [np.asarray(line[:, 1], dtype=float) for line in lines],
            line_color=str(path_style.get("color", "#999999")),
            line_width=path_style.get("line_width", 1),
        )
    values = np.asarray(dots.dimension_values(by))
    mapper = _mapper(values, {**style, **plot})
    source = {
        "x": np.asarray(dots.dimension_values(0), dtype=float),
        "y": np.asarray(dots.dimension_values(1), dtype=float),
    }
    source |= {d.name: np.asarray(dots.dimension_values(d)) for d in dots.vdims}
    renderer = fig.scatter(
        "x",
        "y",
        source=source,
        size=style.get("size", 8),
        fill_color={"field": by, "transform": mapper},
        line_color={"field": by, "transform": mapper},
    )
    label = plot.get("clabel") or dots.get_dimension(by).pprint_label
    if plot.get("colorbar", True):
        bar = ColorBar(color_mapper=mapper, title=label)
        if plot.get("cticks") is not None:
            bar.ticker = FixedTicker(ticks=[float(t) for t in plot["cticks"]])
        fig.add_layout(bar, "right")
    extra = [(label if d.name == by else d.pprint_label, f"@{{{d.name}}}") for d in dots.vdims]
    fig.add_tools(
        HoverTool(
            renderers=[renderer],
            tooltips=[(x_dim.pprint_label, "@x"), (y_dim.pprint_label, "@y"), *extra],
        )
    )
    return fig


def points_panels(obj: Any, *, height: int = 320) -> list[Any] | None:
    """One Bokeh figure per panel of a Layout whose every panel :func:`points_figure` draws
    (e.g. the weight trajectory's pairs of components), or None if ``obj`` is not one.

    Examples
    --------
    >>> from reawaken.plots import trajectory_panels
    >>> import xarray as xr
    >>> t = xr.Dataset(
    ...     {"projection": (("snapshot", "component"), np.random.rand(4, 3)),
    ...      "explained_variance_ratio": ("component", [0.6, 0.3, 0.1])},
    ...     coords={"epoch": ("snapshot", [-1, 0, 0, 1])})
    >>> figs = points_panels(trajectory_panels(t, n_components=3))
    >>> [fig.xaxis[0].axis_label[:3] for fig in figs]
    ['PC1', 'PC1', 'PC2']
    >>> points_panels(hv.Layout([hv.Curve([1, 2])])) is None
    True
    """
    if not isinstance(obj, hv.Layout):
        return None
    figures = [points_figure(panel, height=height) for panel in obj]
    return figures if figures and all(f is not None for f in figures) else None
