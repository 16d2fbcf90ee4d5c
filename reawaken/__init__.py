"""reawaken: anticipatory recovery in cyclic fine-tuning, as a one-command experiment.

``import reawaken`` stays light (no torch): the read side (``open_run``, ``open_runs``,
``reawaken.analysis``) only needs xarray.
"""

from __future__ import annotations

from reawaken.store.reader import open_run

__version__ = "0.1.0"
__all__ = ["__version__", "open_run"]
