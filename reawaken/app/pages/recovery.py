"""The Recovery page: loss curves of chosen documents, aligned curves, scores, heatmap, matrix.

Curves and scores of all selected runs share axes (e.g. one run per model size); the heatmap
and recovery matrix are drawn per run. Every figure comes from ``reawaken.analysis`` through
the app's cache and ``reawaken.plots``.
"""

from __future__ import annotations

from typing import ClassVar

import holoviews as hv
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
    message,
)
from reawaken.app.state import AppState
from reawaken.errors import ReawakenError

__all__ = ["RecoveryPage"]


def _with(
    problems: list[pn.viewable.Viewable], shown: pn.viewable.Viewable
) -> pn.viewable.Viewable:
    """``shown`` below the messages about runs that cannot open (no extra layout if none):
    every nested layout is one more box the browser sizes when the page is drawn."""
    return pn.Column(*problems, shown) if problems else shown


class RecoveryPage(Viewer):
    """Forgetting and recovery of the selected runs.

    Examples
    --------
    >>> page = RecoveryPage(state=AppState(runs_dir="/nonexistent"))
    >>> page.matrix_order
    'trained document'
    """

    #: The page's name in the app's tabs and address (``?page=recovery``).
    NAME: ClassVar[str] = "recovery"
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
        self._cards = CardCache()
        self.state.param.watch(self._update_options, ["selected", "runs"])

    def _doc_options(self) -> list[int]:
        most = max((run.num_docs for run in self.state.entries()), default=0)
        return list(range(most))

    def _update_options(self, event: param.parameterized.Event) -> None:
        self.doc_choice.options = self._doc_options()

    def prepare(self, path: str) -> None:
        """Compute (and cache) what this page shows of one run with its current options.

        The app calls it for every run in the background when it starts, so a page that
        shows many runs finds their results ready.
        """
        load_run(self.state.runs_dir, path)
        by_distance = self.matrix_order == "cyclic distance"
        analysed(self.state.runs_dir, path, analysis.aligned_curves, ragged=self.ragged)
        analysed(self.state.runs_dir, path, analysis.paper_recovery_score)
        analysed(self.state.runs_dir, path, analysis.prequential_loss)
        analysed(self.state.runs_dir, path, analysis.recovery_matrix, by_distance=by_distance)

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
        overlay = plots.document_loss(losses, docs=docs, colors=self.state.colors_of(list(runs)))
        stem = "recovery_doc" + "_".join(str(d) for d in docs)
        return _with(problems, figure(overlay, export=("recovery_doc", stem)))

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
        overlay = plots.aligned_curves_plot(results, colors=self.state.colors_of(list(results)))
        return _with(problems, figure(overlay, export=("aligned_curves", "aligned_curves")))

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
        overlay = plots.recovery_scores(results, colors=self.state.colors_of(list(results)))
        return _with(problems, figure(overlay, export=("recovery_scores", "recovery_scores")))

    @param.depends("state.selected", "state.version")
    @guarded("Online loss")
    def online(self) -> pn.viewable.Viewable:
        """The loss of the document about to be trained, per episode (paper Fig. 1c)."""
        runs, _ = self._loaded()  # the scores beside it already say which runs cannot open
        results = {
            name: analysed(self.state.runs_dir, ds.attrs["path"], analysis.prequential_loss)
            for name, ds in runs.items()
        }
        if not results:
            return pn.Column()
        overlay = plots.online_loss(results, colors=self.state.colors_of(list(results)))
        return figure(overlay, export=("online_loss", "online_loss"))

    def _matrices(self) -> dict[str, object]:
        """Each selected run's recovery matrix, or the error that stops it."""
        by_distance = self.matrix_order == "cyclic distance"
        matrices: dict[str, object] = {}
        for entry in self.state.entries():
            try:
                matrices[entry.name] = analysed(
                    self.state.runs_dir,
                    entry.path,
                    analysis.recovery_matrix,
                    by_distance=by_distance,
                )
            except ReawakenError as error:
                matrices[entry.name] = error
        return matrices

    def _run_figures(
        self, name: str, path: str, matrix: object, limit: float
    ) -> pn.viewable.Viewable:
        @guarded(f"Run {name}")
        def build() -> pn.viewable.Viewable:
            if isinstance(matrix, Exception):
                raise matrix
            ds = load_run(self.state.runs_dir, path)
            heat: hv.Element = plots.loss_heatmap(ds.loss)
            stem = "recovery_matrix" + ("_by_distance" if "distance" in matrix.dims else "")
            row = pn.Row(
                figure(heat, export=("loss_heatmap", f"loss_heatmap_{name}")),
                figure(
                    plots.recovery_matrix_plot(matrix, limit=limit),
                    export=("recovery_matrix", f"{stem}_{name}"),
                ),
            )
            if "pairwise_loss_change" in ds:  # added by `reawaken pairwise` (Fig. 8b, 23)
                pairwise = analysed(self.state.runs_dir, path, analysis.pairwise_recovery)
                row.append(
                    figure(
                        plots.recovery_matrix_plot(pairwise),
                        export=("recovery_matrix", f"pairwise_recovery_{name}"),
                    )
                )
            return row

        return build()

    @param.depends("state.selected", "state.version", "matrix_order")
    def per_run(self) -> pn.viewable.Viewable:
        """Loss heatmap and recovery matrix of each selected run, matrices on one colour scale."""
        matrices = self._matrices()
        limit = plots.symmetric_limit(
            *(m for m in matrices.values() if not isinstance(m, Exception))
        )
        return cards_of_selected_runs(
            self.state.entries(),
            lambda name, path: self._run_figures(name, path, matrices[name], limit),
            title=lambda name: f"{name}: loss heatmap and recovery matrix",
            cache=self._cards,
            options=(self.matrix_order, limit),
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
            pn.Row(lazy(self.scores), lazy(self.online), sizing_mode="stretch_width"),
            lazy(self.per_run),
            sizing_mode="stretch_width",
        )
