"""The Representations page: how similar documents' hidden states are, and how they settle.

Left, document-by-document similarity at a snapshot chosen with the player; right, one
document's similarity to itself across all snapshots (paper Fig. 8d).
"""

from __future__ import annotations

import functools

import panel as pn
import param
from panel.viewable import Viewer

from reawaken import analysis, plots
from reawaken.app.data import analysed, latest_snapshot, load_run, require
from reawaken.app.pages.common import (
    cards_of_selected_runs,
    figure,
    lazy,
    message,
)
from reawaken.app.state import AppState
from reawaken.errors import ReawakenError
from reawaken.plots.style import steps_per_epoch

__all__ = ["RepresentationsPage"]

_HINT = (
    "make runs with activation snapshots (probes.snapshot_every=doc and "
    "probes.activation_layers set, as in the default preset)"
)


class RepresentationsPage(Viewer):
    """Representation similarity of the selected runs.

    Examples
    --------
    >>> page = RepresentationsPage(state=AppState(runs_dir="/nonexistent"))
    >>> page.method
    'cosine'
    """

    state = param.ClassSelector(class_=AppState, doc="the app's shared selection")
    method = param.Selector(default="cosine", objects=["cosine", "cka"], doc="similarity measure")

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.player = pn.widgets.Player(
            label="Snapshot",
            start=0,
            end=1,
            value=0,
            interval=500,
            loop_policy="once",
            show_value=True,
            width=420,
        )
        self.doc_choice = pn.widgets.IntInput(
            label="Document over snapshots", value=0, start=0, width=160
        )
        self._sync_player()
        self.player.link(self.state, value="snapshot")
        self.doc_choice.link(self.state, value="doc")
        self.state.param.watch(self._update_widgets, ["selected", "runs"])

    def _snapshot_count(self) -> int:
        counts = [0]
        for entry in self.state.entries():
            try:
                counts.append(load_run(self.state.runs_dir, entry.path).sizes.get("snapshot", 0))
            except ReawakenError:
                continue  # the run's card says what is wrong with it
        return max(counts)

    def _update_widgets(self, event: param.parameterized.Event) -> None:
        self._sync_player()

    def _sync_player(self) -> None:
        """Fit the player to the selected runs' snapshots; stay on the latest if it was there."""
        end = max(self._snapshot_count() - 1, 0)
        latest = self.state.snapshot < 0 or self.player.value >= self.player.end
        value = end if latest else min(self.player.value, end)
        # Without events: this only shows where the player stands, it asks for no new plot.
        with param.parameterized.discard_events(self.state):
            self.player.param.update(end=max(end, 1), value=value)

    def _run_figures(self, name: str, path: str) -> pn.viewable.Viewable:
        """The representation similarity of one run (a card of :func:`cards_of_selected_runs`)."""
        ds = load_run(self.state.runs_dir, path)
        require(ds, "activation", "representation views", _HINT)
        last = latest_snapshot(ds)
        if last < 0:
            return message("No snapshot written yet; this page fills in as the run goes.", "info")
        snapshot = last if self.state.snapshot < 0 else min(self.state.snapshot, last)
        similarity = functools.partial(
            analysed,
            self.state.runs_dir,
            path,
            analysis.representation_similarity,
            method=self.method,
        )
        between = similarity(snapshot=snapshot)
        over_time = similarity(doc=min(self.state.doc, ds.sizes["doc"] - 1))
        left = plots.document_similarity(between, method=self.method)
        right = plots.snapshot_similarity(
            over_time, steps_per_epoch=steps_per_epoch(ds), method=self.method
        )
        return pn.Row(figure(left), figure(right))

    @param.depends("state.selected", "state.version", "state.snapshot", "state.doc", "method")
    def per_run(self) -> pn.viewable.Viewable:
        """One card per selected run."""
        return cards_of_selected_runs(
            self.state.entries(), self._run_figures, "representation similarity"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(
            self.player,
            self.doc_choice,
            pn.widgets.RadioButtonGroup.from_param(self.param.method),
            sizing_mode="stretch_width",
        )
        return pn.Column(controls, lazy(self.per_run), sizing_mode="stretch_width")
