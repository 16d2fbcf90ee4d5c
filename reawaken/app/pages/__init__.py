"""The app's pages, one ``pn.viewable.Viewer`` each, importable without a server.

Examples
--------
>>> from reawaken.app.state import AppState
>>> page = RecoveryPage(state=AppState(runs_dir="/nonexistent"))
>>> page.state.runs
[]
"""

from __future__ import annotations

from reawaken.app.pages.mechanism import MechanismPage
from reawaken.app.pages.recovery import RecoveryPage
from reawaken.app.pages.representations import RepresentationsPage
from reawaken.app.pages.runs import RunsPage
from reawaken.app.pages.sweep import SweepPage
from reawaken.app.pages.weights import WeightsPage

__all__ = [
    "MechanismPage",
    "RecoveryPage",
    "RepresentationsPage",
    "RunsPage",
    "SweepPage",
    "WeightsPage",
]
