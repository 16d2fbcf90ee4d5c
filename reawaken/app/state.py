"""The selection shared by the app's pages: which runs, documents and snapshot are shown.

A plain ``param.Parameterized`` without data logic: pages watch it, the runs table writes it,
and :meth:`AppState.refresh` (called periodically) re-lists the runs folder so a running run's
progress and plots advance without reloading the page.
"""

from __future__ import annotations

from pathlib import Path

import param

from reawaken.app.data import RunEntry, scan_runs

__all__ = ["AppState"]


class AppState(param.Parameterized):
    """Shared selection of the app's pages.

    Examples
    --------
    >>> state = AppState(runs_dir="/nonexistent")
    >>> state.runs, state.selected
    ([], [])
    """

    runs_dir = param.String(doc="folder the runs are listed from (absolute)")
    runs = param.List(default=[], item_type=RunEntry, doc="every store in the folder")
    selected = param.List(default=[], item_type=str, doc="names of the runs shown on the pages")
    docs = param.List(default=[0], item_type=int, doc="documents whose curves are drawn")
    doc = param.Integer(default=0, bounds=(0, None), doc="document compared over snapshots")
    snapshot = param.Integer(default=-1, doc="snapshot index; -1 = the latest one written")
    version = param.Integer(default=0, doc="bumped when a selected run gains data")

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.runs = scan_runs(self.runs_dir)
        if not self.selected:
            readable = [run.name for run in self.runs if run.readable]
            self.selected = readable[:1]

    def entries(self) -> list[RunEntry]:
        """The selected runs' entries, in the order of the table."""
        return [run for run in self.runs if run.name in self.selected]

    def path_of(self, name: str) -> Path:
        """The store path of the run called ``name``."""
        return Path(self.runs_dir) / f"{name}.zarr"

    def refresh(self) -> None:
        """Re-list the runs folder; bump :attr:`version` if a selected run gained data."""
        runs = scan_runs(self.runs_dir)
        if runs == self.runs:
            return
        before = {run.name: (run.completed_steps, run.status) for run in self.runs}
        grew = any(
            before.get(run.name) != (run.completed_steps, run.status)
            for run in runs
            if run.name in self.selected
        )
        self.runs = runs
        if grew:
            self.version += 1
