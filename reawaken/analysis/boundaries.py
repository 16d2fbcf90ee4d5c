"""Losses at document boundaries: the paper's (E*T+1) x T matrix and the prequential loss.

An *episode* is one document block (M gradient steps on one document); episode 0 stands for
step 0, before any update. Both functions read the schedule from the per-step coordinates, so
shuffled orders are handled like cyclic ones.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reawaken.analysis._checks import require
from reawaken.analysis._runs import Schedule, loss_values, schedule_of, take_steps

__all__ = ["boundary_losses", "mean_prequential_loss", "prequential_loss"]


def _episode_coords(
    schedule: Schedule, steps: np.ndarray, epoch: np.ndarray, position: np.ndarray, doc: np.ndarray
) -> dict[str, tuple]:
    """Coordinates on ``episode`` from (B, K) arrays of step and doc positions (-1 = none)."""
    batch = schedule.batch
    step_label = np.where(steps >= 0, schedule.step_label[np.clip(steps, 0, None)], -1)
    doc_label = np.where(doc >= 0, schedule.doc_label[np.clip(doc, 0, None)], -1)
    return {
        "step": batch.coord(step_label, ("episode",)),
        "epoch": batch.coord(epoch, ("episode",)),
        "cycle_position": batch.coord(position, ("episode",)),
        "trained_doc": batch.coord(doc_label, ("episode",)),
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
    schedule = schedule_of(ds, "boundary_losses")
    loss = loss_values(ds, schedule)
    batch = schedule.batch
    steps = np.concatenate([np.zeros((batch.size, 1), dtype=np.int64), schedule.end], axis=1)

    def with_step0(values: np.ndarray) -> np.ndarray:
        return np.concatenate([np.full((batch.size, 1), -1), values], axis=1)

    values = take_steps(loss, steps)
    coords = _episode_coords(
        schedule,
        steps,
        with_step0(schedule.episode_epoch),
        with_step0(schedule.episode_position),
        with_step0(schedule.episode_doc),
    )
    coords.update({"episode": np.arange(steps.shape[1]), "doc": ds["doc"].values})
    return batch.wrap(
        values,
        ("episode", "doc"),
        coords=coords,
        name="boundary_loss",
        attrs={
            "long_name": "loss at document boundaries",
            "units": ds["loss"].attrs.get("units", "nats"),
            "description": "row 0: before training; row k: after the k-th document block",
        },
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
    schedule = schedule_of(ds, "prequential_loss")
    loss = loss_values(ds, schedule)
    batch = schedule.batch
    before = np.where(schedule.start > 0, schedule.start - 1, -1)
    rows = np.arange(batch.size)[:, None]
    from_eval = loss[rows, np.clip(before, 0, None), np.clip(schedule.episode_doc, 0, None)]
    from_eval = np.where(before >= 0, from_eval, np.nan)
    values = from_eval
    if "train_loss" in ds.data_vars:
        require(ds, "prequential_loss", "train_loss", ("step",))
        train = take_steps(loss_values(ds, schedule, "train_loss"), schedule.start)
        values = np.where(np.isfinite(train), train, from_eval)
    coords = _episode_coords(
        schedule,
        schedule.start,
        schedule.episode_epoch,
        schedule.episode_position,
        schedule.episode_doc,
    )
    coords["episode"] = np.arange(1, schedule.start.shape[1] + 1)
    result = batch.wrap(
        values,
        ("episode",),
        coords=coords,
        name="prequential_loss",
        attrs={
            "long_name": "prequential (online) loss",
            "units": ds["loss"].attrs.get("units", "nats"),
            "description": "loss of the document about to be trained, before its block",
        },
    )
    if not batch.dims:
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
