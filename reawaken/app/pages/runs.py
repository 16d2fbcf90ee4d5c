"""The Runs page: a selectable table of the runs in the folder, with live progress and scores.

Selecting rows sets the runs the other pages show. The table is rebuilt whenever the shared
state re-lists the folder, so a running run's progress bar advances by itself.
"""

from __future__ import annotations

import math
from typing import ClassVar

import pandas as pd
import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter
from panel.viewable import Viewer

from reawaken.app.data import run_scores
from reawaken.app.state import AppState

__all__ = ["RunsPage"]

COLUMNS = {
    "name": "run",
    "status": "status",
    "progress": "progress (%)",
    # Next to the run, not at the far end: the last column stretches to the table's width.
    "RS": "RS",  # the paper's recovery score at the last epoch (summary's HEADLINE)
    "model": "model",
    "order": "order",  # cyclic, shuffled, ...
    "T": "T",  # documents in the cycle
    "M": "M",  # gradient steps per document
    "E": "E",  # epochs
    "optimizer": "optimiser",
    "message": "problem",
}
#: Columns of numbers: right-aligned, header and values alike.
NUMBERS = ("progress", "T", "M", "E", "RS")
WIDTHS = {"name": 180, "status": 100, "progress": 130, "order": 90, "optimizer": 100, "RS": 80}
WIDTHS |= {"T": 60, "M": 60, "E": 60}


def runs_frame(state: AppState) -> pd.DataFrame:
    """The table's rows: one per run in ``state.runs``.

    Examples
    --------
    >>> runs_frame(AppState(runs_dir="/nonexistent")).columns.tolist()[:3]
    ['name', 'status', 'progress']
    """
    rows = []
    scores = run_scores(state.runs_dir, state.runs)
    for run in state.runs:
        score, problem = scores.get(run.path, (math.nan, run.error))
        status = "damaged" if problem and run.readable else run.status
        rows.append(
            {
                "name": run.name,
                "status": status,
                "progress": round(run.progress, 1),
                "model": run.model,
                "order": run.order,
                # Blank rather than 0 where the store could not be read.
                "T": run.num_docs or "",
                "M": run.steps_per_doc or "",
                "E": run.num_epochs or "",
                "optimizer": run.optimizer,
                "RS": score,
                "message": problem,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


class RunsPage(Viewer):
    """The runs folder as a table; the checked rows are the runs shown on the other pages.

    Examples
    --------
    >>> page = RunsPage(state=AppState(runs_dir="/nonexistent"))
    >>> len(page.table.value)
    0
    """

    #: The page's name in the app's tabs and address (``?page=runs``).
    NAME: ClassVar[str] = "runs"
    state = param.ClassSelector(class_=AppState, doc="the app's shared selection")

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        frame = runs_frame(self.state)
        self.table = pn.widgets.Tabulator(
            frame,
            selectable="checkbox",
            disabled=True,
            show_index=False,
            titles=COLUMNS,
            formatters={
                "progress": {
                    "type": "progress",
                    "max": 100,
                    "legend": True,
                    "legendAlign": "right",
                },
                "RS": NumberFormatter(format="0.000", nan_format="–"),
                "message": {"type": "textarea"},
            },
            text_align=dict.fromkeys(NUMBERS, "right"),
            header_align=dict.fromkeys(NUMBERS, "right"),
            # The last column stretches to the table's width: no empty filler column.
            layout="fit_data_stretch",
            # No sort arrows: they push the headers of numbers off their values.
            sortable=False,
            widths=WIDTHS,
            hidden_columns=self._hidden(frame),
            sizing_mode="stretch_width",
        )
        self._sync_selection()
        self.table.param.watch(self._on_select, "selection")
        self.state.param.watch(self._on_runs, "runs")

    def _sync_selection(self) -> None:
        names = self.table.value["name"].tolist()
        self.table.selection = [names.index(n) for n in self.state.selected if n in names]

    def _on_select(self, event: param.parameterized.Event) -> None:
        names = self.table.value["name"].tolist()
        chosen = [names[i] for i in sorted(event.new) if i < len(names)]
        if chosen != self.state.selected:
            self.state.selected = chosen

    @staticmethod
    def _hidden(frame: pd.DataFrame) -> list[str]:
        """Hide the problem column while no run has a problem."""
        return [] if frame["message"].astype(bool).any() else ["message"]

    def _on_runs(self, event: param.parameterized.Event) -> None:
        frame = runs_frame(self.state)
        self.table.hidden_columns = self._hidden(frame)
        self.table.value = frame
        self._sync_selection()

    def __panel__(self) -> pn.viewable.Viewable:
        folder = pn.pane.Markdown(
            f"Runs in `{self.state.runs_dir}` (set `REAWAKEN_RUNS` to read another folder). "
            "Check the runs to show on the other pages. T documents, M steps per document, "
            "E epochs; RS: the paper's recovery score RS(E-1) at the last epoch.",
            sizing_mode="stretch_width",
        )
        return pn.Column(folder, self.table, sizing_mode="stretch_width")
