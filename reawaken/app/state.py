"""The selection shared by the app's pages: which runs, documents and snapshot are shown.

A plain ``param.Parameterized`` without data logic: pages watch it, the runs table writes it,
and :meth:`AppState.refresh` (called periodically) re-lists the runs folder so a running run's
progress and plots advance without reloading the page. It also holds the session's
:class:`~reawaken.plots.style.RunColors`: a run keeps its colour on every page.
"""

from __future__ import annotations

from pathlib import Path

import param

from reawaken.app.data import RunEntry, scan_runs
from reawaken.plots.style import RunColors

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
    snapshot_step = param.Integer(
        default=-1, doc="step of the snapshot shown (each run's last at or before it); -1 = latest"
    )
    version = param.Integer(default=0, doc="bumped when a selected run gains data")
    page = param.String(
        default=None,
        allow_None=True,
        doc="the page open in the browser tab (None outside the app: every page counts as open)",
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._seen = self.fingerprint()
        self.runs = scan_runs(self.runs_dir)
        # By order of creation (then name): runs made later take the next colours, in this
        # session and in the next one.
        first = sorted(self.runs, key=lambda run: (run.created, run.name))
        self.colors = RunColors(run.name for run in first)
        if not self.selected:
            readable = [run.name for run in self.runs if run.readable]
            self.selected = readable[:1]

    def entries(self) -> list[RunEntry]:
        """The selected runs' entries, in the order of the table."""
        return [run for run in self.runs if run.name in self.selected]

    def path_of(self, name: str) -> Path:
        """The store path of the run called ``name``."""
        return Path(self.runs_dir) / f"{name}.zarr"

    def is_open(self, page: str) -> bool:
        """Whether ``page`` is the page open in the browser tab (any page, outside the app).

        Examples
        --------
        >>> state = AppState(runs_dir="/nonexistent", page="runs")
        >>> state.is_open("runs"), state.is_open("sweep"), AppState(runs_dir="/x").is_open("sweep")
        (True, False, True)
        """
        return self.page in (None, page)

    def colors_of(self, names: list[str]) -> dict[str, str]:
        """The colour of each named run (the same on every page)."""
        return self.colors.of(names)

    def fingerprint(self) -> tuple[tuple[str, int], ...]:
        """The stores in the folder and when each last changed its attributes (cheap: stats only).

        A run writes its attributes (``completed_steps``, ``status``) after each chunk of
        data, so an unchanged fingerprint means no run advanced and none was added.
        """
        root = Path(self.runs_dir)
        if not root.is_dir():
            return ()
        stamps = []
        for path in sorted(root.glob("*.zarr")):
            try:
                stamps.append((path.name, (path / "zarr.json").stat().st_mtime_ns))
            except OSError:
                stamps.append((path.name, -1))
        return tuple(stamps)

    def refresh(self) -> None:
        """Re-list the runs folder if a store changed; bump :attr:`version` if a selected run grew.

        When nothing changed (e.g. every run is complete) this costs one ``stat`` per store.
        """
        seen = self.fingerprint()
        if seen == self._seen:
            return
        self._seen = seen
        runs = scan_runs(self.runs_dir)
        self.colors.add(run.name for run in sorted(runs, key=lambda run: (run.created, run.name)))
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
