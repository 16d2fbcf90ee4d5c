"""Which document is trained at each step: a pure function of the schedule config and a seed.

Orders (``schedule.order``) change only the positions ``[fixed_prefix, shuffle_end)`` of each
epoch; documents before and after that range keep their cyclic places. So the paper's shuffled
baseline (x₁ first, the rest reshuffled every epoch) is ``order: shuffled, fixed_prefix: 1``,
and its partial shuffle of x₂…x_N (Fig. 12) adds ``shuffle_end: N``. With
``schedule.one_offs`` every epoch's T documents are followed by fresh documents, each trained
once (Fig. 18), so epochs differ in length: :func:`training_schedule` is the whole schedule.
"""

from __future__ import annotations

import numpy as np

from reawaken.config import ScheduleConfig

__all__ = ["ORDERS", "training_order", "training_schedule"]

#: Every value of ``schedule.order`` and what it does to the reordered positions.
ORDERS = {
    "cyclic": "the same order 0..T-1 in every epoch",
    "shuffled": "a fresh seeded permutation in every epoch",
    "fixed_permutation": "one seeded permutation, the same in every epoch",
    "reversed": "forwards in even epochs (0, 2, ...), backwards in odd ones",
}
# Mixed into the seed so the order's random stream differs from document sampling's, which
# draws from the same run seed.
ORDER_STREAM = 0x0D0C


def training_order(schedule: ScheduleConfig, num_docs: int, seed: int) -> np.ndarray:
    """The order of documents, shape (epoch, cycle_position): ``order[e, p]`` is trained p-th.

    Each document block of M (``steps_per_doc``) steps trains ``order[e, p]``; step s >= 1
    belongs to block ``(s - 1) // M``. ``schedule.order_seed``, when set, replaces ``seed``.

    Examples
    --------
    >>> from reawaken.config import ScheduleConfig
    >>> training_order(ScheduleConfig(num_epochs=2), num_docs=3, seed=0).tolist()
    [[0, 1, 2], [0, 1, 2]]
    >>> reverse = ScheduleConfig(order="reversed", fixed_prefix=1, num_epochs=3)
    >>> training_order(reverse, num_docs=4, seed=0).tolist()
    [[0, 1, 2, 3], [0, 3, 2, 1], [0, 1, 2, 3]]
    >>> shuffled = ScheduleConfig(order="shuffled", fixed_prefix=1, shuffle_end=3, num_epochs=2)
    >>> order = training_order(shuffled, num_docs=5, seed=0)
    >>> order[:, 0].tolist(), order[:, 3:].tolist()  # x1 first, x4 and x5 fixed
    ([0, 0], [[3, 4], [3, 4]])
    """
    epochs = schedule.num_epochs
    order = np.tile(np.arange(num_docs, dtype=np.int64), (epochs, 1))
    start, end = schedule.reordered_range(num_docs)
    if not 0 <= start < end <= num_docs:
        raise ValueError(
            f"schedule reorders positions {start}..{end - 1}, outside 0..{num_docs - 1} "
            "(schedule.fixed_prefix, schedule.shuffle_end)"
        )
    order_seed = seed if schedule.order_seed is None else schedule.order_seed
    rng = np.random.default_rng([ORDER_STREAM, order_seed])
    middle = order[:, start:end]  # a view: writing it reorders every epoch
    if schedule.order == "shuffled":
        for epoch in range(epochs):
            middle[epoch] = start + rng.permutation(end - start)
    elif schedule.order == "fixed_permutation":
        middle[:] = start + rng.permutation(end - start)
    elif schedule.order == "reversed":
        middle[1::2] = middle[1::2, ::-1].copy()
    elif schedule.order != "cyclic":
        raise ValueError(
            f"config key 'schedule.order': unknown order {schedule.order!r}; "
            f"choose one of {', '.join(ORDERS)}"
        )
    return order


def training_schedule(schedule: ScheduleConfig, num_docs: int, seed: int) -> list[np.ndarray]:
    """The documents trained in each epoch, in order: one array per epoch, of any length.

    Each epoch trains the T documents of :func:`training_order`, then that epoch's one-off
    documents (``schedule.one_offs``, :meth:`ScheduleConfig.one_off_counts`): fresh documents
    labelled T, T+1, ... in the order they are trained, so none comes back.

    Examples
    --------
    >>> from reawaken.config import ScheduleConfig
    >>> [e.tolist() for e in training_schedule(ScheduleConfig(num_epochs=2), 2, seed=0)]
    [[0, 1], [0, 1]]
    >>> one_offs = ScheduleConfig(num_epochs=2, one_offs=(1, 3))
    >>> [e.tolist() for e in training_schedule(one_offs, 2, seed=0)]
    [[0, 1, 2, 3], [0, 1, 4, 5]]
    """
    order = training_order(schedule, num_docs, seed)
    counts = schedule.one_off_counts(seed)
    first = num_docs + np.concatenate([[0], np.cumsum(counts)[:-1]])
    return [
        np.concatenate([cycled, np.arange(start, start + count, dtype=np.int64)])
        for cycled, start, count in zip(order, first, counts, strict=True)
    ]
