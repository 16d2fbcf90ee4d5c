"""Loss-over-training figures: single documents' curves, aligned curves, recovery scores, heatmap.

The x-axis is training progress in epochs (steps / (T*M)), as in the paper's Fig. 1-7; each
function takes the raw ``loss`` or an analysis result and returns a HoloViews object styled for
both the app (Bokeh) and paper figures (Matplotlib).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import holoviews as hv
import numpy as np
import xarray as xr

from reawaken.plots.style import (
    DOC,
    LOSS,
    PROGRESS,
    SHARED,
    STEP,
    curve_style,
    image,
    legend_options,
    run_colors,
    split_runs,
    steps_per_epoch,
    styled,
)

__all__ = [
    "aligned_curves_plot",
    "document_loss",
    "loss_heatmap",
    "online_loss",
    "recovery_scores",
    "training_blocks",
]

OFFSET = hv.Dimension(
    "offset_epochs", label="time since the document's first training", unit="epochs"
)
RunsOf = xr.DataArray | xr.Dataset | Mapping[str, xr.DataArray] | Mapping[str, xr.Dataset]


def training_blocks(trained_doc: np.ndarray, doc: int) -> list[tuple[int, int]]:
    """The (first, last) step of each block in which ``doc`` was trained.

    ``first`` is the step before the block's first update (the loss just before training) and
    ``last`` the step after its last update, so a block spans ``[first, last]`` on the step axis.

    Examples
    --------
    >>> training_blocks(np.array([-1, 0, 0, 1, 1, 0, 0]), doc=0)
    [(0, 2), (4, 6)]
    """
    trained = np.asarray(trained_doc) == doc
    edges = np.diff(np.concatenate([[False], trained, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return [(int(s) - 1, int(e)) for s, e in zip(starts, ends, strict=True)]


def _label(run: str, text: str) -> str:
    return f"{run}: {text}" if run else text


def document_loss(
    loss: RunsOf,
    docs: Sequence[int],
    *,
    blocks: bool = True,
    colors: Mapping[str, str] | None = None,
) -> hv.Overlay:
    """The loss of chosen documents over all steps, with each document's training blocks shaded.

    One curve per (run, document): the colour tells the run, the dash pattern the document.
    Blocks that every run shares are shaded grey, a run's own blocks (e.g. of a shuffled run)
    in its colour. Black circles mark the loss just before each block (the points the recovery
    score compares, paper Fig. 1a).

    Parameters
    ----------
    loss
        ``loss`` (step, doc) of one run, with the store's ``epoch`` and ``trained_doc``
        coordinates; several runs as a mapping label -> loss or along a ``run`` dim.
    docs
        Documents to draw.
    blocks
        Shade the training blocks and mark the points just before them.
    colors
        Colour of each run (see :class:`~reawaken.plots.style.RunColors`); by default the
        runs' order.

    Examples
    --------
    >>> from reawaken.testing import synthetic_run
    >>> ds = synthetic_run(np.random.rand(2 * 3 * 2 + 1, 3), steps_per_doc=2)
    >>> overlay = document_loss(ds.loss, docs=[0, 2])
    >>> len(overlay.traverse(lambda e: e, [hv.Curve]))
    2
    """
    runs = split_runs(loss)
    hues = run_colors(runs, colors)
    spans = {
        (run, doc): training_blocks(run_loss["trained_doc"].values, doc)
        for run, run_loss in runs.items()
        for doc in docs
    }
    shared = {
        doc: set.intersection(*(set(spans[run, doc]) for run in runs)) if runs else set()
        for doc in docs
    }
    shades: list[hv.Element] = []
    lines: list[hv.Element] = []
    for index, (run, run_loss) in enumerate(runs.items()):
        per_epoch = steps_per_epoch(run_loss)
        for dash, doc in enumerate(docs):
            if blocks:
                own = [span for span in spans[run, doc] if span not in shared[doc]]
                if own:
                    shades.append(_block_shade(own, per_epoch, hues[run]))
                if shared[doc] and index == 0:
                    shades.append(_block_shade(sorted(shared[doc]), per_epoch, SHARED))
            lines.extend(
                _document_curve(run_loss, run, doc, per_epoch, hues[run], dash, blocks, spans)
            )
    title = "Loss of " + ", ".join(f"doc {d}" for d in docs)
    return styled(
        hv.Overlay(shades + lines),
        common={"xlabel": "training progress (epochs)", "ylabel": "loss (nats)"},
        bokeh={"title": title, **legend_options(len(runs) * len(docs))["bokeh"]},
        matplotlib=legend_options(len(runs) * len(docs))["matplotlib"],
    )


def _block_shade(spans: Sequence[tuple[int, int]], per_epoch: int, hue: str) -> hv.VSpans:
    starts = np.array([s for s, _ in spans]) / per_epoch
    ends = np.array([e for _, e in spans]) / per_epoch
    return styled(
        hv.VSpans((starts, ends), kdims=[PROGRESS, "block_end"]),
        common={"alpha": 0.15, "color": hue},
        # HoloViews also passes its default facecolor, which Matplotlib would warn about.
        matplotlib={"facecolor": None},
    )


def _document_curve(
    run_loss: xr.DataArray,
    run: str,
    doc: int,
    per_epoch: int,
    hue: str,
    dash: int,
    blocks: bool,
    spans: Mapping[tuple[str, int], list[tuple[int, int]]],
) -> list[hv.Element]:
    """The curve of one document of one run, and circles at the loss just before its blocks."""
    steps = run_loss["step"].values
    values = run_loss.sel(doc=doc).values
    keep = np.isfinite(values)
    table = {
        "progress": steps[keep] / per_epoch,
        "loss": values[keep],
        "step": steps[keep],
        "epoch": run_loss["epoch"].values[keep],
    }
    epoch_dim = hv.Dimension("epoch", label="epoch")
    label = _label(run, f"doc {doc}")
    curve = hv.Curve(table, kdims=[PROGRESS], vdims=[LOSS, STEP, epoch_dim], label=label)
    elements: list[hv.Element] = [curve_style(curve, hue, dash=dash)]
    starts = np.array([s for s, _ in spans[run, doc]], dtype=int)
    if blocks and len(starts):
        before = starts[np.isfinite(values[starts])]
        circles = hv.Scatter(
            {"progress": before / per_epoch, "loss": values[before], "step": before},
            kdims=[PROGRESS],
            vdims=[LOSS, STEP],
        )
        elements.append(
            styled(
                circles,
                common={"color": "black"},
                bokeh={"size": 6, "fill_alpha": 0, "line_width": 1.5},
                matplotlib={"s": 14, "facecolors": "none", "edgecolors": "black"},
            )
        )
    return elements


def aligned_curves_plot(
    aligned: RunsOf, *, show_documents: bool = False, colors: Mapping[str, str] | None = None
) -> hv.Overlay:
    """Loss re-indexed by steps since each document's first training, averaged, with its spread.

    Plots ``mean`` +- ``std`` against ``offset_epochs`` (paper Fig. 1b, 2-7); several runs
    (e.g. model sizes) are overlaid on the same axes. Dashed lines mark whole epochs, where
    the documents come back.

    Parameters
    ----------
    aligned
        The result of :func:`reawaken.analysis.aligned_curves` (``mean``, ``std`` and
        optionally ``curve`` on ``offset`` with an ``offset_epochs`` coordinate), or a mapping
        label -> such a result, or one with a ``run`` dim.
    show_documents
        Also draw each document's aligned curve, thin and grey.
    colors
        Colour of each run (see :class:`~reawaken.plots.style.RunColors`).

    Examples
    --------
    >>> offset = np.arange(5)
    >>> result = xr.Dataset(
    ...     {"mean": ("offset", [3.0, 2, 2.5, 2.2, 1.0]), "std": ("offset", np.full(5, 0.1))},
    ...     coords={"offset": offset, "offset_epochs": ("offset", offset / 2)})
    >>> len(aligned_curves_plot({"a": result, "b": result}).traverse(lambda e: e, [hv.Curve]))
    2
    """
    layers: list[hv.Element] = []
    right = 0.0
    runs = split_runs(aligned)
    hues = run_colors(runs, colors)
    for run, result in runs.items():
        hue = hues[run]
        x = result["offset_epochs"].values
        mean = result["mean"].values
        std = result["std"].values if "std" in result else np.zeros_like(mean)
        keep = np.isfinite(mean)
        if keep.any():
            right = max(right, float(x[keep].max()))
        if show_documents and "curve" in result:
            for doc in result["doc"].values:
                values = result["curve"].sel(doc=doc).values
                ok = np.isfinite(values)
                layers.append(
                    styled(
                        hv.Curve((x[ok], values[ok]), kdims=[OFFSET], vdims=[LOSS]),
                        common={"color": "#bbbbbb", "alpha": 0.6},
                        bokeh={"line_width": 1},
                        matplotlib={"linewidth": 0.5},
                    )
                )
        spread = np.where(np.isfinite(std), std, 0.0)
        layers.append(
            styled(
                hv.Spread((x[keep], mean[keep], spread[keep]), kdims=[OFFSET], vdims=[LOSS, "std"]),
                common={"alpha": 0.2},
                bokeh={"color": hue},
                # Matplotlib's fill takes the face colour, not ``color``: set both to the line's.
                matplotlib={"color": hue, "facecolor": hue, "edgecolor": hue, "linewidth": 0},
            )
        )
        curve = hv.Curve(
            (x[keep], mean[keep], spread[keep]),
            kdims=[OFFSET],
            vdims=[LOSS, "std"],
            label=run or "mean over documents",
        )
        layers.append(curve_style(curve, hue))
    epochs = np.arange(1, int(np.floor(right)) + 1)
    if len(epochs):
        layers.insert(
            0,
            styled(
                hv.VLines(epochs, kdims=[OFFSET]),
                common={"color": "#888888"},
                bokeh={"line_width": 1, "line_dash": "dashed"},
                matplotlib={"linewidth": 0.6, "linestyle": "dashed"},
            ),
        )
    legend = legend_options(len(runs))
    return styled(
        hv.Overlay(layers),
        common={"xlabel": "epochs since the document's first training", "ylabel": "loss (nats)"},
        bokeh={"title": "Aligned loss (mean ± std over documents)", **legend["bokeh"]},
        matplotlib=legend["matplotlib"],
    )


def recovery_scores(scores: RunsOf, *, colors: Mapping[str, str] | None = None) -> hv.Overlay:
    """Recovery score per presentation (or epoch), one line per run.

    The x-axis is padded by half a presentation on each side, so no point sits on the edge.

    Parameters
    ----------
    scores
        A 1-d DataArray per run, e.g. :func:`reawaken.analysis.paper_recovery_score`
        (``presentation``) or ``recovery_score(ds).mean("doc")`` (``epoch``).
    colors
        Colour of each run (see :class:`~reawaken.plots.style.RunColors`).

    Examples
    --------
    >>> rs = xr.DataArray([0.2, 0.5, 0.6], dims="presentation", coords={"presentation": [1, 2, 3]})
    >>> overlay = recovery_scores({"410m": rs, "1b": rs})
    >>> len(overlay.traverse(lambda e: e, [hv.Curve]))
    2
    >>> hv.Store.lookup_options("bokeh", overlay, "plot").kwargs["xlim"]
    (0.5, 3.5)
    """
    layers: list[hv.Element] = []
    ticks: set[int] = set()
    runs = split_runs(scores)
    hues = run_colors(runs, colors)
    for run, score in runs.items():
        (dim,) = score.dims
        x = hv.Dimension(dim, label=dim.replace("_", " "))
        y = hv.Dimension("recovery_score", label="recovery score", range=(0, 1))
        hue = hues[run]
        data = (score[dim].values, score.values)
        ticks.update(int(v) for v in score[dim].values)
        layers.append(
            curve_style(hv.Curve(data, kdims=[x], vdims=[y], label=run or "recovery score"), hue)
        )
        layers.append(
            styled(
                hv.Scatter(data, kdims=[x], vdims=[y]),
                common={"color": hue},
                bokeh={"size": 7},
                matplotlib={"s": 16},
            )
        )
    limits = (min(ticks) - 0.5, max(ticks) + 0.5) if ticks else (0.0, 1.0)
    legend = legend_options(len(runs))
    return styled(
        hv.Overlay(layers),
        common={"xticks": sorted(ticks), "xlim": limits},
        bokeh={"title": "Recovery score", **legend["bokeh"]},
        matplotlib=legend["matplotlib"],
    )


def online_loss(online: RunsOf, *, colors: Mapping[str, str] | None = None) -> hv.Overlay:
    """The online (prequential) loss per episode, one line per run (paper Fig. 1c).

    Parameters
    ----------
    online
        :func:`reawaken.analysis.prequential_loss` per run (``episode``).
    colors
        Colour of each run (see :class:`~reawaken.plots.style.RunColors`).

    Examples
    --------
    >>> o = xr.DataArray([3.0, 2.5, 2.0], dims="episode", coords={"episode": [1, 2, 3]})
    >>> len(online_loss({"cyclic": o, "shuffled": o}).traverse(lambda e: e, [hv.Curve]))
    2
    """
    x = hv.Dimension("episode", label="episode (document presentation)")
    runs = split_runs(online)
    hues = run_colors(runs, colors)
    curves = [
        curve_style(
            hv.Curve((loss["episode"].values, loss.values), kdims=[x], vdims=[LOSS], label=run),
            hues[run],
        )
        for run, loss in runs.items()
    ]
    legend = legend_options(len(runs))
    return styled(
        hv.Overlay(curves),
        common={"ylabel": "loss (nats)"},
        bokeh={"title": "Online loss of the document about to be trained", **legend["bokeh"]},
        matplotlib=legend["matplotlib"],
    )


def _regular_rows(loss: xr.DataArray) -> xr.DataArray:
    """Keep only the steps that are evaluated when evaluation is sparser than every step."""
    evaluated = np.flatnonzero(loss.notnull().any("doc").values)
    if len(evaluated) < 3:
        return loss
    stride = int(np.gcd.reduce(np.diff(evaluated)))
    if stride <= 1:
        return loss
    return loss.isel(step=slice(int(evaluated[0]) % stride, None, stride))


def loss_heatmap(loss: xr.DataArray) -> hv.Image | hv.QuadMesh:
    """The (step x document) loss of one run as an image: x training progress, y document.

    Steps that are never evaluated (evaluation once per document) are left out; the image
    values are otherwise exactly ``loss`` transposed to (doc, step).

    Examples
    --------
    >>> from reawaken.testing import synthetic_run
    >>> ds = synthetic_run(np.random.rand(2 * 3 * 2 + 1, 3), steps_per_doc=2)
    >>> image = loss_heatmap(ds.loss)
    >>> np.array_equal(image.dimension_values(2, flat=False), ds.loss.values.T)
    True
    """
    per_epoch = steps_per_epoch(loss)
    loss = _regular_rows(loss)
    x = loss["step"].values / per_epoch
    docs = loss["doc"].values
    values = loss.transpose("doc", "step").values
    element = image(x, docs, values, kdims=[PROGRESS, DOC], vdim=LOSS)
    return styled(
        element,
        common={"cmap": "viridis", "colorbar": True},
        bokeh={"tools": ["hover"], "clabel": "loss (nats)", "title": "Loss of every document"},
        matplotlib={"clabel": "loss (nats)"},
    )
