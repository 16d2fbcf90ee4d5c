"""The block table: for each epoch and document, the first and last step of its block.

Every recovery, boundary and curve function reads the training order from this table (built
from the per-step coordinates, never assumed cyclic) and then is a few labelled operations on
``loss``; docs/architecture.md gives the notation.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from reawaken.analysis._checks import RecoveryUndefinedWarning, require

# Public: block_table. The helpers below serve the analysis modules (not re-exported).
__all__ = ["block_table"]

STEP_COORDS = ("epoch", "cycle_position", "trained_doc", "grad_step")
LOSS_DIMS = ("step", "doc")
NONE = -1  # "no such block" in the table's integer variables


def _blocks_of_one_run(
    epoch: np.ndarray,
    position: np.ndarray,
    trained: np.ndarray,
    grad_step: np.ndarray,
    *,
    steps: np.ndarray,
    docs: pd.Index,
    num_epochs: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first_step, last_step, cycle_position), each (epoch, doc), of one run's coordinates.

    A block starts at an update with ``grad_step`` 0 and ends at the update before the next
    start (or before the first step without an update); every order the package writes has
    one block per document and epoch. Blocks of documents that are not labels of ``docs``
    (one-off documents, never evaluated, or documents left out by a selection such as
    ``ds.sel(doc=slice(1, None))``) end the block before them and are not in the table.
    """
    updated = trained >= 0
    starts = updated & (grad_step == 0)
    ends = updated & np.append(~updated[1:] | starts[1:], True)
    doc = docs.get_indexer(np.where(updated, trained, docs[0] if len(docs) else 0))
    tracked = updated & (doc >= 0)
    starts &= tracked
    ends &= tracked
    table = np.full((3, num_epochs, len(docs)), NONE, dtype=np.int64)
    table[0, epoch[starts], doc[starts]] = steps[starts]
    table[1, epoch[ends], doc[ends]] = steps[ends]
    table[2, epoch[starts], doc[starts]] = position[starts]
    return table[0], table[1], table[2]


def block_table(ds: xr.Dataset, *, func: str = "block_table") -> xr.Dataset:
    """For each epoch and document, the first and last step of the document's block.

    A document's block in an epoch is its M consecutive updates. Steps are labels of
    ``step``: step s is the state after the s-th update, so the loss just before the block is
    ``loss[first_step - 1]`` and right after it ``loss[last_step]``.

    Parameters
    ----------
    ds
        A run (:func:`reawaken.open_run`) or several (:func:`reawaken.open_runs`: the table
        gets the ``run`` dim where the runs' orders differ).

    Returns
    -------
    xarray.Dataset
        Dims (``epoch``, ``doc``); variables ``first_step``, ``last_step`` and
        ``cycle_position`` (the block's index in its epoch's order), each -1 where the
        document has no block in that epoch. Epochs may differ in length; one-off documents
        (the ``one_off`` dim: trained once, never evaluated) have no rows, nor documents
        left out by a selection on ``doc`` (their blocks still end the ones before them).

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> ds = synthetic_run(np.zeros((9, 2)), steps_per_doc=2, order=np.array([[1, 0], [0, 1]]))
    >>> table = block_table(ds)
    >>> table.first_step.values.tolist(), table.last_step.values.tolist()
    ([[3, 1], [5, 7]], [[4, 2], [6, 8]])
    >>> one_offs = synthetic_run(np.zeros((6, 2)), steps_per_doc=1, order=[[0, 1, 2], [0, 1]])
    >>> block_table(one_offs).first_step.values.tolist()  # doc 2 is a one-off: no row
    [[1, 2], [4, 5]]
    """
    require(ds, func, "loss", LOSS_DIMS)
    for name in STEP_COORDS:
        require(ds, func, name, ("step",), hint="coordinates on 'step' come with every run store")
    num_epochs = int(ds["epoch"].max()) + 1 if ds.sizes["step"] else 0
    first, last, position = xr.apply_ufunc(
        _blocks_of_one_run,
        *(
            ds[name].reset_coords(drop=True).load()
            for name in ("epoch", "cycle_position", "trained_doc", "grad_step")
        ),
        input_core_dims=[["step"]] * 4,
        output_core_dims=[["epoch", "doc"]] * 3,
        vectorize=True,
        kwargs={
            "steps": ds["step"].values,
            "docs": pd.Index(ds["doc"].values),
            "num_epochs": max(num_epochs, 0),
        },
        dask_gufunc_kwargs={"output_sizes": {"epoch": num_epochs, "doc": ds.sizes["doc"]}},
    )
    table = xr.Dataset(
        {
            "first_step": first.assign_attrs(long_name="first step of the block"),
            "last_step": last.assign_attrs(long_name="last step of the block"),
            "cycle_position": position.assign_attrs(long_name="index in the epoch's order"),
        },
        coords={"epoch": np.arange(num_epochs), "doc": ds["doc"].values},
    )
    return table.assign_attrs(description="-1 where the document has no block in the epoch")


