"""What every page shares: showing a figure, showing a problem instead of a figure, run cards.

:func:`guarded` turns an expected problem (a damaged store, a run without snapshots, a bad
choice) into a message in the page, so one bad run never breaks the rest of the app.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

import holoviews as hv
import panel as pn
import param

from reawaken.errors import ReawakenError
from reawaken.plots.export import figure_bytes, paper_figure
from reawaken.plots.grid import grid_figure
from reawaken.plots.large import for_browser, point_count
from reawaken.plots.points import points_figure, points_panels
from reawaken.plots.series import many_series_figure, series_panels
from reawaken.plots.style import MAX_POINTS, for_screen

__all__ = [
    "OPEN_CARDS",
    "PLOT_HEIGHT",
    "CardCache",
    "cards_of_selected_runs",
    "figure",
    "guarded",
    "lazy",
    "message",
    "run_card",
]

logger = logging.getLogger(__name__)
P = ParamSpec("P")
PLOT_HEIGHT = 340


def message(text: str, kind: str = "warning") -> pn.pane.Alert:
    """A coloured box with ``text``; ``kind`` is ``warning``, ``danger`` or ``info``."""
    return pn.pane.Alert(text, alert_type=kind, sizing_mode="stretch_width")


def figure(
    obj: hv.core.Dimensioned,
    *,
    height: int = PLOT_HEIGHT,
    export: tuple[str, str] | None = None,
) -> pn.viewable.Viewable:
    """A HoloViews object shown with Bokeh: overlays of runs' curves, heatmaps and coloured
    points (alone or side by side) drawn straight with Bokeh
    (:func:`~reawaken.plots.series.many_series_figure`, :func:`~reawaken.plots.grid.grid_figure`,
    :func:`~reawaken.plots.points.points_figure`, :func:`~reawaken.plots.points.points_panels`,
    :func:`~reawaken.plots.series.series_panels`),
    anything else through HoloViews, reduced first if it holds too many points.

    With ``export=(kind, stem)`` a button under the plot downloads it as ``<stem>.png``, drawn
    for print exactly as ``reawaken figures`` draws a figure of that kind
    (:func:`reawaken.plots.export.paper_figure`). Side-by-side panels keep their own size, so
    their toolbar stays next to them.
    """
    panels = isinstance(obj, hv.Layout)
    # Overlays of runs' curves (even one run's) are drawn straight with Bokeh: ~10x cheaper.
    direct = many_series_figure(obj, height=height, at_least=1)
    side_by_side = None
    if direct is None and point_count(obj) <= MAX_POINTS:  # larger grids are rasterised
        # A heatmap (with marks) or coloured points are drawn straight with Bokeh too:
        # ~0.05-0.5 s less each; side-by-side panels of points share the width.
        direct = grid_figure(obj, height=height) or points_figure(obj, height=height)
        side_by_side = (
            None
            if direct is not None
            else points_panels(obj, height=height) or series_panels(obj, height=height)
        )
    if direct is not None:
        pane = pn.pane.Bokeh(direct, sizing_mode="stretch_width", min_height=height)
    elif side_by_side is not None:
        pane = pn.Row(
            *(
                pn.pane.Bokeh(f, sizing_mode="stretch_width", min_height=height)
                for f in side_by_side
            ),
            sizing_mode="stretch_width",
        )
        panels = False
    else:
        pane = pn.pane.HoloViews(
            for_screen(for_browser(obj), height=height),
            backend="bokeh",
            sizing_mode=None if panels else "stretch_width",
            min_height=height,
            linked_axes=False,
        )
    if export is None:
        return pane
    kind, stem = export
    button = pn.widgets.FileDownload(
        callback=lambda: io.BytesIO(figure_bytes(paper_figure(kind, obj))),
        filename=f"{stem}.png",
        label="Save as figure (PNG)",
        embed=False,
        width=180,
        margin=(0, 10),
        css_classes=["reawaken-export"],
    )
    return pn.Column(pane, button, sizing_mode=None if panels else "stretch_width")


def guarded(what: str) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Decorate a view method: an error becomes a message naming ``what`` failed and why.

    Expected problems (:class:`~reawaken.errors.ReawakenError`, bad values) are shown as a
    warning; anything else is logged with its traceback and shown as an error.
    """

    def decorate(method: Callable[P, Any]) -> Callable[P, Any]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            try:
                return method(*args, **kwargs)
            except (ReawakenError, ValueError, KeyError, IndexError) as error:
                logger.info("%s: %s", what, error)
                return message(f"**{what}**: {error}")
            except Exception as error:
                logger.exception("%s failed", what)
                return message(
                    f"**{what}** failed unexpectedly: {error!r} (see the server log)", "danger"
                )

        return wrapper

    return decorate


