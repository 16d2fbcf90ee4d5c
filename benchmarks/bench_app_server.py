"""Where the app's time goes on the server, in one process: caches and the many-runs view.

Run: ``python benchmarks/bench_app_server.py`` (``--runs 20``). It writes paper-size runs
(as ``bench_app.py`` does), ticks every run, and builds each page to Bokeh models (what a
browser session would be sent) three ways:

- ``cold``: empty caches (every store opened, every analysis computed while drawing);
- ``warm``: after :meth:`reawaken.app.shell.App.warm`, the background warm-up of ``panel
  serve``;
- for the recovery page's four overlays, each drawn through HoloViews (one renderer per run
  and element) and as the app draws them beyond ``MANY_SERIES`` runs (one Bokeh glyph per
  kind, :func:`reawaken.plots.series.many_series_figure`);
- for the first run's card figures (loss heatmap, recovery matrix, the two similarity
  matrices), each drawn through HoloViews and straight with Bokeh
  (:func:`reawaken.plots.grid.grid_figure`), and the Recovery and Representations pages
  built (warm) with their heatmaps and PCA points drawn either way (best of ``--repeat``).

All figures come from the same process, so their ratios hold on a loaded machine; absolute
times do not. No browser is involved (``bench_app.py`` measures the pages in Chromium).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import holoviews as hv
import panel as pn
from bokeh.document import Document

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_app import make_folder

import reawaken.app.pages.common as common
from reawaken import analysis, plots
from reawaken.app.data import analysed, load_run
from reawaken.app.shell import App
from reawaken.plots.grid import grid_figure
from reawaken.plots.large import for_browser
from reawaken.plots.points import points_figure
from reawaken.plots.series import many_series_figure
from reawaken.plots.style import for_screen, steps_per_epoch

PAGES = ("recovery", "representations", "weights", "sweep")


def models(make: Callable[[], pn.viewable.Viewable]) -> tuple[float, int]:
    """Seconds to make a viewable and build its Bokeh models, and how many there are.

    The viewable is made inside the timing: a figure drawn straight with Bokeh does its
    work when made, a HoloViews pane when its models are built.
    """
    start = time.perf_counter()
    root = pn.panel(make()).get_root(Document())
    return time.perf_counter() - start, len(list(root.references()))


def pages(app: App) -> dict[str, tuple[float, int]]:
    return {name: models(app.pages[name].__panel__) for name in PAGES}


def overlays(app: App) -> dict[str, tuple[float, int, float, int]]:
    """Each recovery overlay of the selected runs: HoloViews time/models, direct time/models."""
    state = app.state
    names = state.selected
    paths = {name: str(state.path_of(name)) for name in names}
    colors = state.colors_of(names)
    built = {
        "document curves": plots.document_loss(
            {n: load_run(state.runs_dir, p).loss for n, p in paths.items()}, docs=[0], colors=colors
        ),
        "aligned curves": plots.aligned_curves_plot(
            {
                n: analysed(state.runs_dir, p, analysis.aligned_curves, ragged=False)
                for n, p in paths.items()
            },
            colors=colors,
        ),
        "recovery scores": plots.recovery_scores(
            {
                n: analysed(state.runs_dir, p, analysis.paper_recovery_score)
                for n, p in paths.items()
            },
            colors=colors,
        ),
        "online loss": plots.online_loss(
            {n: analysed(state.runs_dir, p, analysis.prequential_loss) for n, p in paths.items()},
            colors=colors,
        ),
    }
    out = {}
    for label, obj in built.items():
        holo = models(
            lambda obj=obj: pn.pane.HoloViews(
                for_screen(for_browser(obj), height=340), backend="bokeh"
            )
        )
        direct = models(lambda obj=obj: pn.pane.Bokeh(many_series_figure(obj, at_least=1)))
        out[label] = (*holo, *direct)
    return out


def best(seconds: list[float]) -> float:
    return min(seconds)


def cards(app: App, repeat: int) -> dict[str, tuple[float, float]]:
    """The first run's card figures: best seconds through HoloViews, and drawn directly."""
    state = app.state
    path = str(state.path_of(state.selected[0]))
    ds = load_run(state.runs_dir, path)
    matrix = analysed(state.runs_dir, path, analysis.recovery_matrix, by_distance=False)
    similarity = analysed(state.runs_dir, path, analysis.representation_similarity)
    over_time = analysed(state.runs_dir, path, analysis.representation_similarity, doc=0)
    built = {
        "loss heatmap": plots.loss_heatmap(ds.loss),
        "recovery matrix": plots.recovery_matrix_plot(matrix),
        "document similarity": plots.document_similarity(similarity, method="cosine"),
        "snapshot similarity": plots.snapshot_similarity(
            over_time, steps_per_epoch=steps_per_epoch(ds), mark_step=0
        ),
    }
    out = {}
    for label, obj in built.items():
        holo = [
            models(lambda obj=obj: pn.pane.HoloViews(for_screen(obj, height=340), backend="bokeh"))[
                0
            ]
            for _ in range(repeat)
        ]
        direct = [
            models(lambda obj=obj: pn.pane.Bokeh(grid_figure(obj, height=340)))[0]
            for _ in range(repeat)
        ]
        out[label] = (best(holo), best(direct))
    return out


