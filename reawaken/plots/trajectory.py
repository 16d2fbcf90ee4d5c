"""The weight trajectory on its principal components (paper Fig. 9), coloured by cycle and epoch.

Draws :func:`reawaken.analysis.weight_trajectory`: the path the weights take from snapshot to
snapshot, each point coloured by epoch or by position in the cycle, with the step, epoch and
trained document on hover. 2-D pairs of components work in both backends; the 3-D view is for
static figures (Matplotlib), since Bokeh has no 3-D axes.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Literal

import holoviews as hv
import numpy as np
import xarray as xr

from reawaken.plots.style import styled

__all__ = ["ColorBy", "trajectory_panels", "weight_trajectory_3d", "weight_trajectory_plot"]

ColorBy = Literal["epoch", "cycle_position"]
# A cyclic colour map for the position in the cycle: the last document sits next to the first.
_CMAPS = {"epoch": "viridis", "cycle_position": "twilight"}
_HOVER = ("snapshot_step", "epoch", "cycle_position", "trained_doc")
_LABELS = {
    "snapshot_step": "step",
    "epoch": "epoch",
    "cycle_position": "position in cycle",
    "trained_doc": "document",
}


def _component_dims(trajectory: xr.Dataset) -> list[hv.Dimension]:
    ratio = trajectory["explained_variance_ratio"].values
    return [
        hv.Dimension(f"pc{i + 1}", label=f"PC{i + 1} ({100 * r:.1f}% var.)")
        for i, r in enumerate(ratio)
    ]


def _table(trajectory: xr.Dataset) -> tuple[dict[str, np.ndarray], list[hv.Dimension]]:
    projection = trajectory["projection"].transpose("snapshot", "component").values
    keep = np.isfinite(projection).all(axis=1)
    dims = _component_dims(trajectory)
    table = {dim.name: projection[keep, i] for i, dim in enumerate(dims)}
    for name in _HOVER:
        if name in trajectory.coords:
            table[name] = trajectory[name].values[keep]
    return table, dims


def _color_scale(table: dict[str, np.ndarray], color_by: str) -> dict[str, Any]:
    """A discrete colour scale with one colour per epoch (or position) and integer ticks.

    The step-0 snapshot (-1) takes the first colour; the bar shows only 0..n-1, and the same
    helper serves the 2-D and 3-D views, so both bars run over the same values.
    """
    values = table.get(color_by, np.zeros(1))
    trained = values[values >= 0]
    levels = int(trained.max()) + 1 if trained.size else 1
    ticks = list(range(0, levels, max(1, int(np.ceil(levels / 10)))))
    return {
        "color": color_by,
        "cmap": _CMAPS[color_by],
        "colorbar": True,
        "clim": (-0.5, levels - 0.5),
        "color_levels": levels,
        "ticks": ticks,
    }


def _color_options(table: dict[str, np.ndarray], color_by: str, *, colorbar: bool = True):
    """Per-backend point options of :func:`_color_scale`."""
    scale = _color_scale(table, color_by)
    ticks = scale.pop("ticks")
    scale["colorbar"] = colorbar
    bokeh = {"cticks": ticks, "clabel": _LABELS[color_by]}
    matplotlib = {"cbar_ticks": ticks, "cbar_extend": "neither", "clabel": _LABELS[color_by]}
    return scale, bokeh, matplotlib


def _clear_of_z_label(plot: Any, element: Any) -> None:
    """Move the 3-D view's colour bar right, clear of the z axis label, which sits beside it."""
    cax = plot.handles.get("cax")
    if cax is not None:
        box = cax.get_position()
        cax.set_position([box.x0 + 0.12, box.y0, box.width, box.height])


def _check(trajectory: xr.Dataset, color_by: str, needed: int) -> None:
    if color_by not in _CMAPS:
        raise ValueError(f"color_by must be one of {sorted(_CMAPS)}, got {color_by!r}")
    found = trajectory.sizes.get("component", 0)
    if found < needed:
        raise ValueError(
            f"the trajectory has {found} principal components, {needed} are needed; compute it "
            f"with weight_trajectory(ds, n_components={needed})"
        )


