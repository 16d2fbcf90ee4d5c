"""Pairwise recovery matrices: how training document j changes document i's loss.

:func:`recovery_matrix` measures it on the run as it happened (the loss of i across j's
block); :func:`pairwise_recovery` reads the authors' counterfactual, computed after the run
by ``reawaken pairwise``: j trained alone for M steps from one fixed checkpoint
(docs/definitions.md).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reawaken.analysis._checks import require
from reawaken.analysis.blocks import (
    at_steps,
    block_table,
    cycle_length,
    warn_if_single_epoch,
    written,
)

__all__ = ["pairwise_recovery", "recovery_matrix"]


def pairwise_recovery(ds: xr.Dataset) -> xr.DataArray:
    """The authors' pairwise recovery (Fig. 8b, 23), as stored by ``reawaken pairwise``.

    R[i, j] = loss of document i after M steps on document j alone, started from the
    checkpoint after epoch N, minus i's loss at that checkpoint. Laid out and signed like
    :func:`recovery_matrix` (negative: j helps i), so the two draw side by side; the paper
    plots the transpose with the opposite sign (rows = trained document, positive = helps).

    Parameters
    ----------
    ds
        A run with ``pairwise_loss_change`` (source_doc, doc).

    Returns
    -------
    xarray.DataArray
        Dims (``doc``, ``trained_doc``); attribute ``epoch`` (N) and ``step`` of the
        checkpoint.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> ds = synthetic_run(np.ones((5, 2)), steps_per_doc=1)
    >>> change = xr.DataArray([[-1.0, 0.5], [0.25, -2.0]], dims=("source_doc", "doc"))
    >>> ds["pairwise_loss_change"] = change.assign_attrs(epoch=1, step=2)
    >>> pairwise_recovery(ds).values.tolist()  # row i = evaluated doc, column j = trained
    [[-1.0, 0.25], [0.5, -2.0]]
    """
    change = require(
        ds,
        "pairwise_recovery",
        "pairwise_loss_change",
        ("source_doc", "doc"),
        hint="run `reawaken pairwise RUN --epoch N` on a run that kept that epoch's checkpoint "
        "(checkpoint.keep_epochs)",
    )
    docs = ds["doc"].values
    matrix = change.rename(source_doc="trained_doc").transpose(..., "doc", "trained_doc")
    attrs = {
        "long_name": "change in loss of doc after M steps on trained_doc alone",
        "units": change.attrs.get("units", "nats"),
        "description": "pairwise recovery from one checkpoint (the authors' dipping matrix); "
        "negative = the trained document lowers doc's loss",
        "epoch": change.attrs.get("epoch"),
        "step": change.attrs.get("step"),
    }
    matrix = matrix.assign_coords(doc=docs, trained_doc=docs).rename("pairwise_recovery")
    return matrix.assign_attrs(attrs)


def recovery_matrix(ds: xr.Dataset, *, by_distance: bool = False) -> xr.DataArray:
    """Mean change in document i's loss across the block of document j, over epochs >= 1.

    R[i, j] = mean over the blocks of j in epochs >= 1 (0-based) of
    loss[end of j's block, i] - loss[step just before j's block, i]. Negative: training j
    lowers i's loss (j helps i); the diagonal is a document's own training.

    This is the *in-run* version, measured on the training as it happened. The paper's
    Fig. 8b instead trains each j for M steps from one checkpoint after 4 epochs, with rows =
    trained document and the opposite sign (positive = helps); the two agree in pattern, not
    in value.

    Parameters
    ----------
    ds
        A run or several runs (needs ``loss`` at both edges of each block: evaluation after
        every step or every document works).
    by_distance
        Re-index the columns by cyclic distance (position of j - position of i) mod T, using
        the positions of the epoch in which j's block ran (right for shuffled orders too):
        distance 1 = the document trained right after i.

    Returns
    -------
    xarray.DataArray
        Dims (``doc``, ``trained_doc``), or (``doc``, ``distance``) with ``by_distance``.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> loss = np.array([[4, 4], [2, 4], [3, 1], [1, 2], [2, 0]], dtype=float)  # T=2, M=1
    >>> # epoch 1: doc 0's block is step 2 -> 3, doc 1's block is step 3 -> 4
    >>> recovery_matrix(synthetic_run(loss, steps_per_doc=1)).values.tolist()
    [[-2.0, 1.0], [1.0, -2.0]]
    """
    table = block_table(ds, func="recovery_matrix")
    warn_if_single_epoch(table, "recovery_matrix")
    blocks = table.rename(doc="trained_doc")
    loss = written(ds)
    first = blocks["first_step"]
    # (epoch, trained_doc, doc): the change of doc's loss across trained_doc's block
    change = at_steps(loss, blocks["last_step"]) - at_steps(loss, first.where(first >= 1, 0) - 1)
    change = change.where(change["epoch"] >= 1)
    attrs = {
        "long_name": "change in loss of doc across the block",
        "units": ds["loss"].attrs.get("units", "nats"),
        "description": "in-run pairwise recovery matrix, mean over epochs >= 1; "
        "negative = the trained document lowers doc's loss",
    }
    if not by_distance:
        matrix = change.mean("epoch").transpose(..., "doc", "trained_doc")
        return matrix.rename("recovery_matrix").assign_attrs(attrs)
    position = blocks["cycle_position"]
    cycle = cycle_length(ds)  # T of each run
    distance = (position - position.rename(trained_doc="doc")) % cycle.where(cycle > 0, 1)
    change = change.where(position.rename(trained_doc="doc") >= 0)
    width = int(cycle.max()) if cycle.size else 1
    matrix = xr.concat(
        [change.where(distance == d).mean(("epoch", "trained_doc")) for d in range(width)],
        "distance",
    ).transpose(..., "doc", "distance")
    return (
        matrix.assign_coords(
            distance=(
                "distance",
                np.arange(width),
                {"long_name": "cyclic distance (position of trained doc - position of doc)"},
            )
        )
        .rename("recovery_matrix")
        .assign_attrs(attrs)
    )
