"""What every page shares: showing a figure, showing a problem instead of a figure, run cards.

:func:`guarded` turns an expected problem (a damaged store, a run without snapshots, a bad
choice) into a message in the page, so one bad run never breaks the rest of the app.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

import holoviews as hv
import panel as pn

from reawaken.errors import ReawakenError
from reawaken.plots.large import for_browser
from reawaken.plots.style import for_screen

__all__ = ["PLOT_HEIGHT", "figure", "guarded", "lazy", "message", "run_card"]

logger = logging.getLogger(__name__)
P = ParamSpec("P")
PLOT_HEIGHT = 340


def message(text: str, kind: str = "warning") -> pn.pane.Alert:
    """A coloured box with ``text``; ``kind`` is ``warning``, ``danger`` or ``info``."""
    return pn.pane.Alert(text, alert_type=kind, sizing_mode="stretch_width")


def figure(obj: hv.core.Dimensioned, *, height: int = PLOT_HEIGHT) -> pn.pane.HoloViews:
    """A HoloViews pane rendered with Bokeh, reduced first if it holds too many points."""
    return pn.pane.HoloViews(
        for_screen(for_browser(obj), height=height),
        backend="bokeh",
        sizing_mode="stretch_width",
        min_height=height,
        linked_axes=False,
    )


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
    entries: list[Any], build: Callable[[str, Path], pn.viewable.Viewable], title: str
) -> pn.viewable.Viewable:
    """One card per selected run, titled "NAME: ``title``", holding ``build(name, path)``.

    A problem with one run (see :func:`guarded`) becomes a message in its card; without a
    selection the page shows a hint instead.
    """
    if not entries:
        return message("Select a run on the Runs page.", "info")
    cards = (
        run_card(f"{e.name}: {title}", guarded(f"Run {e.name}")(build)(e.name, e.path))
        for e in entries
    )
    return pn.Column(*cards, sizing_mode="stretch_width")


def lazy(method: Callable[..., Any]) -> pn.param.ParamMethod:
    """A pane for a view method, evaluated only when shown (pages in hidden tabs cost nothing)."""
    return pn.param.ParamMethod(method, lazy=True, sizing_mode="stretch_width")
