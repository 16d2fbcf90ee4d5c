"""reawaken: anticipatory recovery in cyclic fine-tuning, as a one-command experiment.

``import reawaken`` stays light (no torch): the read side (``open_run``, ``open_runs``,
``reawaken.analysis``) only needs xarray. Every public analysis function is also here at top
level (``reawaken.recovery_score``): the names come from ``reawaken.analysis.__all__``.
"""

from __future__ import annotations

from reawaken import analysis  # also registers the ds.reawaken accessor
from reawaken._version import __version__
from reawaken.analysis import *  # noqa: F403  (the one list: reawaken.analysis.__all__)
from reawaken.store.combine import open_runs
from reawaken.store.reader import open_run

__all__ = ["__version__", "analysis", "open_run", "open_runs", *analysis.__all__]