def weight_trajectory_plot(
    trajectory: xr.Dataset,
    *,
    components: tuple[int, int] = (0, 1),
    color_by: ColorBy = "epoch",
    colorbar: bool = True,
    title: bool = True,
) -> hv.Overlay:
    """The trajectory on two principal components: a path, and points coloured by ``color_by``.

    Parameters
    ----------
    trajectory
        :func:`reawaken.analysis.weight_trajectory`'s result: ``projection`` (snapshot,
        component), ``explained_variance_ratio`` (component), and ``snapshot_step``, ``epoch``,
        ``cycle_position``, ``trained_doc`` coordinates on ``snapshot``.
    components
        Indices of the two components to draw (0 = PC1).
    color_by
        ``"epoch"`` or ``"cycle_position"``: one colour per epoch (or position), integer ticks.
    colorbar, title
        Draw the colour bar and the title (panels side by side show each once).

    Examples
    --------
    >>> t = xr.Dataset(
    ...     {"projection": (("snapshot", "component"), np.random.rand(5, 2)),
    ...      "explained_variance_ratio": ("component", [0.6, 0.3])},
    ...     coords={"epoch": ("snapshot", [-1, 0, 0, 1, 1]),
    ...             "cycle_position": ("snapshot", [-1, 0, 1, 0, 1])})
    >>> len(weight_trajectory_plot(t).traverse(lambda e: e, [hv.Points])[0])
    5
    """
    _check(trajectory, color_by, max(components) + 1)
    table, dims = _table(trajectory)
    x, y = (dims[c] for c in components)
    extra = [hv.Dimension(name, label=_LABELS[name]) for name in _HOVER if name in table]
    columns = {x.name: table[x.name], y.name: table[y.name]} | {
        d.name: table[d.name] for d in extra
    }
    path = styled(
        hv.Path([np.column_stack([table[x.name], table[y.name]])], kdims=[x, y]),
        common={"color": "#999999"},
        bokeh={"line_width": 1},
        matplotlib={"linewidth": 0.6},
    )
    common, bokeh, matplotlib = _color_options(table, color_by, colorbar=colorbar)
    points = styled(
        hv.Points(columns, kdims=[x, y], vdims=extra),
        common=common,
        bokeh={"size": 7, "tools": ["hover"], **bokeh},
        matplotlib={"s": 12, **matplotlib},
    )
    text = f"Weight trajectory, coloured by {_LABELS[color_by]}" if title else ""
    return styled(path * points, bokeh={"title": text})


def trajectory_panels(
    trajectory: xr.Dataset, *, n_components: int = 2, color_by: ColorBy = "epoch"
) -> hv.Layout:
    """Every pair of the first ``n_components`` components, side by side (3 -> three panels).

    The first panel carries the title and the last the colour bar, so neither is repeated.

    Examples
    --------
    >>> t = xr.Dataset(
    ...     {"projection": (("snapshot", "component"), np.random.rand(4, 3)),
    ...      "explained_variance_ratio": ("component", [0.6, 0.3, 0.1])},
    ...     coords={"epoch": ("snapshot", [-1, 0, 0, 1])})
    >>> len(trajectory_panels(t, n_components=3))
    3
    """
    _check(trajectory, color_by, n_components)
    pairs = list(combinations(range(n_components), 2))
    panels = [
        weight_trajectory_plot(
            trajectory,
            components=pair,
            color_by=color_by,
            colorbar=index == len(pairs) - 1,
            title=index == 0,
        )
        for index, pair in enumerate(pairs)
    ]
    return hv.Layout(panels).cols(3)


def weight_trajectory_3d(
    trajectory: xr.Dataset, *, color_by: ColorBy = "cycle_position"
) -> hv.Overlay:
    """The trajectory on the first three components in 3-D (Matplotlib only; the paper's Fig. 9).

    Examples
    --------
    >>> t = xr.Dataset(
    ...     {"projection": (("snapshot", "component"), np.random.rand(4, 3)),
    ...      "explained_variance_ratio": ("component", [0.6, 0.3, 0.1])},
    ...     coords={"cycle_position": ("snapshot", [-1, 0, 1, 0])})
    >>> len(weight_trajectory_3d(t).traverse(lambda e: e, [hv.Scatter3D])[0])
    4
    """
    _check(trajectory, color_by, 3)
    table, dims = _table(trajectory)
    xyz = dims[:3]
    path = styled(
        hv.Path3D(np.column_stack([table[d.name] for d in xyz]), kdims=xyz),
        matplotlib={"color": "#999999", "linewidth": 0.6},
    )
    columns = {d.name: table[d.name] for d in xyz}
    columns[color_by] = table.get(color_by, np.zeros(len(table[xyz[0].name])))
    common, _, matplotlib = _color_options(columns, color_by)
    points = styled(
        hv.Scatter3D(columns, kdims=xyz, vdims=[hv.Dimension(color_by, label=_LABELS[color_by])]),
        matplotlib={**common, **matplotlib, "s": 12, "hooks": [_clear_of_z_label]},
    )
    return path * points