def episodes(table: xr.Dataset) -> xr.Dataset:
    """The blocks in training order: dim ``episode`` (0-based), -1 past a run's last block.

    Variables ``first_step``, ``last_step``, ``epoch``, ``cycle_position`` and ``trained_doc``.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> ds = synthetic_run(np.zeros((5, 2)), steps_per_doc=1, order=np.array([[1, 0], [0, 1]]))
    >>> episodes(block_table(ds)).trained_doc.values.tolist()
    [1, 0, 0, 1]
    """
    flat = table.stack(episode=("epoch", "doc")).reset_index("episode")
    flat = flat.reset_coords(["epoch", "doc"]).rename(doc="trained_doc")
    flat["epoch"] = flat["epoch"].broadcast_like(flat["first_step"])
    flat["trained_doc"] = flat["trained_doc"].broadcast_like(flat["first_step"])
    exists = flat["first_step"] >= 0
    sort_key = flat["first_step"].where(exists, np.iinfo(np.int64).max)
    order = xr.apply_ufunc(
        np.argsort, sort_key, input_core_dims=[["episode"]], output_core_dims=[["episode"]]
    )
    ordered = flat.isel(episode=order).drop_vars("episode", errors="ignore")
    ordered = ordered.where(ordered["first_step"] >= 0, NONE)
    count = int(exists.sum("episode").max()) if exists.size else 0
    return ordered.isel(episode=slice(0, count))


def cycle_length(ds: xr.Dataset) -> xr.DataArray:
    """T of each run: the positions in an epoch's order that evaluated documents take (the
    one-off documents of ``schedule.one_offs`` come after them)."""
    position = ds["cycle_position"].reset_coords(drop=True)
    if "one_off" in ds.coords:
        trained = ds["trained_doc"].reset_coords(drop=True)
        position = position.where(~trained.isin(ds["one_off"].values), NONE)
    return position.max("step") + 1


def epoch_length(ds: xr.Dataset) -> xr.DataArray:
    """Steps per epoch of each run, as a float: T*M, or the mean over epochs where one-off
    documents make them differ."""
    updates = (ds["trained_doc"].reset_coords(drop=True) >= 0).sum("step")
    epochs = ds["epoch"].reset_coords(drop=True).max("step") + 1
    return (updates / epochs.where(epochs > 0)).astype(float)


def written(ds: xr.Dataset, name: str = "loss") -> xr.DataArray:
    """``ds[name]`` as float64, NaN past each run's ``completed_steps``, with only its index
    coordinates and the coordinates of the runs (so results carry no per-step labels).

    A reader may see a block's data a moment before ``completed_steps`` covers it; masking
    keeps every function consistent with the attribute.
    """
    da = ds[name]
    per_step_or_doc = [
        coord
        for coord in da.coords
        if coord not in da.indexes and set(da[coord].dims) & {"step", "doc"}
    ]
    da = da.drop_vars(per_step_or_doc).astype(np.float64)
    if "completed_steps" in ds.coords:
        completed = ds["completed_steps"].reset_coords(drop=True)
    else:
        completed = ds.attrs.get("completed_steps", int(ds["step"].values[-1]))
    return da.where(da["step"] <= completed).load()


def at_steps(values: xr.DataArray, steps: xr.DataArray, **points: xr.DataArray) -> xr.DataArray:
    """``values`` at step labels ``steps`` (and at ``points`` on other dims), pointwise over
    the dims they share; NaN where ``steps`` is -1.
    """
    valid = steps >= 0
    picked = values.sel(step=steps.where(valid, values["step"][0]), **points)
    return picked.where(valid).drop_vars(["step", *points], errors="ignore")


def warn_if_single_epoch(table: xr.Dataset, func: str) -> None:
    """Recovery needs a second presentation; say so once instead of failing."""
    trained = (table["first_step"] >= 0).any(("epoch", "doc"))
    epochs = (table["first_step"] >= 0).any("doc").sum("epoch")
    if bool((trained & (epochs < 2)).any()):
        warnings.warn(
            f"{func}: recovery is undefined for a run with fewer than 2 epochs (a document "
            "must come back); the result holds NaN for it",
            RecoveryUndefinedWarning,
            stacklevel=3,
        )
