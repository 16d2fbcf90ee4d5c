"""The app's frame: a template with one tab per page, the shared state, and live refresh.

``App(runs_dir)`` is what ``apps/main.py`` serves. The active tab is kept in the URL
(``?page=recovery``) so a page can be linked to. A periodic callback re-lists the runs folder,
so running runs advance without reloading the page.
"""

from __future__ import annotations

import os
from pathlib import Path

import panel as pn
import param
from panel.viewable import Viewer

from reawaken.app.data import runs_folder
from reawaken.app.pages import RecoveryPage, RepresentationsPage, RunsPage, WeightsPage
from reawaken.app.state import AppState

__all__ = ["PAGES", "REFRESH_ENV", "App", "runs_folder"]

PAGES = ("runs", "recovery", "representations", "weights")
REFRESH_ENV = "REAWAKEN_REFRESH_S"


class App(Viewer):
    """The whole app for one browser session.

    Examples
    --------
    >>> app = App(runs_dir="/nonexistent")
    >>> app.tabs._names, app.page
    (['Runs', 'Recovery', 'Representations', 'Weights'], 'runs')
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
        self.pages = {
            "runs": RunsPage(state=self.state),
            "recovery": RecoveryPage(state=self.state),
            "representations": RepresentationsPage(state=self.state),
            "weights": WeightsPage(state=self.state),
        }
        self.tabs = pn.Tabs(
            *((name.capitalize(), page) for name, page in self.pages.items()),
            dynamic=True,
            sizing_mode="stretch_width",
        )
        self.tabs.active = PAGES.index(self.page)
        self.tabs.param.watch(lambda event: setattr(self, "page", PAGES[event.new]), "active")
        self.param.watch(lambda event: setattr(self.tabs, "active", PAGES.index(event.new)), "page")

    def start(self) -> None:
        """In a served session: keep the page in the URL and refresh periodically."""
        if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
            return
        if pn.state.location is not None:
            pn.state.location.sync(self, {"page": "page"})
        pn.state.add_periodic_callback(self.state.refresh, period=int(self.refresh_seconds * 1000))

    def __panel__(self) -> pn.viewable.Viewable:
        return self.tabs

    def template(self) -> pn.template.BaseTemplate:
        """The app in Panel's template, ready to ``.servable()``."""
        self.start()
        header = (
            "Anticipatory recovery in cyclic fine-tuning "
            "([Yang et al. 2024](https://arxiv.org/abs/2403.09613))"
        )
        # Bootstrap needs no web fonts: the app works on machines without internet access.
        return pn.template.BootstrapTemplate(
            title="reawaken", main=[pn.pane.Markdown(header), self.tabs], collapsed_sidebar=True
        )
