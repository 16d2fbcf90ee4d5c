"""The Representations page: how similar documents' hidden states are, and how they settle.

Left, document-by-document similarity at a snapshot chosen with the player; right, one
document's similarity to itself across all snapshots (paper Fig. 8d); below, the documents in
the plane of their top two principal components at that snapshot (paper Fig. 11).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import panel as pn
import param
import xarray as xr
from panel.viewable import Viewer

from reawaken import analysis, plots
from reawaken.app.data import analysed, latest_snapshot, load_run, require
from reawaken.app.pages.common import (
    CardCache,
    cards_of_selected_runs,
    figure,
    guarded,
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

    #: The page's name in the app's tabs and address (``?page=representations``).
    NAME: ClassVar[str] = "representations"
    state = param.ClassSelector(class_=AppState, doc="the app's shared selection")
    method = param.Selector(default="cosine", objects=["cosine", "cka"], doc="similarity measure")

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        # The player steps through the snapshots by the step they were taken after, so its
        # label and the plots' titles name the same step, also while a run is written.
        self.player = pn.widgets.DiscretePlayer(
            label="Snapshot after step",
            options=[0],
            value=0,
            interval=700,
            loop_policy="once",
            show_value=True,
            width=520,
            # Room for the loop-policy radio buttons under the player's buttons.
            height=115,
            margin=(5, 10),
        )
        self.doc_choice = pn.widgets.IntInput(
            label="Document over snapshots", value=0, start=0, width=180
        )
        self._cards = CardCache()
        self._sync_player()
        self.player.param.watch(self._on_player, "value")
        self.doc_choice.link(self.state, value="doc")
        self.state.param.watch(self._update_widgets, ["selected", "runs"])

    def _snapshot_steps(self) -> list[int]:
        """Steps of the snapshots written so far in any selected run, in order."""
        steps: set[int] = set()
        for entry in self.state.entries():
            try:
                ds = load_run(self.state.runs_dir, entry.path)
            except ReawakenError:
                continue  # the run's card says what is wrong with it
            if "snapshot_step" in ds.coords:
                written = ds["snapshot_step"].values[: latest_snapshot(ds) + 1]
                steps.update(int(step) for step in written)
        return sorted(steps)

    def _on_player(self, event: param.parameterized.Event) -> None:
        options = self.player.options
        latest = bool(options) and event.new == options[-1]
        self.state.snapshot_step = -1 if latest else int(event.new)

    def _update_widgets(self, event: param.parameterized.Event) -> None:
        self._sync_player()

    def _sync_player(self) -> None:
        """Fit the player to the selected runs' snapshots; stay on the latest if it was there."""
        steps = self._snapshot_steps() or [0]
        chosen = self.state.snapshot_step
        value = steps[-1] if chosen < 0 else max((s for s in steps if s <= chosen), default=0)
        # Without events: this only shows where the player stands, it asks for no new plot.
        with param.parameterized.discard_events(self.player):
            self.player.param.update(options=steps, value=value)

    def _snapshot_of(self, ds: xr.Dataset) -> int:
        """The run's last written snapshot at or before the chosen step (-1 if none)."""
        last = latest_snapshot(ds)
        if self.state.snapshot_step < 0 or last < 0:
            return last
        steps = ds["snapshot_step"].values[: last + 1]
        return max(int((steps <= self.state.snapshot_step).sum()) - 1, 0)

    def _results(self, path: str) -> tuple[Any, ...] | None:
        """The run, its chosen snapshot and document, and their three analyses (None: no
        snapshot written yet)."""
        ds = load_run(self.state.runs_dir, path)
        require(ds, "activation", "representation views", _HINT)
        snapshot = self._snapshot_of(ds)
        if snapshot < 0:
            return None
        similarity = functools.partial(
            analysed,
            self.state.runs_dir,
            path,
            analysis.representation_similarity,
            method=self.method,
        )
        doc = min(self.state.doc, ds.sizes["doc"] - 1)
        between = similarity(snapshot=snapshot)
        over_time = similarity(doc=doc)
        pca = analysed(self.state.runs_dir, path, analysis.representation_pca)
        return ds, snapshot, doc, between, over_time, pca

    def prepare(self, path: str) -> None:
        """Compute (and cache) what this page shows of one run with its current options."""
        self._results(path)

    def _run_figures(self, name: str, path: str) -> pn.viewable.Viewable:
        @guarded(f"Run {name}")
        def build() -> pn.viewable.Viewable:
            results = self._results(path)
            if results is None:
                return message(
                    "No snapshot written yet; this page fills in as the run goes.", "info"
                )
            ds, snapshot, doc, between, over_time, pca = results
            left = plots.document_similarity(between, method=self.method)
            right = plots.snapshot_similarity(
                over_time,
                steps_per_epoch=steps_per_epoch(ds),
                method=self.method,
                mark_step=int(ds["snapshot_step"].values[snapshot]),
            )
            points = plots.document_points(pca.isel(snapshot=snapshot))
            return pn.Column(
                pn.Row(
                    figure(left, export=("similarity", f"similarity_docs_{name}")),
                    figure(right, export=("similarity", f"similarity_doc{doc}_snapshots_{name}")),
                ),
                figure(points, export=("similarity", f"points_pca_{name}")),
            )

        return build()

    @param.depends("state.selected", "state.version", "state.snapshot_step", "state.doc", "method")
    def per_run(self) -> pn.viewable.Viewable:
        """One card per selected run."""
        return cards_of_selected_runs(
            self.state.entries(),
            self._run_figures,
            title=lambda name: f"{name}: representation similarity",
            cache=self._cards,
            options=(self.state.snapshot_step, self.state.doc, self.method),
        )

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.WidgetBox(
            pn.Row(
                self.player,
                self.doc_choice,
                pn.widgets.RadioButtonGroup.from_param(self.param.method, width=200),
            ),
            sizing_mode="stretch_width",
            css_classes=["reawaken-controls"],
        )
        return pn.Column(controls, lazy(self.per_run), sizing_mode="stretch_width")
