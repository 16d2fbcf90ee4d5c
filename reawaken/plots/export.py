"""Static, paper-sized figures of runs: what `reawaken figures` writes, via :func:`write_figures`.

Figures are the app's views drawn with HoloViews' Matplotlib backend (no browser), one file per
figure and format, with stable names: ``recovery_doc0.png``, ``aligned_curves.pdf``,
``recovery_matrix.svg`` ... Figures of a single run get a ``_<run name>`` suffix when several
runs are given; figures that overlay runs (curves, scores) do not.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import holoviews as hv
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from reawaken.errors import ReawakenError
from reawaken.plots.matrix import recovery_matrix_plot, symmetric_limit
from reawaken.plots.mechanism import update_magnitudes_plot, weight_residual_similarity_plot
from reawaken.plots.recovery import (
    aligned_curves_plot,
    document_loss,
    loss_heatmap,
    online_loss,
    recovery_scores,
)
from reawaken.plots.representations import (
    document_points,
    document_similarity,
    snapshot_similarity,
)
from reawaken.plots.style import for_paper, run_colors, steps_per_epoch
from reawaken.plots.trajectory import trajectory_panels, weight_trajectory_3d
from reawaken.store.reader import open_run

__all__ = [
    "DEFAULT_FIGURE_SETS",
    "FIGURE_SETS",
    "FORMATS",
    "PAPER_SIZES",
    "build_figures",
    "figure_bytes",
    "paper_figure",
    "run_name",
    "save_figure",
    "write_figures",
]

logger = logging.getLogger(__name__)

FORMATS = ("png", "svg", "pdf")
#: The families ``--what`` chooses from, and the figures each writes.
FIGURE_SETS = {
    "recovery": "recovery_doc<d>, aligned_curves, recovery_scores, online_loss, loss_heatmap",
    "matrix": "recovery_matrix, recovery_matrix_by_distance, pairwise_recovery (if stored)",
    "similarity": "similarity_docs, similarity_doc<d>_snapshots",
    "points": "points_pca (documents' PCA at 4 snapshots; Fig. 11)",
    "mechanism": "gradient_similarity, weight_residual_similarity, update_magnitudes_doc<d> "
    "(Fig. 8a, 8c, 22; each if the run stored its probes)",
    "trajectory": "trajectory_pca, trajectory_pca3d",
}
#: What ``reawaken figures`` writes without ``--what``: the sets every run can make.
DEFAULT_FIGURE_SETS = ("recovery", "matrix", "similarity", "trajectory")
Figure = hv.core.Dimensioned
#: Print size of each kind of figure (:func:`for_paper` options); the default is one column.
PAPER_SIZES: dict[str, dict[str, float]] = {
    "loss_heatmap": {"aspect": 1.3},
    "recovery_matrix": {"aspect": 1.15},
    "similarity": {"aspect": 1.15},
    "trajectory_pca": {"width": 7.0, "aspect": 2.6},
    "trajectory_pca3d": {"aspect": 1.0},
    "sweep": {"aspect": 1.3},
    "gradient_similarity": {"aspect": 1.15},
    "weight_residual_similarity": {"aspect": 1.15},
    "update_magnitudes": {"width": 7.0, "aspect": 2.6},
}


def paper_figure(kind: str, figure: Figure) -> Figure:
    """``figure`` sized for print as a figure of ``kind`` (a key of :data:`PAPER_SIZES`).

    ``reawaken figures`` and the app's export buttons both size figures here, so a figure
    exported from the app is the file the command writes.

    Examples
    --------
    >>> fig = paper_figure("recovery_matrix", hv.Curve([1, 2]))
    >>> hv.Store.lookup_options("matplotlib", fig, "plot").kwargs["aspect"]
    1.15
    """
    return for_paper(figure, **PAPER_SIZES.get(kind, {}))


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


def _recovery(
    runs: Mapping[str, xr.Dataset], docs: Sequence[int], colors: Mapping[str, str]
) -> dict[str, Figure]:
    from reawaken import analysis

    figures: dict[str, Figure] = {}
    losses = {name: ds.loss for name, ds in runs.items()}
    for doc in docs:
        figures[f"recovery_doc{doc}"] = paper_figure(
            "recovery_doc", document_loss(losses, docs=[doc], colors=colors)
        )
    aligned = {name: analysis.aligned_curves(ds) for name, ds in runs.items()}
    figures["aligned_curves"] = paper_figure(
        "aligned_curves", aligned_curves_plot(aligned, colors=colors)
    )
    scores = {name: analysis.paper_recovery_score(ds) for name, ds in runs.items()}
    figures["recovery_scores"] = paper_figure(
        "recovery_scores", recovery_scores(scores, colors=colors)
    )
    online = {name: analysis.prequential_loss(ds) for name, ds in runs.items()}
    figures["online_loss"] = paper_figure("online_loss", online_loss(online, colors=colors))
    for name, ds in runs.items():
        figures[f"loss_heatmap{_suffix(runs, name)}"] = paper_figure(
            "loss_heatmap", loss_heatmap(ds.loss)
        )
    return figures


def _matrix(runs: Mapping[str, xr.Dataset]) -> dict[str, Figure]:
    from reawaken import analysis

    matrices = {
        f"{stem}{_suffix(runs, name)}": analysis.recovery_matrix(ds, by_distance=by_distance)
        for name, ds in runs.items()
        for by_distance, stem in ((False, "recovery_matrix"), (True, "recovery_matrix_by_distance"))
    }
    for name, ds in runs.items():
        if "pairwise_loss_change" in ds:  # `reawaken pairwise` (Fig. 8b, 23)
            pairwise = analysis.pairwise_recovery(ds)
            matrices[f"pairwise_recovery{_suffix(runs, name)}"] = pairwise
    # One colour scale for all, so that matrices side by side compare by colour.
    limit = symmetric_limit(*matrices.values())
    return {
        stem: paper_figure("recovery_matrix", recovery_matrix_plot(matrix, limit=limit))
        for stem, matrix in matrices.items()
    }


def _with_activations(
    runs: Mapping[str, xr.Dataset], figures: str
) -> Iterator[tuple[str, xr.Dataset]]:
    """The runs that stored activation snapshots; the others are named in a warning."""
    for name, ds in runs.items():
        if "activation" in ds and ds.sizes.get("snapshot", 0) > 0:
            yield name, ds
        else:
            logger.warning("run %s has no activation snapshots: %s skipped", name, figures)


def _similarity(runs: Mapping[str, xr.Dataset], docs: Sequence[int]) -> dict[str, Figure]:
    from reawaken import analysis

    figures: dict[str, Figure] = {}
    for name, ds in _with_activations(runs, "similarity figures"):
        between = analysis.representation_similarity(ds)
        figures[f"similarity_docs{_suffix(runs, name)}"] = paper_figure(
            "similarity", document_similarity(between, method="cosine")
        )
        for doc in docs:
            over_time = analysis.representation_similarity(ds, doc=doc)
            figure = snapshot_similarity(
                over_time, steps_per_epoch=steps_per_epoch(ds), method="cosine"
            )
            figures[f"similarity_doc{doc}_snapshots{_suffix(runs, name)}"] = paper_figure(
                "similarity", figure
            )
    return figures


def _points(runs: Mapping[str, xr.Dataset]) -> dict[str, Figure]:
    from reawaken import analysis

    figures: dict[str, Figure] = {}
    for name, ds in _with_activations(runs, "points figure"):
        pca = analysis.representation_pca(ds)
        written = np.flatnonzero(np.isfinite(pca["projection"].values).all(axis=(1, 2)))
        if not len(written):
            continue
        chosen = np.unique(written[np.linspace(0, len(written) - 1, 4).round().astype(int)])
        panels = [document_points(pca.isel(snapshot=int(s))) for s in chosen]
        layout = hv.Layout(panels).cols(len(panels))
        figures[f"points_pca{_suffix(runs, name)}"] = for_paper(
            layout, width=3.0 * len(panels), aspect=1.1 * len(panels)
        )
    return figures


def _mechanism(runs: Mapping[str, xr.Dataset], docs: Sequence[int]) -> dict[str, Figure]:
    from reawaken import analysis

    figures: dict[str, Figure] = {}
    for name, ds in runs.items():
        suffix, per_epoch = _suffix(runs, name), steps_per_epoch(ds)
        if ds.sizes.get("snapshot", 0) < 2:
            logger.warning("run %s has no snapshots: mechanism figures skipped", name)
            continue
        if "grad_sketch" in ds:
            similarity = analysis.gradient_similarity(ds)
            figures[f"gradient_similarity{suffix}"] = paper_figure(
                "gradient_similarity", document_similarity(similarity, method="gradient cosine")
            )
        source = next((s for s in ("weight_sketch", "weight") if s in ds), None)
        if source is not None and ds.sizes["snapshot"] >= 3:
            residual = analysis.weight_residual_similarity(ds, source=source)
            figures[f"weight_residual_similarity{suffix}"] = paper_figure(
                "weight_residual_similarity",
                weight_residual_similarity_plot(residual, steps_per_epoch=per_epoch),
            )
        if "activation" in ds:
            for doc in docs:
                source_name = source or "weight_sketch"
                magnitudes = analysis.update_magnitudes(ds, doc=doc, source=source_name)
                figures[f"update_magnitudes_doc{doc}{suffix}"] = paper_figure(
                    "update_magnitudes",
                    update_magnitudes_plot(magnitudes, steps_per_epoch=per_epoch),
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
        figures[f"trajectory_pca{_suffix(runs, name)}"] = paper_figure("trajectory_pca", layout)
        figures[f"trajectory_pca3d{_suffix(runs, name)}"] = paper_figure(
            "trajectory_pca3d", weight_trajectory_3d(trajectory)
        )
    return figures


def _suffix(runs: Mapping[str, xr.Dataset], name: str) -> str:
    return f"_{name}" if len(runs) > 1 else ""


def build_figures(
    runs: Mapping[str, xr.Dataset],
    *,
    what: Sequence[str] = DEFAULT_FIGURE_SETS,
    docs: Sequence[int] = (0,),
    colors: Mapping[str, str] | None = None,
) -> dict[str, Figure]:
    """The paper figures of ``runs`` (name -> Dataset) as HoloViews objects, by file stem.

    Figures a run cannot make (no snapshots) are left out with a logged warning. Each run has
    one colour in every figure: from ``colors`` (name -> colour) where given, else by its
    place in ``runs`` (:class:`~reawaken.plots.style.RunColors`).

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
        figures |= _recovery(runs, docs, run_colors(runs, colors))
    if "matrix" in what:
        figures |= _matrix(runs)
    if "similarity" in what:
        figures |= _similarity(runs, docs)
    if "points" in what:
        figures |= _points(runs)
    if "mechanism" in what:
        figures |= _mechanism(runs, docs)
    if "trajectory" in what:
        figures |= _trajectory(runs)
    return figures


