"""Losses at document boundaries: the paper's (E*T+1) x T matrix and the prequential loss.

An *episode* is one document block (M gradient steps on one document); episode 0 stands for
step 0, before any update. Both functions read the schedule from the per-step coordinates, so
shuffled orders are handled like cyclic ones.
"""

from __future__ import annotations

import xarray as xr

from reawaken.analysis._checks import require
from reawaken.analysis.blocks import at_steps, block_table, episodes, written

__all__ = ["boundary_losses", "mean_prequential_loss", "prequential_loss"]


def _episode_coords(table: xr.Dataset, steps: xr.DataArray) -> dict[str, xr.DataArray]:
    """Coordinates on ``episode``: the step shown and the block's epoch, position and doc."""
    return {
        "step": steps,
        **{name: table[name] for name in ("epoch", "cycle_position", "trained_doc")},
    }


def boundary_losses(ds: xr.Dataset) -> xr.DataArray:
    """Loss of every document at step 0 and at the last step of every document block.

    This is the paper's evaluation matrix L[k, j] (E*T+1 rows): row 0 before training, row k
    after the k-th episode (document block).

    Parameters
    ----------
    ds
        A run (:func:`reawaken.open_run`) or several (:func:`reawaken.open_runs`).

    Returns
    -------
    xarray.DataArray
        Dims (``episode``, ``doc``), episode = 0..E*T; coordinates on ``episode``: ``step``,
        ``epoch``, ``cycle_position``, ``trained_doc`` (-1 at episode 0).

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> T, M, E = 2, 2, 2
    >>> ds = synthetic_run(np.arange(18.0).reshape(9, 2), steps_per_doc=M)
    >>> b = boundary_losses(ds)
    >>> b.step.values.tolist(), b.sel(doc=0).values.tolist()
    ([0, 2, 4, 6, 8], [0.0, 4.0, 8.0, 12.0, 16.0])
    """
    loss = written(ds)
    table = episodes(block_table(ds, func="boundary_losses"))
    step0 = xr.Dataset(dict.fromkeys(table.data_vars, -1)).expand_dims(episode=1)
    table = xr.concat([step0.assign(last_step=0), table], "episode", coords="minimal")
    steps = table["last_step"]
    values = at_steps(loss, steps)
    return (
        values.assign_coords(episode=range(steps.sizes["episode"]), **_episode_coords(table, steps))
        .rename("boundary_loss")
        .assign_attrs(
            long_name="loss at document boundaries",
            units=ds["loss"].attrs.get("units", "nats"),
            description="row 0: before training; row k: after the k-th document block",
        )
    )


def prequential_loss(ds: xr.Dataset) -> xr.DataArray:
    """Loss of the document about to be trained, before any update of its block (paper §3.5).

    Uses ``train_loss`` at the block's first gradient step where it is recorded (the loss of
    the training forward pass, before the update), else ``loss`` of the trained document at
    the step just before the block.

    Parameters
    ----------
    ds
        A run or several runs.

    Returns
    -------
    xarray.DataArray
        Dim ``episode`` (1..E*T), coordinates ``step`` (the block's first update),
        ``epoch``, ``cycle_position``, ``trained_doc``. Its ``mean_from_epoch_1`` attribute
        (single runs) is the paper's Table 1 number: the mean over epochs 2..E
        (0-based epoch >= 1); see also :func:`mean_prequential_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> loss = np.array([[3.0, 4.0], [1.0, 4.5], [1.5, 2.0], [1.25, 2.25], [1.5, 1.0]])
    >>> ds = synthetic_run(loss, steps_per_doc=1)  # T=2, M=1, E=2; no train_loss recorded
    >>> prequential_loss(ds).values.tolist()  # loss[k-1, trained_doc(k)]
    [3.0, 4.5, 1.5, 2.25]
    """
    loss = written(ds)
    table = episodes(block_table(ds, func="prequential_loss"))
    first = table["first_step"]
    before = first.where(first >= 1, 0) - 1
    values = at_steps(loss, before, doc=table["trained_doc"].where(first >= 0, ds["doc"][0]))
    if "train_loss" in ds.data_vars:
        require(ds, "prequential_loss", "train_loss", ("step",))
        train = at_steps(written(ds, "train_loss"), first)
        values = train.where(train.notnull(), values)
    result = values.assign_coords(
        episode=range(1, first.sizes["episode"] + 1), **_episode_coords(table, first)
    ).rename("prequential_loss")
    result.attrs.update(
        long_name="prequential (online) loss",
        units=ds["loss"].attrs.get("units", "nats"),
        description="loss of the document about to be trained, before its block",
    )
    if result.dims == ("episode",):
        result.attrs["mean_from_epoch_1"] = float(_mean_from(result, 1))
    return result


def _mean_from(online: xr.DataArray, from_epoch: int) -> xr.DataArray:
    return online.where(online["epoch"] >= from_epoch).mean("episode")


def mean_prequential_loss(ds: xr.Dataset, *, from_epoch: int = 1) -> xr.DataArray:
    """Mean prequential loss over the episodes of epochs >= ``from_epoch`` (0-based).

    The default, 1, leaves out the first epoch, in which every document is new: the number the
    paper's Table 1 reports ("epochs 2-5").

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> loss = np.array([[3.0, 4.0], [1.0, 4.5], [1.5, 2.0], [1.25, 2.25], [1.5, 1.0]])
    >>> float(mean_prequential_loss(synthetic_run(loss, steps_per_doc=1)))  # (1.5 + 2.25) / 2
    1.875
    """
    result = _mean_from(prequential_loss(ds), from_epoch).rename("mean_prequential_loss")
    result.attrs.update(
        long_name=f"mean prequential loss (epochs >= {from_epoch}, 0-based)",
        units=ds["loss"].attrs.get("units", "nats"),
    )
    return result