#: Up to this many selected runs, every card opens at once; with more, only the first does
#: and the others are drawn when opened (a page of 20 runs draws one card, not 20).
OPEN_CARDS = 4


def run_card(title: str, *objects: Any, build: Callable[[], Any] | None = None) -> pn.Card:
    """A collapsible card holding one run's figures.

    With ``build``, the card starts collapsed and calls ``build()`` for its contents the
    first time it is opened: a page with many runs draws only the cards one looks at.
    """
    card = pn.Card(
        *objects,
        title=title,
        sizing_mode="stretch_width",
        collapsible=True,
        collapsed=build is not None,
        margin=(5, 5),
    )
    if build is not None:

        def fill(event: Any) -> None:
            if not event.new and not card.objects:
                card.objects = [build()]

        card.param.watch(fill, "collapsed")
    return card


class CardCache:
    """Reuse the card of a run whose data and options did not change (e.g. a finished run

    while another is still training): its plots are not rebuilt when the page refreshes.
    """

    def __init__(self) -> None:
        self._cards: dict[tuple[Any, ...], pn.Card] = {}

    def get(self, key: tuple[Any, ...], make: Callable[[], pn.Card]) -> pn.Card:
        card = self._cards.get(key)
        if card is None:
            card = self._cards[key] = make()
        return card

    def keep(self, keys: list[tuple[Any, ...]]) -> None:
        """Forget the cards not in ``keys`` (runs unselected or changed)."""
        self._cards = {key: card for key, card in self._cards.items() if key in keys}


def cards_of_selected_runs(
    entries: list[Any],
    build: Callable[[str, Path], pn.viewable.Viewable],
    title: Callable[[str], str],
    cache: CardCache,
    options: tuple[Any, ...] = (),
) -> pn.viewable.Viewable:
    """One card per selected run (``build(name, path)``), or a hint when none is selected.

    Up to :data:`OPEN_CARDS` runs, every card is drawn open; with more, only the first,
    and the rest are drawn when opened. Cards are reused while their run's progress, whether
    it opens, and the ``options`` stay the same.
    """
    if not entries:
        return message("Select a run on the Runs page.", "info")
    opened = len(entries) if len(entries) <= OPEN_CARDS else 1
    keys, cards = [], []
    for index, entry in enumerate(entries):
        key = (entry.name, entry.completed_steps, entry.status, index < opened, *options)
        keys.append(key)

        def make(entry: Any = entry, index: int = index) -> pn.Card:
            contents = functools.partial(build, entry.name, entry.path)
            if index < opened:
                return run_card(title(entry.name), contents())
            return run_card(title(entry.name), build=contents)

        cards.append(cache.get(key, make))
    cache.keep(keys)
    return pn.Column(*cards, sizing_mode="stretch_width")


class _WhileOpen(pn.param.ParamMethod):
    """A page's view method, drawn when its page is first opened; afterwards redrawn on a
    change only while the page is open (``state.page``). A change while the page sits in a
    hidden tab is drawn when the page is opened again, once, however many changes came.
    """

    def __init__(self, method: Callable[..., Any]) -> None:
        super().__init__(method, lazy=True, sizing_mode="stretch_width")
        self._page = method.__self__
        self._drawn = self._missed = False
        self._page.state.param.watch(self._page_opened, "page")

    def _is_open(self) -> bool:
        return self._page.state.is_open(self._page.NAME)

    def eval(self, function: Callable[..., Any]) -> Any:
        # The first time it is asked (the page is being drawn: Panel's tabs draw the chosen
        # tab before the app hears which page it is) it is drawn.
        if self._drawn and not self._is_open():
            self._missed = True
            raise param.Skip  # Panel keeps what is drawn
        self._drawn, self._missed = True, False
        return super().eval(function)

    def _page_opened(self, event: param.parameterized.Event) -> None:
        if self._missed and self._is_open():
            self.param.trigger("object")


def lazy(method: Callable[..., Any]) -> pn.param.ParamMethod:
    """A pane for a page's view method, evaluated only when its page is open: pages in hidden
    tabs cost nothing, before their first visit and after it (e.g. while runs are ticked on
    the Runs page).

    Examples
    --------
    >>> from reawaken.app.pages import RecoveryPage
    >>> from reawaken.app.state import AppState
    >>> page = RecoveryPage(state=AppState(runs_dir="/nonexistent", page="runs"))
    >>> pane = lazy(page.per_run)
    >>> _ = pane.get_root()  # drawn the first time it is asked, even on a hidden page
    >>> page.state.selected = ["a"]  # hidden: not redrawn ...
    >>> pane._missed, page.state.page
    (True, 'runs')
    >>> page.state.page = "recovery"  # ... until the page is opened
    >>> pane._missed
    False
    """
    return _WhileOpen(method)
