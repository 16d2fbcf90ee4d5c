"""Draw a heatmap (an Image or QuadMesh, optionally with marker lines) directly with Bokeh.

HoloViews spends ~0.2-0.5 s turning one gridded element into Bokeh models (plot, colour
mapper, colour bar, hover, ranges); a run's card on the Recovery page holds two or three of
them, so they were most of that page's build time. :func:`grid_figure` draws the same element
as one Bokeh ``image`` (a regular grid) or one set of ``quad`` cells (uneven coordinates),
with the element's colour map, colour limits, colour-bar label, title and axis labels. Only
the browser view takes this path: paper figures draw the original element with Matplotlib.
"""

from __future__ import annotations

import functools
from typing import Any

import holoviews as hv
import numpy as np
from bokeh.models import ColorBar, HoverTool, LinearColorMapper, Range1d, Span
from bokeh.plotting import figure
from holoviews.plotting.util import process_cmap

__all__ = ["grid_figure", "palette"]

_GRIDS = (hv.Image, hv.QuadMesh)
_MARKS = (hv.VLine, hv.HLine)


def _options(obj: hv.core.Dimensioned, group: str) -> dict[str, Any]:
    return dict(hv.Store.lookup_options("bokeh", obj, group).kwargs)


def _parts(obj: Any) -> tuple[hv.Element, list[hv.Element]] | None:
    """The grid and its marker lines, or None if ``obj`` is not a grid (with marks)."""
    if isinstance(obj, _GRIDS):
        return obj, []
    if not isinstance(obj, hv.Overlay):
        return None
    elements = list(obj)
    grids = [e for e in elements if isinstance(e, _GRIDS)]
    marks = [e for e in elements if isinstance(e, _MARKS)]
    if len(grids) != 1 or len(grids) + len(marks) != len(elements):
        return None
    return grids[0], marks


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around ``centres`` (ascending): midpoints, the ends mirrored outwards."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])


@functools.cache
def palette(cmap: str) -> tuple[str, ...]:
    """256 colours of the named colour map (looking a map up costs ~10 ms: done once)."""
    return tuple(process_cmap(cmap, ncolors=256))


def _mapper(grid: hv.Element, values: np.ndarray) -> LinearColorMapper:
    """The element's colour map over its ``clim`` (else the finite values' range)."""
    options = {**_options(grid, "style"), **_options(grid, "plot")}
    clim = options.get("clim")
    if clim is None or any(c is None or not np.isfinite(c) for c in clim):
        finite = values[np.isfinite(values)]
        clim = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    cmap = options.get("cmap", "viridis")
    colors = palette(cmap) if isinstance(cmap, str) else process_cmap(cmap, ncolors=256)
    return LinearColorMapper(
        palette=list(colors), low=float(clim[0]), high=float(clim[1]), nan_color="rgba(0, 0, 0, 0)"
    )


def grid_figure(obj: Any, *, height: int = 320) -> Any | None:
    """A Bokeh figure of a gridded element (with VLine/HLine marks), or None if not one.

    The figure shows the same values, colour map and colour limits as HoloViews would, with
    the element's (or overlay's) title, axis and colour-bar labels and a hover tool; it is as
    wide as its container and ``height`` pixels high.

    Examples
    --------
    >>> from reawaken.plots.style import image, styled
    >>> heat = styled(image(np.arange(3), np.arange(2), np.arange(6.0).reshape(2, 3),
    ...     kdims=["x", "y"], vdim="z"), common={"cmap": "RdBu_r", "clim": (-5, 5)})
    >>> fig = grid_figure(heat)
    >>> fig.renderers[0].data_source.data["image"][0].tolist()
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    >>> mapper = fig.renderers[0].glyph.color_mapper
    >>> (mapper.low, mapper.high)
    (-5.0, 5.0)
    >>> grid_figure(hv.Curve([1, 2])) is None
    True
    """
    parts = _parts(obj)
    if parts is None:
        return None
    grid, marks = parts
    x = np.asarray(grid.dimension_values(0, expanded=False), dtype=float)
    y = np.asarray(grid.dimension_values(1, expanded=False), dtype=float)
    values = np.asarray(grid.dimension_values(2, flat=False), dtype=float)
    plot = _options(grid, "plot")
    title = _options(obj, "plot").get("title") or plot.get("title", "")
    x_edges, y_edges = _edges(x), _edges(y)
    xlabel, ylabel = grid.kdims[0].pprint_label, grid.kdims[1].pprint_label
    fig = figure(
        title=title,
        height=height,
        min_height=height,
        sizing_mode="stretch_width",
        tools="pan,wheel_zoom,box_zoom,save,reset",
        x_axis_label=xlabel,
        y_axis_label=ylabel,
        x_range=Range1d(x_edges[0], x_edges[-1]),
        y_range=Range1d(y_edges[0], y_edges[-1]),
    )
    mapper = _mapper(grid, values)
    color = {"field": "value", "transform": mapper}
    if isinstance(grid, hv.Image):
        renderer = fig.image(
            image=[values],
            x=x_edges[0],
            y=y_edges[0],
            dw=x_edges[-1] - x_edges[0],
            dh=y_edges[-1] - y_edges[0],
            color_mapper=mapper,
        )
        value = "@image"
    else:  # uneven coordinates: one cell per value, at its true place
        left, bottom = np.meshgrid(x_edges[:-1], y_edges[:-1])
        right, top = np.meshgrid(x_edges[1:], y_edges[1:])
        cells = {"left": left, "right": right, "bottom": bottom, "top": top, "value": values}
        renderer = fig.quad(
            left="left",
            right="right",
            bottom="bottom",
            top="top",
            fill_color=color,
            line_alpha=0,
            source={key: array.ravel() for key, array in cells.items()},
        )
        value = "@value"
    label = plot.get("clabel") or grid.vdims[0].pprint_label
    fig.add_layout(ColorBar(color_mapper=mapper, title=label), "right")
    fig.add_tools(
        HoverTool(renderers=[renderer], tooltips=[(xlabel, "$x"), (ylabel, "$y"), (label, value)])
    )
    for mark in marks:
        style = _options(mark, "style")
        fig.add_layout(
            Span(
                location=float(mark.data),
                dimension="height" if isinstance(mark, hv.VLine) else "width",
                line_color=str(style.get("color", "white")),
                line_width=style.get("line_width", 1),
                line_dash=style.get("line_dash", "solid"),
            )
        )
    return fig
