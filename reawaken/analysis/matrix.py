"""The in-run pairwise recovery matrix: how each document's block changes every document's loss.

R[i, j] is measured on the run as it happened (the loss of i across j's block), not by the
paper's counterfactual of training j from one fixed checkpoint (docs/definitions.md).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reawaken.analysis.blocks import at_steps, block_table, warn_if_single_epoch, written

__all__ = ["recovery_matrix"]


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
    cycle = ds["cycle_position"].reset_coords(drop=True).max("step") + 1  # T of each run
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
