"""The app's frame: a title bar, one tab per page, the shared state, and live refresh.

``App(runs_dir)`` is what ``apps/main.py`` serves. The active tab is kept in the URL
(``?page=recovery``) so a page can be linked to. A periodic callback re-lists the runs folder,
so running runs advance without reloading the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import panel as pn
import param
from panel.io.callbacks import PeriodicCallback
from panel.viewable import Viewer

from reawaken.app.data import runs_folder
from reawaken.app.pages import (
    MechanismPage,
    RecoveryPage,
    RepresentationsPage,
    RunsPage,
    SweepPage,
    WeightsPage,
)
from reawaken.app.state import AppState

__all__ = ["PAGES", "REFRESH_ENV", "App", "busy_indicator", "runs_folder"]

logger = logging.getLogger(__name__)
PAGE_TYPES = (RunsPage, RecoveryPage, RepresentationsPage, WeightsPage, MechanismPage, SweepPage)
#: The tabs, in order; ``?page=`` in the address opens one.
PAGES = tuple(page_type.NAME for page_type in PAGE_TYPES)
REFRESH_ENV = "REAWAKEN_REFRESH_S"
TITLE_BAR_COLOR = "#0072b5"
#: The busy indicator turns at least this long, so a short job is still seen (Panel: 500 ms).
BUSY_AT_LEAST_MS = 100
#: One warm-up at a time per server: a second session finds the results cached.
_WARMING = threading.Lock()
#: The folder's fingerprint at the end of its last warm-up: unchanged folders are not re-walked.
_WARMED: dict[str, tuple[tuple[str, int], ...]] = {}


def _closed_socket(context: dict[str, Any]) -> bool:
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    return isinstance(context.get("exception"), WebSocketClosedError | StreamClosedError)


def retrieve_closed_socket_writes(loop: asyncio.AbstractEventLoop) -> None:
    """Log, without a traceback, writes to a browser tab that was closed meanwhile.

    A plot update (e.g. from the snapshot player) that was being sent when its tab closed
    fails with ``WebSocketClosedError`` in a write task that Panel no longer awaits once the
    session is gone; asyncio then prints "Task exception was never retrieved" with two
    tracebacks. Nothing is wrong: the reader left. Other errors keep the default handler.
    """
    if getattr(loop, "_reawaken_handler", False):
        return
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if _closed_socket(context):
            logger.info("an update was not sent: its browser tab had closed")
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    loop._reawaken_handler = True  # type: ignore[attr-defined]


def _when_shown(page: Viewer) -> pn.param.ParamFunction:
    """``page``'s layout, made the first time it is drawn (no parameters: never remade)."""
    return pn.param.ParamFunction(lambda: page.__panel__(), lazy=True, sizing_mode="stretch_width")


