"""Aligned (shift-averaged) loss curves: every document's loss from its own first block on.

The paper's Fig. 1b-7 average the documents' curves after shifting each so that x = 0 is the
moment just before its first training (docs/definitions.md); here the shift is counted in steps.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reawaken.analysis.blocks import at_steps, block_table, epoch_length, written

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
    loss = written(ds)
    first = block_table(ds, func="aligned_curves")["first_step"]
    origin = (first.where(first >= 0).min("epoch") - 1).fillna(-1).astype(int)
    last_step = int(loss["step"][-1])
    offset = xr.DataArray(np.arange(loss.sizes["step"]), dims="offset")
    step = origin + offset  # (doc, offset): offset 0 is the step before the first update
    curve = at_steps(loss, step.where((origin >= 0) & (step <= last_step), -1))
    finite = curve.notnull()
    present = finite.any("offset")  # trained and evaluated at least once
    runs = [dim for dim in curve.dims if dim not in ("doc", "offset")]
    if ragged:
        keep = finite.any(("doc", *runs))
    else:
        complete = (finite | ~present).all("doc") & present.any("doc")
        curve = curve.where(complete)
        keep = complete.any(runs) if runs else complete
    curve = curve.isel(offset=keep.values)
    per_epoch = epoch_length(ds).fillna(0)
    units = ds["loss"].attrs.get("units", "nats")
    offsets = offset.isel(offset=keep.values)
    curve_da = (
        curve.assign_coords(
            offset=(
                "offset",
                offsets.values,
                {"long_name": "steps since first block", "units": "steps"},
            ),
            offset_epochs=(offsets / per_epoch.where(per_epoch > 0)).assign_attrs(
                long_name="epochs since first block", units="epochs"
            ),
        )
        .rename("curve")
        .assign_attrs(long_name="loss", units=units)
    )
    curve_da = curve_da.transpose(*runs, "doc", "offset")
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