def write_figures(
    run_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("png",),
    what: Sequence[str] = DEFAULT_FIGURE_SETS,
    docs: Sequence[int] = (0,),
    dpi: int = 300,
    colors: Mapping[str, str] | None = None,
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
        Any of the sets in :data:`FIGURE_SETS` (default :data:`DEFAULT_FIGURE_SETS`;
        ``points`` and ``mechanism`` need snapshot probes).
    docs
        Documents for the single-document figures.
    dpi
        Resolution of PNG files.
    colors
        Colour of each run by name (e.g. the app's); default: by order of ``run_paths``.

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
    figures = build_figures(runs, what=what, docs=docs, colors=colors)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, figure in figures.items():
        paths = [out / f"{stem}.{fmt}" for fmt in formats]
        save_figure(figure, paths, dpi=dpi)
        written.extend(paths)
    return written


def save_figure(
    figure: Figure,
    targets: Sequence[str | Path | IO[bytes]],
    *,
    formats: Sequence[str] | None = None,
    dpi: int = 300,
) -> None:
    """Render ``figure`` once with Matplotlib and save it to each target (a path or a file).

    The format is the path's suffix, or the matching entry of ``formats`` for a file object.
    Both ``reawaken figures`` and the app's export buttons save through here.
    """
    rendered = _render_at_width(figure)
    try:
        for index, target in enumerate(targets):
            fmt = formats[index] if formats else Path(str(target)).suffix.lstrip(".")
            rendered.savefig(target, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.02)
    finally:
        plt.close(rendered)


def figure_bytes(figure: Figure, fmt: str = "png", *, dpi: int = 300) -> bytes:
    """The file ``reawaken figures`` would write for ``figure``, as bytes (for a download).

    Examples
    --------
    >>> figure_bytes(paper_figure("aligned_curves", hv.Curve([1, 2])))[:4]
    b'\\x89PNG'
    """
    _check_choices([fmt], FORMATS, "format")
    buffer = io.BytesIO()
    save_figure(figure, [buffer], formats=[fmt], dpi=dpi)
    return buffer.getvalue()


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
