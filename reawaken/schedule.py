"""Which document is trained at each step: a pure function of the schedule config and a seed."""

from __future__ import annotations

import numpy as np

from reawaken.config import ScheduleConfig

__all__ = ["training_order"]


def training_order(schedule: ScheduleConfig, num_docs: int, seed: int) -> np.ndarray:
    """The order of documents, shape (epoch, cycle_position): ``order[e, p]`` is trained p-th.

    Each document block of M (``steps_per_doc``) steps trains ``order[e, p]``; step s >= 1
    belongs to block ``(s - 1) // M``.

    Examples
    --------
    >>> from reawaken.config import ScheduleConfig
    >>> training_order(ScheduleConfig(num_epochs=2), num_docs=3, seed=0).tolist()
    [[0, 1, 2], [0, 1, 2]]
    """
    del seed  # cyclic order is fixed; seeded orders use it
    if schedule.order == "cyclic":
        return np.tile(np.arange(num_docs, dtype=np.int64), (schedule.num_epochs, 1))
    raise ValueError(f"unknown schedule order {schedule.order!r}")  # pragma: no cover