def page_either_way(app: App, repeat: int) -> dict[str, tuple[float, float]]:
    """Best warm build of each card page, heatmaps and PCA points through HoloViews vs drawn
    directly."""
    out = {}
    for name in ("recovery", "representations"):
        times = []
        for direct in (False, True):  # None from these: the HoloViews pane
            common.grid_figure = grid_figure if direct else lambda obj, height: None
            common.points_figure = points_figure if direct else lambda obj, height: None
            runs = []
            for _ in range(repeat):
                app.pages[name]._cards = type(app.pages[name]._cards)()
                runs.append(models(app.pages[name].__panel__)[0])
            times.append(best(runs))
        common.grid_figure, common.points_figure = grid_figure, points_figure
        out[name] = (times[0], times[1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="paper-size runs to write")
    parser.add_argument("--repeat", type=int, default=3, help="builds per figure (best kept)")
    args = parser.parse_args()
    hv.extension("bokeh")
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_folder(Path(tmp), args.runs)
        app = App(runs_dir=str(folder))
        app.state.selected = [run.name for run in app.state.runs if run.readable]
        pn.state.clear_caches()
        cold = pages(app)
        pn.state.clear_caches()
        start = time.perf_counter()
        app.warm()
        warm_up = time.perf_counter() - start
        for page in app.pages.values():  # cards drawn again from scratch, caches full
            if hasattr(page, "_cards"):
                page._cards = type(page._cards)()
        warm = pages(app)
        drawn = overlays(app)
        card = cards(app, args.repeat)
        either = page_either_way(app, args.repeat)
    print(f"{args.runs} paper-size runs ticked; load average {os.getloadavg()[0]:.2f}")
    print(f"warm-up (App.warm, every run, every page's default view): {warm_up:.2f} s\n")
    print("| page | cold caches (s) | after warm-up (s) | cold/warm | Bokeh models |")
    print("| --- | --- | --- | --- | --- |")
    for name in PAGES:
        (c, n), (w, _) = cold[name], warm[name]
        print(f"| {name} | {c:.2f} | {w:.2f} | {c / w:.1f} | {n} |")
    print("\n| recovery overlay | HoloViews (s) | models | one glyph per kind (s) | models "
          "| ratio |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for label, (h, hn, d, dn) in drawn.items():
        print(f"| {label} | {h:.2f} | {hn} | {d:.3f} | {dn} | {h / d:.0f}x |")
    print(
        f"\n| first run's card figure (best of {args.repeat}) | HoloViews (s) | Bokeh (s) | ratio |"
    )
    print("| --- | --- | --- | --- |")
    for label, (h, d) in card.items():
        print(f"| {label} | {h:.3f} | {d:.3f} | {h / d:.1f}x |")
    print(f"\n| page, warm (best of {args.repeat}) | heatmaps, points via HoloViews (s) "
          "| drawn directly (s) | ratio |")  # fmt: skip
    print("| --- | --- | --- | --- |")
    for name, (h, d) in either.items():
        print(f"| {name} | {h:.2f} | {d:.2f} | {h / d:.1f}x |")


if __name__ == "__main__":
    main()
