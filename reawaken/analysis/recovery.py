"""Recovery: how much of a document's forgetting is undone before it is trained again.

Notation (docs/architecture.md): for document i and epoch e >= 1, a = the last step of i's block in
epoch e-1, b = the step just before i's first update in epoch e, l(s) = loss[s, i]. Two
scores are provided: the per-document :func:`recovery_score` and the paper's ratio of means
:func:`paper_recovery_score` (docs/definitions.md).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reawaken.analysis._runs import Schedule, loss_values, schedule_of, take_doc_steps

__all__ = ["mean_recovery_score", "paper_recovery_score", "recovery_amount", "recovery_score"]

RECOVERY_SCORE_DEFINITION = (
    "(max_{a<=s<=b} l(s) - l(b)) / (max_{a<=s<=b} l(s) - l(a)), a = last step of the document's "
    "block in epoch e-1, b = step before its first update in epoch e, over evaluated steps"
)
PAPER_DEFINITION = (
    "RS(n) = (l_max(n) - l_before(n)) / (l_max(n) - l_after(n)), each a mean over documents "
    "taken before the ratio, over document-boundary evaluations (Yang et al. 2024, §3.1)"
)


def _interval_max(
    loss: np.ndarray, low: np.ndarray, high: np.ndarray, allowed: np.ndarray | None
) -> np.ndarray:
    """max over finite loss[b, s, i] with low[b, i] <= s <= high[b, i]; NaN where none."""
    valid = (low >= 0) & (high >= low)
    if not valid.any():
        return np.full(low.shape, np.nan)
    first, stop = int(low[valid].min()), int(high[valid].max()) + 1
    window = loss[:, first:stop, :]
    step = np.arange(first, stop)[None, :, None]
    mask = (step >= low[:, None, :]) & (step <= high[:, None, :]) & np.isfinite(window)
    mask &= valid[:, None, :]
    if allowed is not None:
        mask &= allowed[:, first:stop, None]
    peak = np.where(mask, window, -np.inf).max(axis=1)
    return np.where(np.isfinite(peak), peak, np.nan)


def _recovery_parts(
    ds: xr.Dataset, func: str, *, boundaries_only: bool
) -> tuple[Schedule, np.ndarray, np.ndarray, np.ndarray]:
    """(schedule, peak, l(a), l(b)), the last three (B, E-1, D)."""
    schedule = schedule_of(ds, func)
    schedule.warn_if_single_epoch(func)
    loss = loss_values(ds, schedule)
    after = schedule.last_end[:, :-1, :]
    first = schedule.first_start[:, 1:, :]
    before = np.where(first >= 1, first - 1, -1)
    allowed = None
    if boundaries_only:
        allowed = np.zeros(schedule.doc.shape, dtype=bool)
        allowed[:, 0] = True
        rows, ends = np.nonzero(schedule.end >= 0)
        allowed[rows, schedule.end[rows, ends]] = True
    peak = np.empty(after.shape)
    for epoch in range(after.shape[1]):  # a loop over epochs, vectorised over runs
        peak[:, epoch] = _interval_max(loss, after[:, epoch], before[:, epoch], allowed)
    return schedule, peak, take_doc_steps(loss, after), take_doc_steps(loss, before)


def _per_epoch(
    ds: xr.Dataset, schedule: Schedule, values: np.ndarray, name: str, attrs: dict
) -> xr.DataArray:
    epochs = np.arange(1, values.shape[1] + 1)
    return schedule.batch.wrap(
        values,
        ("epoch", "doc"),
        coords={"epoch": epochs, "doc": ds["doc"].values},
        name=name,
        attrs=attrs,
    )


def recovery_amount(ds: xr.Dataset) -> xr.DataArray:
    """Loss regained before a document returns: max_{a<=s<=b} l(s) - l(b), per epoch and doc.

    Only evaluated (non-NaN) steps in [a, b] count; NaN where l(b) is not evaluated yet.

    Returns
    -------
    xarray.DataArray
        Dims (``epoch``, ``doc``), epoch = 1..E-1 (the epoch in which the document returns).
        Empty along ``epoch``, with a :class:`RecoveryUndefinedWarning`, when E < 2.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> loss = np.array([[5, 5, 5], [1, 5, 5], [3, 1, 5], [2, 4, 1], [1, 1, 2], [2, 0.5, 3],
    ...                  [2, 1, 0.5]])  # T=3, M=1, E=2: step s trains doc (s-1) % 3
    >>> ds = synthetic_run(loss, steps_per_doc=1)
    >>> # doc 0: a=1, b=3, l = 1, 3, 2: 3 - 2; doc 1: a=2, b=4, l = 1, 4, 1: 4 - 1; doc 2: 0
    >>> recovery_amount(ds).values.tolist()
    [[1.0, 3.0, 0.0]]
    """
    schedule, peak, _, before = _recovery_parts(ds, "recovery_amount", boundaries_only=False)
    units = ds["loss"].attrs.get("units", "nats")
    return _per_epoch(
        ds,
        schedule,
        peak - before,
        "recovery_amount",
        {
            "long_name": "recovery amount",
            "units": units,
            "definition": "max_{a<=s<=b} l(s) - l(b)",
        },
    )


def recovery_score(ds: xr.Dataset, *, min_forgetting: float = 1e-6) -> xr.DataArray:
    """Fraction of a document's forgetting undone before it returns, per epoch and document.

    score = (max_{a<=s<=b} l(s) - l(b)) / (max_{a<=s<=b} l(s) - l(a)): 0 when the loss only
    rose, 1 when it came back to its level right after training. It exceeds 1 when the loss
    falls below that level before the document returns. This is the per-document score of
    docs/architecture.md; :func:`paper_recovery_score` is the paper's RS(n), a ratio of means over
    documents at document boundaries only.

    Parameters
    ----------
    ds
        A run or several runs.
    min_forgetting
        Where the forgetting (the denominator) is below this, the document was not forgotten
        and the score is NaN.

    Returns
    -------
    xarray.DataArray
        Dims (``epoch``, ``doc``), epoch = 1..E-1; attribute ``definition``.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> loss = np.array([[5, 5, 5], [1, 5, 5], [3, 1, 5], [2, 4, 1], [1, 1, 2], [2, 0.5, 3],
    ...                  [2, 1, 0.5]])  # T=3, M=1, E=2: step s trains doc (s-1) % 3
    >>> ds = synthetic_run(loss, steps_per_doc=1)
    >>> # doc 0: (3 - 2) / (3 - 1); doc 1: (4 - 1) / (4 - 1); doc 2: l = 1, 2, 3 only rose
    >>> recovery_score(ds).values.tolist()
    [[0.5, 1.0, 0.0]]
    """
    schedule, peak, after, before = _recovery_parts(ds, "recovery_score", boundaries_only=False)
    forgetting = peak - after
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(forgetting >= min_forgetting, (peak - before) / forgetting, np.nan)
    return _per_epoch(
        ds,
        schedule,
        score,
        "recovery_score",
        {
            "long_name": "recovery score",
            "definition": RECOVERY_SCORE_DEFINITION,
            "min_forgetting": min_forgetting,
        },
    )


def mean_recovery_score(ds: xr.Dataset, *, min_forgetting: float = 1e-6) -> xr.DataArray:
    """:func:`recovery_score` averaged over documents (NaN scores left out), per epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> loss = np.array([[5, 5, 5], [1, 5, 5], [3, 1, 5], [2, 4, 1], [1, 1, 2], [2, 0.5, 3],
    ...                  [2, 1, 0.5]])  # T=3, M=1, E=2: step s trains doc (s-1) % 3
    >>> ds = synthetic_run(loss, steps_per_doc=1)
    >>> mean_recovery_score(ds).values.tolist()  # (0.5 + 1 + 0) / 3
    [0.5]
    """
    score = recovery_score(ds, min_forgetting=min_forgetting)
    mean = score.mean("doc").rename("mean_recovery_score")
    return mean.assign_attrs(long_name="mean recovery score", definition=score.attrs["definition"])


def paper_recovery_score(ds: xr.Dataset, *, min_forgetting: float = 1e-6) -> xr.DataArray:
    """The paper's recovery score RS(n), n = 1..E-1: a ratio of means over documents.

    For presentation n and document j (docs/definitions.md): l_after = loss just after the n-th
    training, l_before = loss just before the (n+1)-th, l_max = peak loss in between, using
    only document-boundary evaluations as the paper did. Each is averaged over documents
    *before* the ratio: RS(n) = (l_max - l_before) / (l_max - l_after). The paper reports
    n = E-1 ("epoch 4" for E = 5). :func:`recovery_score` is the per-document ratio instead
    (every evaluated step counts, then the ratio per document, then any mean).

    Documents missing any of the three values are left out of all three means; NaN where
    l_max - l_after < ``min_forgetting``.

    Returns
    -------
    xarray.DataArray
        Dim ``presentation`` (n = 1..E-1), with coordinates ``peak_loss``, ``loss_before``,
        ``loss_after`` (the three means).

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> loss = np.array([[5, 5, 5], [1, 5, 5], [3, 1, 5], [2, 4, 1], [1, 1, 2], [2, 0.5, 3],
    ...                  [2, 1, 0.5]])  # T=3, M=1, E=2: step s trains doc (s-1) % 3
    >>> ds = synthetic_run(loss, steps_per_doc=1)
    >>> # l_max = (3 + 4 + 3) / 3, l_before = (2 + 1 + 3) / 3 = 2, l_after = 1: (4/3) / (7/3)
    >>> paper_recovery_score(ds).round(4).values.tolist()
    [0.5714]
    """
    schedule, peak, after, before = _recovery_parts(
        ds, "paper_recovery_score", boundaries_only=True
    )
    usable = np.isfinite(peak) & np.isfinite(after) & np.isfinite(before)
    counts = usable.sum(axis=2)

    def doc_mean(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(usable, values, 0.0).sum(axis=2) / np.where(counts, counts, np.nan)

    l_max, l_before, l_after = doc_mean(peak), doc_mean(before), doc_mean(after)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(
            l_max - l_after >= min_forgetting, (l_max - l_before) / (l_max - l_after), np.nan
        )
    batch = schedule.batch
    return batch.wrap(
        score,
        ("presentation",),
        coords={
            "presentation": np.arange(1, score.shape[1] + 1),
            "peak_loss": batch.coord(l_max, ("presentation",)),
            "loss_before": batch.coord(l_before, ("presentation",)),
            "loss_after": batch.coord(l_after, ("presentation",)),
        },
        name="paper_recovery_score",
        attrs={"long_name": "recovery score RS(n) (paper)", "definition": PAPER_DEFINITION},
    )
