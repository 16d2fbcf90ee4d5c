"""Shared look of reawaken's figures: labelled dimensions, colours, and per-backend options.

Every plot function styles its elements for both backends (Bokeh for the app, Matplotlib for
paper figures) through :func:`styled`, so the same object renders in either without changes;
:func:`for_paper` and :func:`for_screen` only set the overall size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import colorcet
import holoviews as hv

# Registering both plotting backends is what lets options be set for each of them.
import holoviews.plotting.bokeh
import holoviews.plotting.mpl
import numpy as np
import xarray as xr

__all__ = [
    "BACKENDS",
    "DOC",
    "LOSS",
    "MAX_POINTS",
    "PALETTE",
    "PROGRESS",
    "STEP",
    "RunColors",
    "color",
    "curve_style",
    "for_paper",
    "for_screen",
    "image",
    "legend_options",
    "run_colors",
    "split_runs",
    "steps_per_epoch",
    "styled",
]

T = TypeVar("T", bound=hv.core.Dimensioned)

BACKENDS = ("bokeh", "matplotlib")
#: Above this many points an interactive view is rasterised or downsampled (see ``large.py``).
MAX_POINTS = 200_000
#: Category10 (distinguishable on screen and in print, colour-blind safe for the first few),
#: then the rest of Glasbey's categorical palette that extends it: 256 distinct run colours.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    *colorcet.palette["glasbey_category10"][10:],
)

#: Line widths of every curve: screen pixels (Bokeh), print points (Matplotlib).
LINE_WIDTH = {"bokeh": 2.0, "matplotlib": 1.2}
#: Dash patterns telling apart the documents of one run (the colour tells the run).
DASHES = {
    "bokeh": ("solid", "dashed", "dotted", "dashdot"),
    "matplotlib": ("solid", "dashed", "dotted", "dashdot"),
}
#: Shade of spans (training blocks) that every run shares.
SHARED = "#888888"

PROGRESS = hv.Dimension("progress", label="training progress", unit="epochs")
LOSS = hv.Dimension("loss", label="loss", unit="nats")
STEP = hv.Dimension("step", label="step")
DOC = hv.Dimension("doc", label="document")


def color(index: int) -> str:
    """The ``index``-th colour of :data:`PALETTE`, cycling.

    Examples
    --------
    >>> color(10) != color(0) and color(0) == color(len(PALETTE))
    True
    >>> len(set(color(i) for i in range(40)))  # many runs, many colours
    40
    """
    return PALETTE[index % len(PALETTE)]


class RunColors:
    """One colour per run, by order of first appearance: a run keeps its colour as runs are added.

    The app keeps one for its session (every page asks it), ``reawaken figures`` makes one from
    the runs it is given, so a run has the same colour in every plot of either.

    Examples
    --------
    >>> colors = RunColors(["cyclic", "shuffled"])
    >>> colors["shuffled"] == color(1)
    True
    >>> colors.add(["a-new-run", "cyclic"])["cyclic"] == color(0)
    True
    >>> colors["a-new-run"] == color(2)
    True
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._order: dict[str, int] = {}
        self.add(names)

    def add(self, names: Iterable[str]) -> RunColors:
        """Give each new name the next colour; names already known keep theirs."""
        for name in names:
            self._order.setdefault(str(name), len(self._order))
        return self

    def __getitem__(self, name: str) -> str:
        self.add([name])
        return color(self._order[str(name)])

    def of(self, names: Iterable[str]) -> dict[str, str]:
        """``{name: colour}`` for ``names`` (new names are added)."""
        return {str(name): self[name] for name in names}


def run_colors(names: Iterable[str], colors: Mapping[str, str] | None = None) -> dict[str, str]:
    """The colour of each run: from ``colors`` where given, else by order among ``names``.

    Examples
    --------
    >>> run_colors(["a", "b"], {"b": "red"}) == {"a": color(0), "b": "red"}
    True
    """
    names = [str(name) for name in names]
    fallback = RunColors(names)
    return {name: (colors or {}).get(name) or fallback[name] for name in names}


