"""The Panel app over run stores: data access and cache, shared state, pages and the shell.

``panel serve apps/`` serves :class:`reawaken.app.shell.App`; pages can also be shown in a
notebook, e.g. ``RecoveryPage(state=AppState(runs_dir="runs"))``.
"""

from __future__ import annotations

__all__: list[str] = []
