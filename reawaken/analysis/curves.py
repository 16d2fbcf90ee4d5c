"""Aligned (shift-averaged) loss curves: every document's loss from its own first block on.

The paper's Fig. 1b-7 average the documents' curves after shifting each so that x = 0 is the
moment just before its first training (docs/definitions.md); here the shift is counted in steps.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reawaken.analysis._runs import loss_values, schedule_of

__all__ = ["aligned_curves"]


def aligned_curves(ds: xr.Dataset, *, ragged: bool = False) -> xr.Dataset:
    """Each document's loss re-indexed by steps since its own first block began, and the mean.

    Offset 0 is the step just before the document's first update, offset M the end of its
    first block, offset T*M the step just before its second presentation in a cyclic run.
    The paper's shift-averaged curve S[m] (in episodes) is ``mean`` at offset m*M.

    Parameters
    ----------
    ds
        A run or several runs (:func:`reawaken.open_runs`).
    ragged
        False (default): keep only the offsets where every document of the run has a loss
        (the paper's complete window; with evaluation at document boundaries only, that is
        every M-th offset). True: keep every offset where any document has data; a mean at a
        late offset then covers fewer documents (see ``count``).

    Returns
    -------
    xarray.Dataset
        ``curve`` (``doc``, ``offset``); ``mean``, ``std`` (over documents, ddof=0) and
        ``count`` (``offset``). Coordinates ``offset`` (steps) and ``offset_epochs``
        (offset / (T*M)). With several runs, each run keeps its own complete window (NaN
        elsewhere on the shared ``offset`` axis).

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> loss = np.array([[4.0, 6.0], [1.0, 7.0], [2.0, 3.0], [1.0, 4.0], [2.0, 2.0]])
    >>> curves = aligned_curves(synthetic_run(loss, steps_per_doc=1))  # T=2, M=1, E=2
    >>> curves["curve"].sel(doc=1).values.tolist()  # doc 1 starts at step 1
    [7.0, 3.0, 4.0, 2.0]
    >>> curves["mean"].values.tolist()  # [(4+7)/2, (1+3)/2, (2+4)/2, (1+2)/2]
    [5.5, 2.0, 3.0, 1.5]
    """
    schedule = schedule_of(ds, "aligned_curves")
    loss = loss_values(ds, schedule)
    batch = schedule.batch
    size, steps, docs = loss.shape
    first = np.where(schedule.first_start >= 0, schedule.first_start, steps + 1).min(axis=1)
    origin = np.where(first <= steps, first - 1, -1)  # (B, D): the step before the first update
    offset = np.arange(steps)
    index = origin[:, :, None] + offset  # (B, D, offset)
    inside = (origin[:, :, None] >= 0) & (index < steps)
    rows, cols = np.arange(size)[:, None, None], np.arange(docs)[None, :, None]
    curve = np.where(inside, loss[rows, np.clip(index, 0, steps - 1), cols], np.nan)
    finite = np.isfinite(curve)
    present = finite.any(axis=2)  # (B, D): trained and evaluated at least once
    complete = np.all(finite | ~present[:, :, None], axis=1) & present.any(axis=1)[:, None]
    if ragged:
        keep = finite.any(axis=(0, 1))
    else:
        curve = np.where(complete[:, None, :], curve, np.nan)
        keep = complete.any(axis=0)
    curve, offset = curve[:, :, keep], offset[keep]
    per_epoch = (schedule.num_docs * schedule.steps_per_doc).astype(np.float64)
    offset_epochs = offset[None, :] / np.where(per_epoch > 0, per_epoch, np.nan)[:, None]
    units = ds["loss"].attrs.get("units", "nats")
    curve_da = batch.wrap(
        curve,
        ("doc", "offset"),
        coords={
            "doc": ds["doc"].values,
            "offset": (
                "offset",
                offset,
                {"long_name": "steps since first block", "units": "steps"},
            ),
            "offset_epochs": batch.coord(offset_epochs, ("offset",)),
        },
        name="curve",
        attrs={"long_name": "loss", "units": units},
    )
    curve_da["offset_epochs"].attrs.update(long_name="epochs since first block", units="epochs")
    counted = curve_da.count("doc")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = curve_da.mean("doc").where(counted > 0)
        std = curve_da.std("doc", ddof=0).where(counted > 0)
    return xr.Dataset(
        {
            "curve": curve_da,
            "mean": mean.assign_attrs(long_name="mean loss over documents", units=units),
            "std": std.assign_attrs(long_name="std of loss over documents", units=units),
            "count": counted.assign_attrs(long_name="documents with data"),
        },
        attrs={
            "description": "loss re-indexed by steps since each document's first block "
            "(offset 0 = just before its first update)",
            "ragged": int(ragged),
        },
    )
