"""Keep big figures light in the browser: rasterise large grids, downsample long curves.

A paper-size run (T=200 documents, 10,001 steps) has two million loss values; sent as glyphs
they would freeze the page. Above :data:`~reawaken.plots.style.MAX_POINTS` points, gridded
elements are rasterised with datashader (HoloViews' ``rasterize``) and curves reduced with
LTTB (``downsample1d``); both re-render at the zoomed range. Static figures do not need this.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np

from reawaken.plots.style import MAX_POINTS

__all__ = ["for_browser", "point_count"]

_GRIDS = (hv.Image, hv.QuadMesh)


def point_count(obj: hv.core.Dimensioned) -> int:
    """Number of points (rows, or cells of a grid) the browser would receive for ``obj``.

    Examples
    --------
    >>> point_count(hv.Curve(range(10)) * hv.Image(np.zeros((4, 5))))
    30
    """
    total = 0
    for element in obj.traverse(lambda e: e, [hv.Element]):
        if isinstance(element, _GRIDS):
            total += int(np.prod(element.interface.shape(element, gridded=True)))
        else:
            total += len(element)
    return total


def for_browser(obj: hv.core.Dimensioned, *, max_points: int = MAX_POINTS) -> hv.core.Dimensioned:
    """``obj`` unchanged if small; otherwise rasterised (grids) or downsampled (curves).

    The result is a ``DynamicMap`` when reduced: it re-aggregates at each zoom, in a Panel
    server or notebook. The reduced element keeps the options (colour map, colour bar, hover).

    Examples
    --------
    >>> big = hv.Image(np.zeros((1000, 1000)))
    >>> type(for_browser(big)).__name__
    'DynamicMap'
    >>> small = hv.Image(np.zeros((10, 10)))
    >>> for_browser(small) is small
    True
    """
    if isinstance(obj, hv.Layout):
        return hv.Layout([for_browser(item, max_points=max_points) for item in obj]).cols(
            obj._max_cols
        )
    if point_count(obj) <= max_points:
        return obj
    # Imported here: datashader takes a second to import, and most runs never need it.
    from holoviews.operation.datashader import rasterize
    from holoviews.operation.downsample import downsample1d

    if isinstance(obj, _GRIDS):
        return rasterize(obj)
    if obj.traverse(lambda e: e, [hv.Curve]):
        return downsample1d(obj)
    return rasterize(obj)
