"""Where the app's time goes on the server, in one process: caches and the many-runs view.

Run: ``python benchmarks/bench_app_server.py`` (``--runs 20``). It writes paper-size runs
(as ``bench_app.py`` does), ticks every run, and builds each page to Bokeh models (what a
browser session would be sent) three ways:

- ``cold``: empty caches (every store opened, every analysis computed while drawing);
- ``warm``: after :meth:`reawaken.app.shell.App.warm`, the background warm-up of ``panel
  serve``;
- for the recovery page's four overlays, each drawn through HoloViews (one renderer per run
  and element) and as the app draws them beyond ``MANY_SERIES`` runs (one Bokeh glyph per
  kind, :func:`reawaken.plots.series.many_series_figure`).

All figures come from the same process, so their ratios hold on a loaded machine; absolute
times do not. No browser is involved (``bench_app.py`` measures the pages in Chromium).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import holoviews as hv
import panel as pn
from bokeh.document import Document

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_app import make_folder

from reawaken import analysis, plots
from reawaken.app.data import analysed, load_run
from reawaken.app.shell import App
from reawaken.plots.large import for_browser
from reawaken.plots.series import many_series_figure
from reawaken.plots.style import for_screen

PAGES = ("recovery", "representations", "weights", "sweep")


def models(viewable: pn.viewable.Viewable) -> tuple[float, int]:
    """Seconds to build ``viewable``'s Bokeh models, and how many there are."""
    start = time.perf_counter()
    root = pn.panel(viewable).get_root(Document())
    return time.perf_counter() - start, len(list(root.references()))


def pages(app: App) -> dict[str, tuple[float, int]]:
    return {name: models(app.pages[name].__panel__()) for name in PAGES}


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
        holo = pn.pane.HoloViews(for_screen(for_browser(obj), height=340), backend="bokeh")
        direct = pn.pane.Bokeh(many_series_figure(obj, height=340, at_least=1))
        out[label] = (*models(holo), *models(direct))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="paper-size runs to write")
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


if __name__ == "__main__":
    main()
