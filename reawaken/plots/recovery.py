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
    STEP,
    color,
    image,
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


def document_loss(loss: RunsOf, docs: Sequence[int], *, blocks: bool = True) -> hv.Overlay:
    """The loss of chosen documents over all steps, with each document's training blocks shaded.

    One curve per (run, document); black circles mark the loss just before each block (the
    points the recovery score compares, paper Fig. 1a).

    Parameters
    ----------
    loss
        ``loss`` (step, doc) of one run, with the store's ``epoch`` and ``trained_doc``
        coordinates; several runs as a mapping label -> loss or along a ``run`` dim.
    docs
        Documents to draw.
    blocks
        Shade the training blocks and mark the points just before them.

    Examples
    --------
    >>> from reawaken.testing import synthetic_run
    >>> ds = synthetic_run(np.random.rand(2 * 3 * 2 + 1, 3), steps_per_doc=2)
    >>> overlay = document_loss(ds.loss, docs=[0, 2])
    >>> len(overlay.traverse(lambda e: e, [hv.Curve]))
    2
    """
    layers: list[hv.Element] = []
    index = 0
    for run, run_loss in split_runs(loss).items():
        per_epoch = steps_per_epoch(run_loss)
        steps = run_loss["step"].values
        for doc in docs:
            hue = color(index)
            index += 1
            values = run_loss.sel(doc=doc).values
            keep = np.isfinite(values)
            table = {
                "progress": steps[keep] / per_epoch,
                "loss": values[keep],
                "step": steps[keep],
                "epoch": run_loss["epoch"].values[keep],
            }
            epoch_dim = hv.Dimension("epoch", label="epoch")
            if blocks:
                spans = training_blocks(run_loss["trained_doc"].values, doc)
                if spans:
                    starts = np.array([s for s, _ in spans])
                    ends = np.array([e for _, e in spans])
                    layers.append(
                        styled(
                            hv.VSpans(
                                (starts / per_epoch, ends / per_epoch),
                                kdims=[PROGRESS, "block_end"],
                            ),
                            common={"alpha": 0.15, "color": hue},
                            # HoloViews also passes its default facecolor, which Matplotlib
                            # would warn about next to the colour.
                            matplotlib={"facecolor": None},
                        )
                    )
            label = _label(run, f"doc {doc}")
            layers.append(
                styled(
                    hv.Curve(table, kdims=[PROGRESS], vdims=[LOSS, STEP, epoch_dim], label=label),
                    common={"color": hue},
                    bokeh={"line_width": 2, "tools": ["hover"]},
                    matplotlib={"linewidth": 1.2},
                )
            )
            if blocks and spans:
                before = starts[np.isfinite(values[starts])]
                layers.append(
                    styled(
                        hv.Scatter(
                            {
                                "progress": before / per_epoch,
                                "loss": values[before],
                                "step": before,
                            },
                            kdims=[PROGRESS],
                            vdims=[LOSS, STEP],
                        ),
                        common={"color": "black"},
                        bokeh={"size": 6, "fill_alpha": 0, "line_width": 1.5},
                        matplotlib={"s": 14, "facecolors": "none", "edgecolors": "black"},
                    )
                )
    title = "Loss of " + ", ".join(f"doc {d}" for d in docs)
    return styled(
        hv.Overlay(layers),
        common={
            "show_legend": True,
            "legend_position": "top_right",
            "xlabel": "training progress (epochs)",
            "ylabel": "loss (nats)",
        },
        bokeh={"title": title},
    )


def aligned_curves_plot(aligned: RunsOf, *, show_documents: bool = False) -> hv.Overlay:
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
    for index, (run, result) in enumerate(split_runs(aligned).items()):
        hue = color(index)
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
                common={"color": hue, "alpha": 0.2},
                matplotlib={"linewidth": 0},
            )
        )
        layers.append(
            styled(
                hv.Curve(
                    (x[keep], mean[keep], spread[keep]),
                    kdims=[OFFSET],
                    vdims=[LOSS, "std"],
                    label=run or "mean over documents",
                ),
                common={"color": hue},
                bokeh={"line_width": 2, "tools": ["hover"]},
                matplotlib={"linewidth": 1.2},
            )
        )
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
    return styled(
        hv.Overlay(layers),
        common={"xlabel": "epochs since the document's first training", "ylabel": "loss (nats)"},
        bokeh={"title": "Aligned loss (mean ± std over documents)"},
    )


def recovery_scores(scores: RunsOf) -> hv.Overlay:
    """Recovery score per presentation (or epoch), one line per run.

    Parameters
    ----------
    scores
        A 1-d DataArray per run, e.g. :func:`reawaken.analysis.paper_recovery_score`
        (``presentation``) or ``recovery_score(ds).mean("doc")`` (``epoch``).

    Examples
    --------
    >>> rs = xr.DataArray([0.2, 0.5, 0.6], dims="presentation", coords={"presentation": [1, 2, 3]})
    >>> len(recovery_scores({"410m": rs, "1b": rs}).traverse(lambda e: e, [hv.Curve]))
    2
    """
    layers: list[hv.Element] = []
    ticks: set[int] = set()
    for index, (run, score) in enumerate(split_runs(scores).items()):
        (dim,) = score.dims
        x = hv.Dimension(dim, label=dim.replace("_", " "))
        y = hv.Dimension("recovery_score", label="recovery score", range=(0, 1))
        hue = color(index)
        data = (score[dim].values, score.values)
        ticks.update(int(v) for v in score[dim].values)
        layers.append(
            styled(
                hv.Curve(data, kdims=[x], vdims=[y], label=run or "recovery score"),
                common={"color": hue},
                bokeh={"line_width": 2, "tools": ["hover"]},
            )
        )
        layers.append(
            styled(
                hv.Scatter(data, kdims=[x], vdims=[y]),
                common={"color": hue},
                bokeh={"size": 7},
                matplotlib={"s": 16},
            )
        )
    return styled(
        hv.Overlay(layers), common={"xticks": sorted(ticks)}, bokeh={"title": "Recovery score"}
    )


def online_loss(online: RunsOf) -> hv.Overlay:
    """The online (prequential) loss per episode, one line per run (paper Fig. 1c).

    Parameters
    ----------
    online
        :func:`reawaken.analysis.prequential_loss` per run (``episode``).

    Examples
    --------
    >>> o = xr.DataArray([3.0, 2.5, 2.0], dims="episode", coords={"episode": [1, 2, 3]})
    >>> len(online_loss({"cyclic": o, "shuffled": o}).traverse(lambda e: e, [hv.Curve]))
    2
    """
    x = hv.Dimension("episode", label="episode (document presentation)")
    curves = [
        styled(
            hv.Curve((loss["episode"].values, loss.values), kdims=[x], vdims=[LOSS], label=run),
            common={"color": color(index)},
            bokeh={"line_width": 2, "tools": ["hover"]},
        )
        for index, (run, loss) in enumerate(split_runs(online).items())
    ]
    return styled(
        hv.Overlay(curves),
        common={"ylabel": "loss (nats)"},
        bokeh={"title": "Online loss of the document about to be trained"},
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
