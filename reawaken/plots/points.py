"""Draw points coloured by a value, joined by a path, directly with Bokeh.

The documents' PCA on the Representations page (:func:`reawaken.plots.document_points`) is
a Path and Points overlay; HoloViews took ~0.2 s to turn it into Bokeh models, as much as
the rest of the run's card. :func:`points_figure` draws it as one ``multi_line`` and one
``scatter`` with the points' colour map, colour bar, title and axis labels. Only the browser
view takes this path: paper figures draw the original overlay with Matplotlib.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
from bokeh.models import ColorBar, HoverTool, LinearColorMapper
from bokeh.plotting import figure

from reawaken.plots.grid import palette

__all__ = ["points_figure"]


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
    by = style.get("color")
    if not isinstance(by, str) or by not in [d.name for d in dots.vdims]:
        return None  # not coloured by one of its values
    x_dim, y_dim = dots.kdims[0], dots.kdims[1]
    fig = figure(
        title=_options(obj, "plot").get("title") or _options(dots, "plot").get("title", ""),
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
    mapper = LinearColorMapper(
        palette=list(palette(str(style.get("cmap", "viridis")))),
        low=float(np.nanmin(values)) if values.size else 0.0,
        high=float(np.nanmax(values)) if values.size else 1.0,
    )
    source = {
        "x": np.asarray(dots.dimension_values(0), dtype=float),
        "y": np.asarray(dots.dimension_values(1), dtype=float),
        by: values,
    }
    renderer = fig.scatter(
        "x",
        "y",
        source=source,
        size=style.get("size", 8),
        fill_color={"field": by, "transform": mapper},
        line_color={"field": by, "transform": mapper},
    )
    label = _options(dots, "plot").get("clabel") or dots.get_dimension(by).pprint_label
    fig.add_layout(ColorBar(color_mapper=mapper, title=label), "right")
    fig.add_tools(
        HoverTool(
            renderers=[renderer],
            tooltips=[(x_dim.pprint_label, "@x"), (y_dim.pprint_label, "@y"), (label, f"@{by}")],
        )
    )
    return fig
