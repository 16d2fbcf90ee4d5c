"""Static, paper-sized figures of runs: what `reawaken figures` writes, via :func:`write_figures`.

Figures are the app's views drawn with HoloViews' Matplotlib backend (no browser), one file per
figure and format, with stable names: ``recovery_doc0.png``, ``aligned_curves.pdf``,
``recovery_matrix.svg`` ... Figures of a single run get a ``_<run name>`` suffix when several
runs are given; figures that overlay runs (curves, scores) do not.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import holoviews as hv
import matplotlib.pyplot as plt
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from reawaken.errors import ReawakenError
from reawaken.plots.matrix import recovery_matrix_plot
from reawaken.plots.recovery import (
    aligned_curves_plot,
    document_loss,
    loss_heatmap,
    online_loss,
    recovery_scores,
)
from reawaken.plots.representations import document_similarity, snapshot_similarity
from reawaken.plots.style import for_paper, steps_per_epoch
from reawaken.plots.trajectory import trajectory_panels, weight_trajectory_3d
from reawaken.store.reader import open_run

__all__ = ["FIGURE_SETS", "FORMATS", "build_figures", "run_name", "write_figures"]

logger = logging.getLogger(__name__)

FORMATS = ("png", "svg", "pdf")
#: The families ``--what`` chooses from, and the figures each writes.
FIGURE_SETS = {
    "recovery": "recovery_doc<d>, aligned_curves, recovery_scores, online_loss, loss_heatmap",
    "matrix": "recovery_matrix, recovery_matrix_by_distance",
    "similarity": "similarity_docs, similarity_doc<d>_snapshots",
    "trajectory": "trajectory_pca, trajectory_pca3d",
}
Figure = hv.core.Dimensioned


def run_name(path: str | Path) -> str:
    """A run's name: its store's folder name without ``.zarr``.

    Examples
    --------
    >>> run_name("runs/pythia-1b.zarr")
    'pythia-1b'
    """
    return Path(path).name.removesuffix(".zarr")


def _check_choices(given: Iterable[str], allowed: Iterable[str], what: str) -> list[str]:
    given, allowed = list(given), list(allowed)
    unknown = [g for g in given if g not in allowed]
    if unknown or not given:
        raise ReawakenError(
            f"unknown {what} {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(allowed)} (comma-separated)"
        )
    return given


def _recovery(runs: Mapping[str, xr.Dataset], docs: Sequence[int]) -> dict[str, Figure]:
    from reawaken import analysis

    figures: dict[str, Figure] = {}
    losses = {name: ds.loss for name, ds in runs.items()}
    for doc in docs:
        figures[f"recovery_doc{doc}"] = for_paper(document_loss(losses, docs=[doc]))
    aligned = {name: analysis.aligned_curves(ds) for name, ds in runs.items()}
    figures["aligned_curves"] = for_paper(aligned_curves_plot(aligned))
    scores = {name: analysis.paper_recovery_score(ds) for name, ds in runs.items()}
    figures["recovery_scores"] = for_paper(recovery_scores(scores))
    online = {name: analysis.prequential_loss(ds) for name, ds in runs.items()}
    figures["online_loss"] = for_paper(online_loss(online))
    for name, ds in runs.items():
        figures[f"loss_heatmap{_suffix(runs, name)}"] = for_paper(loss_heatmap(ds.loss), aspect=1.3)
    return figures


def _matrix(runs: Mapping[str, xr.Dataset]) -> dict[str, Figure]:
    from reawaken import analysis

    figures: dict[str, Figure] = {}
    for name, ds in runs.items():
        for by_distance, stem in (
            (False, "recovery_matrix"),
            (True, "recovery_matrix_by_distance"),
        ):
            matrix = analysis.recovery_matrix(ds, by_distance=by_distance)
            figures[f"{stem}{_suffix(runs, name)}"] = for_paper(
                recovery_matrix_plot(matrix), aspect=1.15
            )
    return figures


def _similarity(runs: Mapping[str, xr.Dataset], docs: Sequence[int]) -> dict[str, Figure]:
    from reawaken import analysis

    figures: dict[str, Figure] = {}
    for name, ds in runs.items():
        if "activation" not in ds or ds.sizes.get("snapshot", 0) == 0:
            logger.warning("run %s has no activation snapshots: similarity figures skipped", name)
            continue
        between = analysis.representation_similarity(ds)
        figures[f"similarity_docs{_suffix(runs, name)}"] = for_paper(
            document_similarity(between, method="cosine"), aspect=1.15
        )
        for doc in docs:
            over_time = analysis.representation_similarity(ds, doc=doc)
            figure = snapshot_similarity(
                over_time, steps_per_epoch=steps_per_epoch(ds), method="cosine"
            )
            figures[f"similarity_doc{doc}_snapshots{_suffix(runs, name)}"] = for_paper(
                figure, aspect=1.15
            )
    return figures


def _trajectory(runs: Mapping[str, xr.Dataset]) -> dict[str, Figure]:
    from reawaken import analysis

    figures: dict[str, Figure] = {}
    for name, ds in runs.items():
        source = next((s for s in ("weight_sketch", "weight") if s in ds), None)
        if source is None or ds.sizes.get("snapshot", 0) < 3:
            logger.warning("run %s has no weight snapshots: trajectory figures skipped", name)
            continue
        trajectory = analysis.weight_trajectory(ds, n_components=3, source=source)
        both = [
            trajectory_panels(trajectory, n_components=2, color_by=color_by)
            for color_by in ("epoch", "cycle_position")
        ]
        layout = (both[0] + both[1]).cols(2).opts(hspace=0.9, backend="matplotlib")
        figures[f"trajectory_pca{_suffix(runs, name)}"] = for_paper(layout, width=7.0, aspect=2.6)
        figures[f"trajectory_pca3d{_suffix(runs, name)}"] = for_paper(
            weight_trajectory_3d(trajectory), aspect=1.0
        )
    return figures


def _suffix(runs: Mapping[str, xr.Dataset], name: str) -> str:
    return f"_{name}" if len(runs) > 1 else ""


def build_figures(
    runs: Mapping[str, xr.Dataset],
    *,
    what: Sequence[str] = tuple(FIGURE_SETS),
    docs: Sequence[int] = (0,),
) -> dict[str, Figure]:
    """The paper figures of ``runs`` (name -> Dataset) as HoloViews objects, by file stem.

    Figures a run cannot make (no snapshots) are left out with a logged warning.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> run = synthetic_run(np.random.rand(2 * 3 * 2 + 1, 3), steps_per_doc=2)
    >>> sorted(build_figures({"demo": run}, what=["matrix"]))
    ['recovery_matrix', 'recovery_matrix_by_distance']
    """
    what = _check_choices(what, FIGURE_SETS, "figure set")
    for name, ds in runs.items():
        bad = [d for d in docs if not 0 <= d < ds.sizes["doc"]]
        if bad:
            raise ReawakenError(
                f"run {name} has documents 0..{ds.sizes['doc'] - 1}; documents {bad} are out "
                "of range (choose others with --docs)"
            )
    figures: dict[str, Figure] = {}
    if "recovery" in what:
        figures |= _recovery(runs, docs)
    if "matrix" in what:
        figures |= _matrix(runs)
    if "similarity" in what:
        figures |= _similarity(runs, docs)
    if "trajectory" in what:
        figures |= _trajectory(runs)
    return figures


def write_figures(
    run_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("png",),
    what: Sequence[str] = tuple(FIGURE_SETS),
    docs: Sequence[int] = (0,),
    dpi: int = 300,
) -> list[Path]:
    """Write paper-sized figures of the given runs; returns the files written, in order.

    Parameters
    ----------
    run_paths
        Run stores (``runs/<name>.zarr``). Curves and scores of several runs share axes.
    out_dir
        Folder for the figures (created if missing).
    formats
        Any of ``png``, ``svg``, ``pdf``.
    what
        Any of ``recovery``, ``matrix``, ``similarity``, ``trajectory`` (see
        :data:`FIGURE_SETS`).
    docs
        Documents for the single-document figures.
    dpi
        Resolution of PNG files.

    Examples
    --------
    ``write_figures(["runs/default.zarr"], "figures", formats=["png", "pdf"])`` writes
    ``figures/recovery_doc0.png``, ``figures/recovery_doc0.pdf``, ... and returns their paths
    (tests/plots/test_plots_export.py checks them). Nothing is written without a run:

    >>> write_figures([], "figures")
    Traceback (most recent call last):
    reawaken.errors.ReawakenError: no run given: name one or more run stores, e.g. runs/default.zarr
    """
    formats = _check_choices(formats, FORMATS, "format")
    if not run_paths:
        raise ReawakenError("no run given: name one or more run stores, e.g. runs/default.zarr")
    runs = {run_name(path): open_run(path) for path in run_paths}
    if len(runs) < len(run_paths):
        raise ReawakenError("two runs have the same name; figures would overwrite each other")
    figures = build_figures(runs, what=what, docs=docs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, figure in figures.items():
        rendered = _render_at_width(figure)
        try:
            for fmt in formats:
                path = out / f"{stem}.{fmt}"
                rendered.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.02)
                written.append(path)
        finally:
            plt.close(rendered)
    return written


def _render_at_width(figure: Figure) -> MplFigure:
    """Render with Matplotlib so that the saved (tightly cropped) figure is as wide as asked.

    Labels and colour bars stick out of the axes by a fixed amount of text, so the figure is
    resized until its cropped width matches the ``fig_inches`` width of :func:`for_paper`
    (a few tries; tick labels can jump, so the closest try is kept).
    """
    options = hv.Store.lookup_options("matplotlib", figure, "plot").kwargs
    target, height = options.get("fig_inches", (3.5, 2.4))
    rendered = hv.render(figure, backend="matplotlib")
    canvas = FigureCanvasAgg(rendered)
    ratio = height / target

    def cropped_width(width: float) -> float:
        rendered.set_size_inches(width, width * ratio)
        return float(rendered.get_tightbbox(canvas.get_renderer()).width)

    width, best = target, (math.inf, target)
    for _ in range(6):
        got = cropped_width(width)
        best = min(best, (abs(got - target), width))
        if best[0] < 0.01 * target:
            break
        width *= target / got
    rendered.set_size_inches(best[1], best[1] * ratio)
    return rendered
