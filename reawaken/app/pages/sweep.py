"""The Sweep page: many runs at once, RS(n) against any config value (paper Fig. 2a, 5).

Every readable run in the folder is combined with :func:`reawaken.open_runs`; the paper's
recovery score RS(n) of each run is averaged over the runs that share a config value (the
seeds), with a 95% Student-t interval, and drawn against that value.
"""

from __future__ import annotations

from typing import ClassVar

import panel as pn
import param
import xarray as xr
from panel.viewable import Viewer

from reawaken import analysis, plots
from reawaken.app.data import sweep_scores
from reawaken.app.pages.common import figure, guarded, lazy, message
from reawaken.app.state import AppState

__all__ = ["SweepPage"]

#: Run coordinates of ``open_runs`` that are bookkeeping, not config values to compare by.
_NOT_KEYS = ("run", "status", "completed_steps", "config", "path")
_NONE = "(none)"


def config_keys(scores: xr.DataArray) -> list[str]:
    """The config values on ``run`` to compare by, those that differ between runs first.

    Examples
    --------
    >>> rs = xr.DataArray([0.1, 0.2], dims="run", coords={"run": ["a", "b"],
    ...     "model": ("run", ["m", "m"]), "seed": ("run", [0, 1]), "path": ("run", ["x", "y"])})
    >>> config_keys(rs)
    ['seed', 'model']
    """
    keys = [str(c) for c in scores.coords if scores[c].dims == ("run",) and c not in _NOT_KEYS]
    return sorted(keys, key=lambda k: len(set(scores[k].values.tolist())) < 2)


class SweepPage(Viewer):
    """RS(n) of every run in the folder against a config value, mean and 95% interval.

    Examples
    --------
    >>> page = SweepPage(state=AppState(runs_dir="/nonexistent"))
    >>> page.x, page.presentation
    ('model', -1)
    """

    #: The page's name in the app's tabs and address (``?page=sweep``).
    NAME: ClassVar[str] = "sweep"
    state = param.ClassSelector(class_=AppState, doc="the app's shared selection")
    # The choices come from the runs, read when the page is first drawn.
    x = param.Selector(
        default="model", objects=["model"], check_on_set=False, doc="config value on the x-axis"
    )
    lines = param.Selector(
        default=_NONE, objects=[_NONE], check_on_set=False, doc="one line per value of this key"
    )
    presentation = param.Integer(default=-1, doc="n of RS(n); -1 = the last available")

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._x = pn.widgets.Select.from_param(self.param.x, label="RS(n) against", width=200)
        self._lines = pn.widgets.Select.from_param(
            self.param.lines, label="one line per", width=200
        )
        self._n = pn.widgets.Select(label="n", options={"last": -1}, value=-1, width=120)
        self._n.link(self, value="presentation")
        self._shown = False
        self._keys_from(None)

    def _paths(self) -> list[str]:
        return [run.path for run in self.state.runs if run.readable]

    def prepare(self) -> None:
        """Compute (and cache) the scores of every readable run of the folder."""
        self._scores()

    def _scores(self) -> xr.DataArray | None:
        paths = self._paths()
        return sweep_scores(self.state.runs_dir, paths) if paths else None

    def _keys_from(self, scores: xr.DataArray | None) -> None:
        """Offer the config keys and presentations of the runs as choices (in the widgets too).

        At first a value that differs between the runs is on the x-axis (keys put those
        first); later the reader's choice stays while it exists.
        """
        keys = config_keys(scores) if scores is not None else ["model"]
        self.param.x.objects = keys
        self.param.lines.objects = [_NONE, *keys]
        fixed = (
            scores is not None
            and not self._shown
            and self.x in keys
            and len(set(scores[self.x].values.tolist())) < 2
        )
        self._shown = self._shown or scores is not None
        self.param.update(
            x=keys[0] if self.x not in keys or fixed else self.x,
            lines=self.lines if self.lines in self.param.lines.objects else _NONE,
        )
        if scores is not None:
            options = {"last": -1} | {str(int(n)): int(n) for n in scores["presentation"].values}
            self._n.options = options

    @param.depends("state.runs", "state.version", "state.page", watch=True)
    def _runs_changed(self) -> None:
        # Like the plot, only while the page is open (and when it is opened again).
        if self._shown and self.state.is_open(self.NAME):
            self._keys_from(self._scores())

    @param.depends("state.runs", "state.version", "x", "lines", "presentation")
    @guarded("Sweep")
    def view(self) -> pn.viewable.Viewable:
        """The plot, or a hint when there is nothing to compare."""
        scores = self._scores()
        if scores is None or scores.sizes["run"] < 2:
            return message(
                "The sweep page compares two or more readable runs in the folder.", "info"
            )
        if self.x not in scores.coords:  # runs changed: the choices follow (and redraw)
            return message(f"No run has a config value '{self.x}'.", "info")
        n = int(scores["presentation"].values[-1]) if self.presentation < 0 else self.presentation
        keys = [self.x] if self.lines in (_NONE, self.x) else [self.x, self.lines]
        intervals = analysis.interval_by(scores.sel(presentation=n), keys)
        overlay = plots.sweep_scores(
            intervals, self.x, lines=None if len(keys) == 1 else self.lines, ylabel=f"RS({n})"
        )
        stem = f"sweep_rs{n}_by_{self.x}" + ("" if len(keys) == 1 else f"_{self.lines}")
        count = scores.sizes["run"]
        note = pn.pane.Markdown(
            f"{count} runs; each point is the mean over the runs with that value (e.g. seeds), "
            "bars its 95% interval (none for a single run).",
            sizing_mode="stretch_width",
        )
        return pn.Column(note, figure(overlay, export=("sweep", stem)), sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        self._keys_from(self._scores())
        controls = pn.Row(self._x, self._lines, self._n, sizing_mode="stretch_width")
        return pn.Column(controls, lazy(self.view), sizing_mode="stretch_width")
