"""The Mechanism page: gradient similarity (Fig. 8a), weight residuals (8c), update sizes (22).

Each view is drawn from probes the run stored (``grad_sketch``; ``weight_sketch`` or
``weight``; ``activation``); a view whose probe is missing says which key stores it.
"""

from __future__ import annotations

from typing import ClassVar

import panel as pn
import param
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
from reawaken.plots.style import steps_per_epoch

__all__ = ["MechanismPage"]


class MechanismPage(Viewer):
    """Mechanism views of the selected runs.

    Examples
    --------
    >>> page = MechanismPage(state=AppState(runs_dir="/nonexistent"))
    >>> page.doc_choice.value
    0
    """

    #: The page's name in the app's tabs and address (``?page=mechanism``).
    NAME: ClassVar[str] = "mechanism"
    state = param.ClassSelector(class_=AppState, doc="the app's shared selection")

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.doc_choice = pn.widgets.IntInput(
            label="Document (activation updates)", value=0, start=0, width=200
        )
        self.doc_choice.link(self.state, value="doc")
        self._cards = CardCache()

    def _run_figures(self, name: str, path: str) -> pn.viewable.Viewable:
        runs_dir = self.state.runs_dir

        @guarded(f"Run {name}: gradient similarity")
        def gradients() -> pn.viewable.Viewable:
            similarity = analysed(runs_dir, path, analysis.gradient_similarity)
            return figure(
                plots.document_similarity(similarity, method="gradient cosine"),
                export=("gradient_similarity", f"gradient_similarity_{name}"),
            )

        @guarded(f"Run {name}: weight residuals")
        def residuals() -> pn.viewable.Viewable:
            ds = load_run(runs_dir, path)
            source = _weight_source(ds, name)
            similarity = analysed(
                runs_dir, path, analysis.weight_residual_similarity, source=source
            )
            return figure(
                plots.weight_residual_similarity_plot(
                    similarity, steps_per_epoch=steps_per_epoch(ds)
                ),
                export=("weight_residual_similarity", f"weight_residual_similarity_{name}"),
            )

        @guarded(f"Run {name}: update magnitudes")
        def magnitudes() -> pn.viewable.Viewable:
            ds = load_run(runs_dir, path)
            doc = min(self.state.doc, ds.sizes["doc"] - 1)
            source = next((s for s in ("weight_sketch", "weight") if s in ds), "weight_sketch")
            moves = analysed(runs_dir, path, analysis.update_magnitudes, doc=doc, source=source)
            return figure(
                plots.update_magnitudes_plot(moves, steps_per_epoch=steps_per_epoch(ds)),
                export=("update_magnitudes", f"update_magnitudes_doc{doc}_{name}"),
            )

        return pn.Column(pn.Row(gradients(), residuals()), magnitudes())

    @param.depends("state.selected", "state.version", "state.doc")
    def per_run(self) -> pn.viewable.Viewable:
        """One card per selected run."""
        return cards_of_selected_runs(
            self.state.entries(),
            self._run_figures,
            title=lambda name: f"{name}: mechanism",
            cache=self._cards,
            options=(self.state.doc,),
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.doc_choice, lazy(self.per_run), sizing_mode="stretch_width")


def _weight_source(ds: object, name: str) -> str:
    for candidate in ("weight_sketch", "weight"):
        if candidate in ds:  # type: ignore[operator]
            return candidate
    raise StoreError(
        f"run {name} has no weight snapshots ('weight_sketch' or 'weight'); make runs with "
        "probes.sketch_size > 0 or probes.weights set"
    )
