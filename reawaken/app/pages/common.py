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

from reawaken.errors import ReawakenError
from reawaken.plots.export import figure_bytes, paper_figure
from reawaken.plots.large import for_browser
from reawaken.plots.style import for_screen

__all__ = ["PLOT_HEIGHT", "figure", "guarded", "lazy", "message", "run_card"]

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
    """A HoloViews pane rendered with Bokeh, reduced first if it holds too many points.

    With ``export=(kind, stem)`` a button under the plot downloads it as ``<stem>.png``, drawn
    for print exactly as ``reawaken figures`` draws a figure of that kind
    (:func:`reawaken.plots.export.paper_figure`). Side-by-side panels keep their own size, so
    their toolbar stays next to them.
    """
    panels = isinstance(obj, hv.Layout)
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
        button_type="light",
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


def run_card(title: str, *objects: Any) -> pn.Card:
    """A collapsible card holding one run's figures."""
    return pn.Card(
        *objects, title=title, sizing_mode="stretch_width", collapsible=True, margin=(5, 5)
    )


def cards_of_selected_runs(
    entries: list[Any], build: Callable[[str, Path], pn.viewable.Viewable]
) -> pn.viewable.Viewable:
    """One card per selected run (``build(name, path)``), or a hint when none is selected."""
    if not entries:
        return message("Select a run on the Runs page.", "info")
    return pn.Column(*(build(e.name, e.path) for e in entries), sizing_mode="stretch_width")


def lazy(method: Callable[..., Any]) -> pn.param.ParamMethod:
    """A pane for a view method, evaluated only when shown (pages in hidden tabs cost nothing)."""
    return pn.param.ParamMethod(method, lazy=True, sizing_mode="stretch_width")