def curve_style(obj: T, hue: str, *, dash: int = 0, hover: bool = True) -> T:
    """Style a curve in ``hue`` with the shared line width; ``dash`` picks the dash pattern.

    Examples
    --------
    >>> curve = curve_style(hv.Curve([1, 2]), "red", dash=1)
    >>> hv.Store.lookup_options("matplotlib", curve, "style").kwargs["linestyle"]
    'dashed'
    """
    bokeh: dict[str, Any] = {
        "line_width": LINE_WIDTH["bokeh"],
        "line_dash": DASHES["bokeh"][dash % len(DASHES["bokeh"])],
    }
    if hover:
        bokeh["tools"] = ["hover"]
    matplotlib = {
        "linewidth": LINE_WIDTH["matplotlib"],
        "linestyle": DASHES["matplotlib"][dash % len(DASHES["matplotlib"])],
    }
    return styled(obj, common={"color": hue}, bokeh=bokeh, matplotlib=matplotlib)


def legend_options(entries: int) -> dict[str, dict[str, Any]]:
    """Legend placement per backend: outside (right) in the app, where a legend must never
    cover data (with two runs a top-right legend hid the last recovery score); in published
    figures inside for one or two entries (matplotlib's ``best`` avoids the data), outside
    above that.

    Examples
    --------
    >>> options = legend_options(2)
    >>> options["bokeh"]["legend_position"], options["matplotlib"]["legend_position"]
    ('right', 'best')
    """
    inside = entries <= 2
    # Long legends wrap into columns of at most ten entries rather than run off the plot.
    columns = {"legend_cols": -(-entries // 10)} if entries > 10 else {}
    return {
        "bokeh": {
            "show_legend": True,
            "legend_position": "right",
            **columns,
        },
        "matplotlib": {
            "show_legend": True,
            "legend_position": "best" if inside else "right",
            **columns,
        },
    }


def styled(
    obj: T,
    *,
    spec: str | None = None,
    common: Mapping[str, Any] | None = None,
    bokeh: Mapping[str, Any] | None = None,
    matplotlib: Mapping[str, Any] | None = None,
) -> T:
    """Set options on ``obj`` for both backends at once.

    ``common`` applies to both; ``bokeh`` and ``matplotlib`` add or override per backend.
    ``spec`` (e.g. ``"Curve"``) targets the matching elements inside an Overlay or Layout.

    Examples
    --------
    >>> curve = styled(hv.Curve([1, 2]), common={"color": "red"}, bokeh={"line_width": 2})
    >>> hv.Store.lookup_options("bokeh", curve, "style").kwargs["line_width"]
    2
    >>> overlay = styled(curve * curve, bokeh={"title": "two"})
    >>> hv.Store.lookup_options("bokeh", overlay, "plot").kwargs["title"], len(overlay)
    ('two', 2)
    """
    if spec is None and isinstance(obj, hv.Overlay) and len(obj):
        # The overlay's own options are set on an empty copy that then takes the layers: the
        # same options, but HoloViews does not walk every layer per backend (~0.1 s for the
        # 60 layers of 20 runs' curves, bands and points).
        empty = styled(obj.clone([]), common=common, bokeh=bokeh, matplotlib=matplotlib)
        return empty.clone(obj.data)
    for backend, extra in (("bokeh", bokeh), ("matplotlib", matplotlib)):
        options = {**(common or {}), **(extra or {})}
        if not options:
            continue
        obj = (
            obj.opts({spec: options}, backend=backend)
            if spec
            else obj.opts(backend=backend, **options)
        )
    return obj


def for_paper(obj: T, *, width: float = 3.5, aspect: float = 1.45, fontscale: float = 0.9) -> T:
    """Size a figure for print: ``width`` inches (3.5 = one column), a Matplotlib option only.

    Examples
    --------
    >>> fig = for_paper(hv.Curve([1, 2]))
    >>> hv.Store.lookup_options("matplotlib", fig, "plot").kwargs["fig_inches"]
    (3.5, 2.414)
    """
    inches = (width, round(width / aspect, 3))
    options = {"fig_inches": inches, "aspect": aspect, "fontscale": fontscale}
    if isinstance(obj, hv.Layout | hv.NdLayout | hv.GridSpace):
        return obj.opts(backend="matplotlib", fig_inches=inches, fontscale=fontscale)
    return obj.opts(backend="matplotlib", **options)


def for_screen(obj: T, *, height: int = 320) -> T:
    """Size a figure for the app: as wide as its container, ``height`` pixels (Bokeh only)."""
    if isinstance(obj, hv.Layout | hv.NdLayout):
        panel_size = {"width": int(height * 1.25), "height": height}
        sized = hv.Layout([item.opts(backend="bokeh", **panel_size) for item in obj])
        return sized.cols(obj._max_cols).opts(backend="bokeh", shared_axes=False)
    return obj.opts(backend="bokeh", responsive=True, min_height=height, height=height)


def steps_per_epoch(da: xr.DataArray | xr.Dataset) -> int:
    """T*M, the number of update steps in one epoch, from the ``epoch`` coordinate on ``step``.

    Examples
    --------
    >>> import numpy as np
    >>> da = xr.DataArray(np.zeros(5), dims="step", coords={"epoch": ("step", [-1, 0, 0, 1, 1])})
    >>> steps_per_epoch(da)
    2
    """
    epoch = da["epoch"]
    if "run" in epoch.dims:
        epoch = epoch.isel(run=0)
    return max(int((epoch == 0).sum()), 1)


def split_runs(
    obj: xr.DataArray | xr.Dataset | Mapping[str, xr.DataArray | xr.Dataset],
) -> dict[str, Any]:
    """One entry per run: a mapping as given, a ``run`` dim split by its labels, else ``{"": obj}``.

    Examples
    --------
    >>> import numpy as np
    >>> da = xr.DataArray(np.zeros((2, 3)), dims=("run", "x"), coords={"run": ["a", "b"]})
    >>> list(split_runs(da))
    ['a', 'b']
    """
    if not isinstance(obj, xr.DataArray | xr.Dataset):  # a Dataset is a Mapping too
        return dict(obj)
    if "run" in obj.dims:
        return {str(run): obj.sel(run=run, drop=True) for run in obj["run"].values}
    return {"": obj}


def image(
    x: np.ndarray,
    y: np.ndarray,
    values: np.ndarray,
    *,
    kdims: list[hv.Dimension],
    vdim: hv.Dimension,
) -> hv.Image | hv.QuadMesh:
    """A gridded element of ``values`` (y, x): an Image on a regular grid, else a QuadMesh.

    An Image is cheaper to draw and to rasterise; a QuadMesh keeps uneven coordinates (e.g.
    snapshots taken once per epoch plus step 0) at their true places.

    Examples
    --------
    >>> type(image(np.arange(3), np.arange(2), np.zeros((2, 3)), kdims=["x", "y"], vdim="z"))
    <class 'holoviews.element.raster.Image'>
    >>> type(image(np.array([0, 1, 5]), np.arange(2), np.zeros((2, 3)), kdims=["x", "y"], vdim="z"))
    <class 'holoviews.element.raster.QuadMesh'>
    """

    def regular(axis: np.ndarray) -> bool:
        return len(axis) < 3 or bool(np.allclose(np.diff(axis), axis[1] - axis[0]))

    element_type = hv.Image if regular(np.asarray(x)) and regular(np.asarray(y)) else hv.QuadMesh
    return element_type(
        (np.asarray(x), np.asarray(y), np.asarray(values)), kdims=kdims, vdims=[vdim]
    )
