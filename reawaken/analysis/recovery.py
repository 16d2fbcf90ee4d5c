"""Recovery: how much of a document's forgetting is undone before it is trained again.

Notation (docs/architecture.md): for document i and epoch e >= 1, a = the last step of i's block in
epoch e-1, b = the step just before i's first update in epoch e, l(s) = loss[s, i]. Two
scores are provided: the per-document :func:`recovery_score` and the paper's ratio of means
:func:`paper_recovery_score` (docs/definitions.md).
"""

from __future__ import annotations

import xarray as xr

from reawaken.analysis.blocks import at_steps, block_table, warn_if_single_epoch, written

__all__ = ["mean_recovery_score", "paper_recovery_score", "recovery_amount", "recovery_score"]

RECOVERY_SCORE_DEFINITION = (
    "(max_{a<=s<=b} l(s) - l(b)) / (max_{a<=s<=b} l(s) - l(a)), a = last step of the document's "
    "block in epoch e-1, b = step before its first update in epoch e, over evaluated steps"
)
PAPER_DEFINITION = (
    "RS(n) = (l_max(n) - l_before(n)) / (l_max(n) - l_after(n)), each a mean over documents "
    "taken before the ratio, over document-boundary evaluations (Yang et al. 2024, §3.1)"
)


def _peak(loss: xr.DataArray, a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """max of l(s) over a <= s <= b, per epoch (and doc, run); NaN where nothing is evaluated.

    One epoch at a time, over the steps that epoch's intervals span, so memory stays at one
    epoch's window of ``loss``.
    """
    peaks = []
    for epoch in a["epoch"].values:
        low, high = a.sel(epoch=epoch), b.sel(epoch=epoch)
        valid = (low >= 0) & (high >= low)
        span = loss.sel(step=slice(int(low.where(valid).min(skipna=True).fillna(0)),
                                   int(high.where(valid).max(skipna=True).fillna(-1))))  # fmt: skip
        inside = (span["step"] >= low) & (span["step"] <= high) & valid
        peaks.append(span.where(inside).max("step"))
    return xr.concat(peaks, "epoch") if peaks else a.astype(float)


def _recovery_parts(
    ds: xr.Dataset, func: str, *, boundaries_only: bool
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """(peak, l(a), l(b)) per epoch e >= 1 and document, from the block table.

    a = the last step of the document's block in epoch e-1, b = the step before its first
    update in epoch e. With ``boundaries_only`` the peak sees step 0 and block ends only (the
    evaluations the paper had).
    """
    blocks = block_table(ds, func=func)
    warn_if_single_epoch(blocks, func)
    loss = written(ds)
    a = blocks["last_step"].shift(epoch=1, fill_value=-1).isel(epoch=slice(1, None))
    first = blocks["first_step"].isel(epoch=slice(1, None))
    b = first.where(first >= 1, 0) - 1
    evaluated = loss
    if boundaries_only:
        grad_step = ds["grad_step"].reset_coords(drop=True).load()
        block_end = (grad_step == grad_step.max("step")) | (loss["step"] == 0)
        evaluated = loss.where(block_end)
    return _peak(evaluated, a, b), at_steps(loss, a), at_steps(loss, b)


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
    peak, _, at_b = _recovery_parts(ds, "recovery_amount", boundaries_only=False)
    return (
        (peak - at_b)
        .rename("recovery_amount")
        .assign_attrs(
            long_name="recovery amount",
            units=ds["loss"].attrs.get("units", "nats"),
            definition="max_{a<=s<=b} l(s) - l(b)",
        )
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
    peak, at_a, at_b = _recovery_parts(ds, "recovery_score", boundaries_only=False)
    forgetting = peak - at_a
    score = ((peak - at_b) / forgetting).where(forgetting >= min_forgetting)
    return score.rename("recovery_score").assign_attrs(
        long_name="recovery score",
        definition=RECOVERY_SCORE_DEFINITION,
        min_forgetting=min_forgetting,
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
    peak, after, before = _recovery_parts(ds, "paper_recovery_score", boundaries_only=True)
    usable = peak.notnull() & after.notnull() & before.notnull()
    l_max, l_before, l_after = (
        values.where(usable).mean("doc") for values in (peak, before, after)
    )
    score = ((l_max - l_before) / (l_max - l_after)).where(l_max - l_after >= min_forgetting)
    score = score.rename(epoch="presentation").assign_coords(
        peak_loss=l_max.rename(epoch="presentation"),
        loss_before=l_before.rename(epoch="presentation"),
        loss_after=l_after.rename(epoch="presentation"),
    )
    return score.rename("paper_recovery_score").assign_attrs(
        long_name="recovery score RS(n) (paper)", definition=PAPER_DEFINITION
    )
