"""Draw an overlay of many runs' series as a few Bokeh glyphs: one per kind, not one per run.

An overlay of 20 runs (a curve, a band and points each) is ~60 HoloViews elements; each
becomes a Bokeh renderer with its glyphs, data source, legend item and hover tool, and
HoloViews spends ~30-50 ms per element building them (a page of four such overlays took
seconds). :func:`many_series_figure` draws the same overlay directly with Bokeh: the curves
of one line style as one ``multi_line`` (one colour per line, one legend entry per curve),
the bands as one set of ``patches``, the points as one ``scatter``, the spans of one colour
as one ``vstrip`` and vertical lines as one ``vspan``. Only the browser view takes this
path: paper figures draw the original overlay with Matplotlib.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
from bokeh.models import FixedTicker, HoverTool, Legend, LegendItem, Range1d
from bokeh.plotting import figure

__all__ = ["MANY_SERIES", "many_series_figure", "series_panels"]

#: From this many curves in one overlay, the browser view is drawn by :func:`many_series_figure`.
MANY_SERIES = 6
_KINDS = (hv.Curve, hv.Scatter, hv.Spread, hv.VSpans, hv.VLines)


def _options(obj: hv.core.Dimensioned, group: str) -> dict[str, Any]:
    return dict(hv.Store.lookup_options("bokeh", obj, group).kwargs)


def _label(dimension: hv.Dimension) -> str:
    return dimension.pprint_label


def _drawable(obj: Any, at_least: int) -> bool:
    if not isinstance(obj, hv.Overlay):
        return False
    elements = list(obj)
    if any(type(e) not in _KINDS for e in elements):
        return False
    if any(type(e) is hv.Spread and len(e.vdims) != 2 for e in elements):
        return False  # asymmetric bands: not drawn here
    return sum(type(e) is hv.Curve for e in elements) >= at_least


def _curves(fig: Any, curves: list[hv.Element]) -> list[LegendItem]:
    """One multi_line per line style; a legend item per labelled curve."""
    styles: dict[tuple[Any, ...], list[hv.Element]] = {}
    for curve in curves:
        style = _options(curve, "style")
        key = (style.get("line_dash", "solid"), style.get("line_width", 2), style.get("alpha", 1))
        styles.setdefault(key, []).append(curve)
    items = []
    for (dash, width, alpha), group in styles.items():
        source = {
            "xs": [np.asarray(c.dimension_values(0), dtype=float) for c in group],
            "ys": [np.asarray(c.dimension_values(1), dtype=float) for c in group],
            "color": [str(_options(c, "style").get("color", "#1f77b4")) for c in group],
            "series": [c.label for c in group],
        }
        renderer = fig.multi_line(
            "xs", "ys", source=source, color="color", line_width=width, line_dash=dash,
            alpha=alpha,
        )  # fmt: skip
        items += [
            LegendItem(label=c.label, renderers=[renderer], index=i)
            for i, c in enumerate(group)
            if c.label
        ]
        fig.add_tools(
            HoverTool(renderers=[renderer], tooltips=[("", "@series"), ("x", "$x"), ("y", "$y")])
        )
    return items


def _scatter(fig: Any, points: list[hv.Element]) -> None:
    style = _options(points[0], "style")
    fig.scatter(
        np.concatenate([p.dimension_values(0) for p in points]).astype(float),
        np.concatenate([p.dimension_values(1) for p in points]).astype(float),
        color=[str(_options(p, "style").get("color")) for p in points for _ in range(len(p))],
        size=style.get("size", 6),
        fill_alpha=style.get("fill_alpha", 1.0),
        line_width=style.get("line_width", 1),
    )


def _bands(fig: Any, spreads: list[hv.Element]) -> None:
    xs, ys = [], []
    for spread in spreads:
        x, mean, error = (np.asarray(spread.dimension_values(i), dtype=float) for i in range(3))
        xs.append(np.concatenate([x, x[::-1]]))
        ys.append(np.concatenate([mean + error, (mean - error)[::-1]]))
    fig.patches(
        xs,
        ys,
        fill_color=[str(_options(s, "style").get("color")) for s in spreads],
        fill_alpha=_options(spreads[0], "style").get("alpha", 0.2),
        line_alpha=0,
    )


def _spans(fig: Any, spans: list[hv.Element]) -> None:
    by_color: dict[tuple[str, float], list[hv.Element]] = {}
    for span in spans:
        style = _options(span, "style")
        by_color.setdefault((str(style.get("color")), style.get("alpha", 0.15)), []).append(span)
    for (color, alpha), group in by_color.items():
        fig.vstrip(
            x0=np.concatenate([s.dimension_values(0) for s in group]).astype(float),
            x1=np.concatenate([s.dimension_values(1) for s in group]).astype(float),
            fill_color=color,
            fill_alpha=alpha,
            line_alpha=0,
        )


def _lines(fig: Any, lines: list[hv.Element]) -> None:
    for line in lines:
        style = _options(line, "style")
        fig.vspan(
            x=np.asarray(line.dimension_values(0), dtype=float),
            line_color=str(style.get("color", "#888888")),
            line_width=style.get("line_width", 1),
            line_dash=style.get("line_dash", "solid"),
        )


def many_series_figure(obj: Any, *, height: int = 320, at_least: int = MANY_SERIES) -> Any | None:
    """A Bokeh figure of an overlay of many runs' curves, or None if ``obj`` is not one.

    ``obj`` qualifies when it is an Overlay of curves, points, symmetric bands, spans and
    vertical lines with at least ``at_least`` curves. The figure keeps the overlay's title,
    axis labels, x limits and ticks, legend placement and columns, and every element's
    colour, line width and dash; it is as wide as its container and ``height`` pixels high.

    Examples
    --------
    >>> from reawaken.plots.style import curve_style
    >>> runs = [curve_style(hv.Curve([1, 2, 3], label=f"run {i}"), f"#00000{i}") for i in range(8)]
    >>> fig = many_series_figure(hv.Overlay(runs))
    >>> len(fig.renderers), [item.label.value for item in fig.legend[0].items][:2]
    (1, ['run 0', 'run 1'])
    >>> fig.renderers[0].data_source.data["color"][7]
    '#000007'
    >>> many_series_figure(hv.Overlay(runs[:2])) is None
    True
    """
    if not _drawable(obj, at_least):
        return None
    elements = list(obj)
    plot = _options(obj, "plot")
    first = next(e for e in elements if type(e) is hv.Curve)
    fig = figure(
        title=plot.get("title", ""),
        height=height,
        min_height=height,
        sizing_mode="stretch_width",
        tools="pan,wheel_zoom,box_zoom,save,reset",
        x_axis_label=plot.get("xlabel") or _label(first.kdims[0]),
        y_axis_label=plot.get("ylabel") or _label(first.vdims[0]),
    )
    of = {kind: [e for e in elements if type(e) is kind] for kind in _KINDS}
    # Drawn back to front: spans and bands under the lines, points on top.
    if of[hv.VSpans]:
        _spans(fig, of[hv.VSpans])
    if of[hv.VLines]:
        _lines(fig, of[hv.VLines])
    if of[hv.Spread]:
        _bands(fig, of[hv.Spread])
    items = _curves(fig, of[hv.Curve])
    if of[hv.Scatter]:
        _scatter(fig, of[hv.Scatter])
    if "xlim" in plot and plot["xlim"] is not None:
        fig.x_range = Range1d(*plot["xlim"])
    if plot.get("xticks") is not None:
        fig.xaxis.ticker = FixedTicker(ticks=list(plot["xticks"]))
    if items and plot.get("show_legend", True):
        outside = plot.get("legend_position", "right") == "right"
        legend = Legend(items=items, ncols=int(plot.get("legend_cols") or 1))
        legend.click_policy = "hide"
        if outside:
            fig.add_layout(legend, "right")
        else:
            legend.location = str(plot.get("legend_position", "top_right"))
            fig.add_layout(legend)
    return fig


def series_panels(obj: Any, *, height: int = 320) -> list[Any] | None:
    """One Bokeh figure per panel of a Layout of curves (each a Curve or an overlay of
    curves), to be shown side by side; None if ``obj`` is not such a Layout.

    A lone curve keeps its own title and axis labels. HoloViews would draw the panels as
    one grid of fixed-size plots, which a card of the app squeezed to nothing.

    Examples
    --------
    >>> from reawaken.plots.style import styled
    >>> left = styled(hv.Curve([1, 2, 3]), bokeh={"title": "left"})
    >>> figs = series_panels(hv.Layout([left, hv.Curve([3, 2, 1])]))
    >>> [fig.title.text for fig in figs]
    ['left', '']
    >>> series_panels(hv.Layout([hv.Image(np.zeros((2, 2)))])) is None
    True
    """
    if not isinstance(obj, hv.Layout):
        return None
    figures = []
    for item in obj:
        if type(item) in _KINDS:
            plot = _options(item, "plot")
            labels = {key: plot[key] for key in ("title", "xlabel", "ylabel") if key in plot}
            item = hv.Overlay([item]).opts(backend="bokeh", **labels)
        drawn = many_series_figure(item, height=height, at_least=1)
        if drawn is None:
            return None
        figures.append(drawn)
    return figures
