"""The Weights page: the weight trajectory on 2 or 3 principal components (paper Fig. 9).

Points are snapshots, coloured by epoch or by position in the cycle; hovering shows the step,
epoch and trained document. With 3 components the three pairs are drawn side by side.
"""

from __future__ import annotations

from typing import ClassVar

import panel as pn
import param
import xarray as xr
from panel.viewable import Viewer

from reawaken import analysis, plots
from reawaken.app.data import analysed, load_run
from reawaken.app.pages.common import (
    CardCache,
    cards_of_selected_runs,
    figure,
    guarded,
    lazy,
)
from reawaken.app.state import AppState
from reawaken.errors import StoreError

__all__ = ["WeightsPage"]


class WeightsPage(Viewer):
    """PCA of the weight trajectory of the selected runs.

    Examples
    --------
    >>> page = WeightsPage(state=AppState(runs_dir="/nonexistent"))
    >>> page.n_components, page.color_by
    (2, 'epoch')
    """

    #: The page's name in the app's tabs and address (``?page=weights``).
    NAME: ClassVar[str] = "weights"
    state = param.ClassSelector(class_=AppState, doc="the app's shared selection")
    n_components = param.Selector(
        default=2, objects={"2 components": 2, "3 components": 3}, doc="components drawn"
    )
    color_by = param.Selector(
        default="epoch",
        objects={"colour by epoch": "epoch", "colour by position in cycle": "cycle_position"},
        doc="what the colour shows",
    )
    source = param.Selector(
        default="auto",
        objects=["auto", "weight_sketch", "weight"],
        doc="sketch of all weights, or the chosen weights (auto: the sketch if stored)",
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._cards = CardCache()

    def _source(self, ds: xr.Dataset, name: str) -> str:
        if self.source != "auto":
            if self.source not in ds:
                raise StoreError(f"run {name} stores no {self.source!r}; choose another source")
            return str(self.source)
        for candidate in ("weight_sketch", "weight"):
            if candidate in ds:
                return candidate
        raise StoreError(
            f"run {name} has no weight snapshots ('weight_sketch' or 'weight'); make runs with "
            "probes.sketch_size > 0 or probes.weights set"
        )

    def _trajectory(self, name: str, path: str) -> xr.Dataset:
        ds = load_run(self.state.runs_dir, path)
        source = self._source(ds, name)
        if ds.sizes.get("snapshot", 0) < 3:
            raise StoreError(f"run {name} has fewer than 3 snapshots: no trajectory to show")
        return analysed(
            self.state.runs_dir,
            path,
            analysis.weight_trajectory,
            n_components=int(self.n_components),
            source=source,
        )

    def prepare(self, path: str) -> None:
        """Compute (and cache) the trajectory of one run with the current options."""
        self._trajectory(path, path)

    def _run_figures(self, name: str, path: str) -> pn.viewable.Viewable:
        @guarded(f"Run {name}")
        def build() -> pn.viewable.Viewable:
            trajectory = self._trajectory(name, path)
            panels = plots.trajectory_panels(
                trajectory, n_components=int(self.n_components), color_by=self.color_by
            )
            kind = "trajectory_pca" if len(panels) > 1 else "weight_trajectory"
            return figure(panels, export=(kind, f"trajectory_pca{self.n_components}d_{name}"))

        return build()

    @param.depends("state.selected", "state.version", "n_components", "color_by", "source")
    def per_run(self) -> pn.viewable.Viewable:
        """One card per selected run."""
        return cards_of_selected_runs(
            self.state.entries(),
            self._run_figures,
            title=lambda name: f"{name}: weight trajectory",
            cache=self._cards,
            options=(self.n_components, self.color_by, self.source),
        )

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(
            pn.widgets.RadioButtonGroup.from_param(self.param.n_components),
            pn.widgets.RadioButtonGroup.from_param(self.param.color_by),
            pn.widgets.Select.from_param(self.param.source, width=200),
            sizing_mode="stretch_width",
        )
        return pn.Column(controls, lazy(self.per_run), sizing_mode="stretch_width")
