"""The Recovery page: loss curves of chosen documents, aligned curves, scores, heatmap, matrix.

Curves and scores of all selected runs share axes (e.g. one run per model size); the heatmap
and recovery matrix are drawn per run. Every figure comes from ``reawaken.analysis`` through
the app's cache and ``reawaken.plots``.
"""

from __future__ import annotations

import holoviews as hv
import panel as pn
import param
from panel.viewable import Viewer

from reawaken import analysis, plots
from reawaken.app.data import analysed, load_run
from reawaken.app.pages.common import cards_of_selected_runs, figure, guarded, lazy, message
from reawaken.app.state import AppState
from reawaken.errors import ReawakenError

__all__ = ["RecoveryPage"]


class RecoveryPage(Viewer):
    """Forgetting and recovery of the selected runs.

    Examples
    --------
    >>> page = RecoveryPage(state=AppState(runs_dir="/nonexistent"))
    >>> page.matrix_order
    'trained document'
    """

    state = param.ClassSelector(class_=AppState, doc="the app's shared selection")
    ragged = param.Boolean(
        default=False, doc="average aligned curves where only some documents have data"
    )
    matrix_order = param.Selector(
        default="trained document",
        objects=["trained document", "cyclic distance"],
        doc="columns of the recovery matrix",
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.doc_choice = pn.widgets.MultiChoice(
            label="Documents", options=self._doc_options(), value=list(self.state.docs), width=320
        )
        self.doc_choice.link(self.state, value="docs")
        self.state.param.watch(self._update_options, ["selected", "runs"])

    def _doc_options(self) -> list[int]:
        most = max((run.num_docs for run in self.state.entries()), default=0)
        return list(range(most))

    def _update_options(self, event: param.parameterized.Event) -> None:
        self.doc_choice.options = self._doc_options()

    def _loaded(self) -> tuple[dict[str, object], list[pn.viewable.Viewable]]:
        """The selected runs that open, and a message for each that does not."""
        runs, problems = {}, []
        for entry in self.state.entries():
            try:
                runs[entry.name] = load_run(self.state.runs_dir, entry.path)
            except ReawakenError as error:
                problems.append(message(f"**{entry.name}** cannot be shown: {error}"))
        return runs, problems

    @param.depends("state.selected", "state.version", "state.docs")
    @guarded("Document curves")
    def document_curves(self) -> pn.viewable.Viewable:
        """Loss of the chosen documents over all steps, training blocks shaded."""
        runs, problems = self._loaded()
        if not runs:
            return pn.Column(*problems or [message("Select a run on the Runs page.", "info")])
        docs = [d for d in self.state.docs if all(d < ds.sizes["doc"] for ds in runs.values())]
        if not docs:
            return pn.Column(*problems, message("Choose one or more documents above.", "info"))
        losses = {name: ds.loss for name, ds in runs.items()}
        return pn.Column(*problems, figure(plots.document_loss(losses, docs=docs)))

    @param.depends("state.selected", "state.version", "ragged")
    @guarded("Aligned curves")
    def aligned(self) -> pn.viewable.Viewable:
        """Average loss aligned on each document's first training, one line per run."""
        runs, problems = self._loaded()
        results = {
            name: analysed(
                self.state.runs_dir, ds.attrs["path"], analysis.aligned_curves, ragged=self.ragged
            )
            for name, ds in runs.items()
        }
        if not results:
            return pn.Column(*problems)
        return pn.Column(*problems, figure(plots.aligned_curves_plot(results)))

    @param.depends("state.selected", "state.version")
    @guarded("Recovery scores")
    def scores(self) -> pn.viewable.Viewable:
        """The paper's recovery score RS(n) per presentation, one line per run."""
        runs, problems = self._loaded()
        results = {
            name: analysed(self.state.runs_dir, ds.attrs["path"], analysis.paper_recovery_score)
            for name, ds in runs.items()
        }
        if not results:
            return pn.Column(*problems)
        return pn.Column(*problems, figure(plots.recovery_scores(results)))

    def _run_figures(self, name: str, path: str) -> pn.viewable.Viewable:
        """Loss heatmap and recovery matrix of one run, for :func:`cards_of_selected_runs`."""
        ds = load_run(self.state.runs_dir, path)
        by_distance = self.matrix_order == "cyclic distance"
        matrix = analysed(
            self.state.runs_dir, path, analysis.recovery_matrix, by_distance=by_distance
        )
        heat: hv.Element = plots.loss_heatmap(ds.loss)
        return pn.Row(figure(heat), figure(plots.recovery_matrix_plot(matrix)))

    @param.depends("state.selected", "state.version", "matrix_order")
    def per_run(self) -> pn.viewable.Viewable:
        """Loss heatmap and recovery matrix of each selected run."""
        return cards_of_selected_runs(
            self.state.entries(), self._run_figures, "loss heatmap and recovery matrix"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(
            self.doc_choice,
            pn.widgets.Checkbox.from_param(self.param.ragged, label="ragged average"),
            pn.widgets.RadioButtonGroup.from_param(self.param.matrix_order),
            sizing_mode="stretch_width",
        )
        return pn.Column(
            controls,
            pn.Row(lazy(self.document_curves), lazy(self.aligned), sizing_mode="stretch_width"),
            lazy(self.scores),
            lazy(self.per_run),
            sizing_mode="stretch_width",
        )