class App(Viewer):
    """The whole app for one browser session.

    Examples
    --------
    >>> app = App(runs_dir="/nonexistent")
    >>> app.tabs._names, app.page
    (['Runs', 'Recovery', 'Representations', 'Weights', 'Mechanism', 'Sweep'], 'runs')
    >>> app.page = "weights"
    >>> app.tabs.active
    3
    """

    runs_dir = param.String(doc="folder of run stores")
    refresh_seconds = param.Number(
        default=float(os.environ.get(REFRESH_ENV, "5")),
        bounds=(0.2, None),
        doc="how often the runs folder is re-read",
    )
    page = param.Selector(default="runs", objects=list(PAGES), doc="the open page")

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.state = AppState(runs_dir=str(Path(self.runs_dir).resolve()))
        self.pages = {page_type.NAME: page_type(state=self.state) for page_type in PAGE_TYPES}
        # Each page's layout is made when its tab is first shown, then kept: a session that
        # opens one page does not build the widgets of the other five.
        self.tabs = pn.Tabs(
            *((name.capitalize(), _when_shown(page)) for name, page in self.pages.items()),
            dynamic=True,
            sizing_mode="stretch_width",
        )
        self.tabs.active = PAGES.index(self.page)
        self.state.page = self.page  # pages in hidden tabs wait until they are opened
        self.tabs.param.watch(lambda event: setattr(self, "page", PAGES[event.new]), "active")
        self.param.watch(self._opened, "page")

    def _opened(self, event: param.parameterized.Event) -> None:
        self.tabs.active = PAGES.index(event.new)
        self.state.page = event.new

    def warm(self) -> None:
        """Compute every readable run's results for the pages' current options, run by run.

        Started in a background thread by :meth:`template` (``panel serve --warm`` builds one
        before the first visitor), so the first look at a page with many runs
        finds their analyses cached (``pn.cache``, shared by all sessions); cheap when they
        already are. A run that cannot be read is skipped: its page says why.
        """
        if not _WARMING.acquire(blocking=False):
            return
        try:
            seen = self.state.fingerprint()
            if _WARMED.get(self.runs_dir) == seen:
                return
            entries = [run for run in self.state.runs if run.readable]
            for name in ("recovery", "weights", "representations"):
                for entry in entries:
                    try:
                        self.pages[name].prepare(entry.path)
                    except Exception as error:  # shown (or not needed) when the page is drawn
                        logger.debug("warming %s for %s: %s", name, entry.name, error)
            with contextlib.suppress(Exception):
                self.pages["sweep"].prepare()
            _WARMED[self.runs_dir] = seen
        finally:
            _WARMING.release()

    def start(self) -> None:
        """In a served session: keep the page in the URL and refresh periodically."""
        if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
            return
        # Without a running loop in this thread, nothing here writes to sockets.
        with contextlib.suppress(RuntimeError):
            retrieve_closed_socket_writes(asyncio.get_running_loop())
        self._follow_url()
        # In the background: the check is a few file stats and must not spin the busy
        # indicator every few seconds; plots that change after it show it as usual.
        refresh = PeriodicCallback(
            callback=self.state.refresh, period=int(self.refresh_seconds * 1000), background=True
        )
        refresh.start()

    def _follow_url(self) -> None:
        """Open the page named in the URL (``?page=``); keep the URL on the open tab.

        The browser rewrites its own address when a tab is chosen: Panel's ``Location``
        sync would send the address back to the server, and its busy indicator would
        then spin for half a second after every tab switch, with nothing to do.
        """
        asked = pn.state.session_args.get("page", [b""])[0].decode(errors="replace")
        if asked in PAGES:
            self.page = asked
        self.tabs.jscallback(
            active="""
            const url = new URL(window.location.href);
            url.searchParams.set("page", pages[cb_obj.active]);
            window.history.replaceState(window.history.state, "", url);
            """,
            args={"pages": list(PAGES)},
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self.tabs

    def servable_page(self) -> pn.viewable.Viewable:
        """The whole browser page, ready to ``.servable()``; starts warming the caches.

        A title bar with the busy indicator, the paper's reference, then the tabs. No Panel
        template: the Bootstrap one gives every component Bootstrap's style sheets, and the
        browser then spent ~0.2 s more laying out a page of eight plots (`bench_app.py`).
        ``panel serve --warm`` builds it once before the first visitor: the warm-up starts then.
        """
        self.start()
        threading.Thread(target=self.warm, name="reawaken-warm", daemon=True).start()
        bar = pn.Row(
            pn.pane.HTML(
                '<span style="font-size: 1.5em; color: white">reawaken</span>',
                margin=(8, 16),
            ),
            pn.layout.HSpacer(),
            busy_indicator(),
            styles={"background": TITLE_BAR_COLOR},
            sizing_mode="stretch_width",
            margin=0,
        )
        reference = (
            "Anticipatory recovery in cyclic fine-tuning "
            "([Yang et al. 2024](https://arxiv.org/abs/2403.09613))"
        )
        return pn.Column(
            bar, pn.pane.Markdown(reference), self.tabs, sizing_mode="stretch_width", margin=0
        )


def busy_indicator() -> pn.indicators.LoadingSpinner:
    """A spinner that turns while the server works (Panel's busy state is the server's).

    One per browser tab, unlinked when the tab closes: Panel clears the watchers of every
    object shown in a closed tab, so a spinner shared by all tabs would stop turning after
    the first one closed.
    """
    # Panel keeps a spinner turning for at least 0.5 s: after the 5 ms the server takes to
    # note the browser's details on a page load, it turned for half a second with nothing to do.
    spinner = pn.indicators.LoadingSpinner(
        value=pn.state.busy, width=24, height=24, margin=(10, 16), throttle=BUSY_AT_LEAST_MS
    )
    watcher = pn.state.param.watch(lambda event: setattr(spinner, "value", event.new), "busy")
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        doc.on_session_destroyed(lambda context: pn.state.param.unwatch(watcher))
    return spinner
