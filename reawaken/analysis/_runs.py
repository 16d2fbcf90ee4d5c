"""The training schedule of one run or many as numpy arrays: the core of the analysis functions.

Analysis code works on a leading batch axis ``B``: the flattened extra dims of the input (the
``run`` dim of :func:`reawaken.open_runs`, or none for one run), so many runs go through the
same vectorised numpy code and no function loops over runs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from reawaken.analysis._checks import RecoveryUndefinedWarning, require
from reawaken.errors import StoreError

__all__ = [
    "Batch",
    "Schedule",
    "loss_values",
    "run_values",
    "schedule_of",
    "take_steps",
    "zero_absent_features",
]

STEP_COORDS = ("epoch", "cycle_position", "trained_doc", "grad_step")
LOSS_DIMS = ("step", "doc")


@dataclass(frozen=True)
class Batch:
    """The dims of an input that are not the function's own (e.g. ``run``), flattened to ``B``."""

    dims: tuple[str, ...]
    shape: tuple[int, ...]
    coords: Mapping[str, xr.Variable]

    @classmethod
    def of(cls, da: xr.DataArray, core: Sequence[str]) -> Batch:
        dims = tuple(str(d) for d in da.dims if d not in core)
        shape = tuple(da.sizes[d] for d in dims)
        coords = {
            str(name): coord.variable
            for name, coord in da.coords.items()
            if set(coord.dims) <= set(dims) and name not in core
        }
        return cls(dims, shape, coords)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def values(self, da: xr.DataArray, core: Sequence[str]) -> np.ndarray:
        """``da`` as a (B, *core) numpy array, broadcast over batch dims it lacks."""
        missing = {d: n for d, n in zip(self.dims, self.shape, strict=True) if d not in da.dims}
        if missing:
            da = da.expand_dims(missing)
        extra = [d for d in da.dims if d not in self.dims and d not in core]
        if extra:
            raise StoreError(
                f"{da.name!r} has dims {tuple(da.dims)}; expected {self.dims + tuple(core)}"
            )
        array = np.asarray(da.transpose(*self.dims, *core).values)
        return array.reshape((self.size, *array.shape[len(self.dims) :]))

    def coord(self, values: np.ndarray, dims: Sequence[str]) -> tuple[tuple[str, ...], Any]:
        """A coordinate from (B, ...) values: on ``dims`` alone when every batch row agrees."""
        values = np.asarray(values)
        same = np.array_equal(
            values, np.broadcast_to(values[:1], values.shape), equal_nan=values.dtype.kind == "f"
        )
        if self.size == 1 or same:
            return tuple(dims), values[0]
        return self.dims + tuple(dims), values.reshape(self.shape + values.shape[1:])

    def wrap(
        self,
        values: np.ndarray,
        dims: Sequence[str],
        *,
        coords: Mapping[str, Any] | None = None,
        name: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> xr.DataArray:
        """A DataArray from (B, ...) values, with the batch dims and their coordinates back."""
        values = np.asarray(values)
        data = values.reshape(self.shape + values.shape[1:])
        da = xr.DataArray(data, dims=self.dims + tuple(dims), coords=dict(coords or {}), name=name)
        da = da.assign_coords(self.coords)
        da.attrs.update(attrs or {})
        return da


@dataclass(frozen=True)
class Schedule:
    """Which document was trained when, per batch entry ``b``; -1 marks "none".

    Steps and documents are positions along ``step`` and ``doc`` (``step_label`` and
    ``doc_label`` give the labels). Episodes ``k`` are document blocks in training order.
    """

    batch: Batch
    step_label: np.ndarray  # (S,)
    doc_label: np.ndarray  # (D,)
    epoch: np.ndarray  # (B, S)
    cycle_position: np.ndarray  # (B, S)
    doc: np.ndarray  # (B, S) position of the trained doc
    grad_step: np.ndarray  # (B, S)
    start: np.ndarray  # (B, K) first update step of each block
    end: np.ndarray  # (B, K) last step of each block
    episode_doc: np.ndarray  # (B, K)
    episode_epoch: np.ndarray  # (B, K)
    episode_position: np.ndarray  # (B, K)
    first_start: np.ndarray  # (B, E, D) first update step of doc i's block(s) in epoch e
    last_end: np.ndarray  # (B, E, D) last step of doc i's block(s) in epoch e
    position: np.ndarray  # (B, E, D) cycle position of doc i in epoch e
    completed: np.ndarray  # (B,) last step whose data is written

    @property
    def num_epochs(self) -> np.ndarray:
        return self.epoch.max(axis=1) + 1

    @property
    def num_docs(self) -> np.ndarray:
        """T of each run: the length of its cycle."""
        return self.cycle_position.max(axis=1) + 1

    @property
    def steps_per_doc(self) -> np.ndarray:
        return self.grad_step.max(axis=1) + 1

    @property
    def num_updates(self) -> np.ndarray:
        return (self.doc >= 0).sum(axis=1)

    def warn_if_single_epoch(self, func: str) -> None:
        """Recovery needs a second presentation; say so once instead of failing."""
        trained = self.num_updates > 0
        if np.any(trained & (self.num_epochs < 2)):
            warnings.warn(
                f"{func}: recovery is undefined for a run with fewer than 2 epochs (a document "
                "must come back); the result holds NaN for it",
                RecoveryUndefinedWarning,
                stacklevel=3,
            )


def zero_absent_features(values: np.ndarray) -> np.ndarray:
    """Set to 0 the features (last axis) that are NaN throughout a batch entry.

    Runs of different sizes combined by :func:`reawaken.open_runs` are padded with NaN along
    ``hidden``, ``sketch`` or ``param``; those features do not exist for that run.
    """
    absent = np.isnan(values).all(axis=tuple(range(1, values.ndim - 1)), keepdims=True)
    return np.where(absent, 0.0, values) if absent.any() else values


def run_values(ds: xr.Dataset, batch: Batch, name: str, default: Any) -> np.ndarray:
    """A per-run attribute as (B,) values: a coordinate on the batch dims, else ``ds.attrs``."""
    if name in ds.coords and set(ds[name].dims) <= set(batch.dims):
        return batch.values(ds[name], ())
    return np.full(batch.size, ds.attrs.get(name, default))


def _block_edges(
    upd: np.ndarray, epoch: np.ndarray, position: np.ndarray
) -> tuple[np.ndarray, ...]:
    same_as_previous = np.zeros_like(upd)
    same_as_previous[:, 1:] = (
        upd[:, :-1] & (epoch[:, 1:] == epoch[:, :-1]) & (position[:, 1:] == position[:, :-1])
    )
    is_start = upd & ~same_as_previous
    same_as_next = np.zeros_like(upd)
    same_as_next[:, :-1] = same_as_previous[:, 1:] & upd[:, 1:]
    return is_start, upd & ~same_as_next


def _episode_table(flags: np.ndarray, size: int) -> np.ndarray:
    """(B, size) step of the k-th flagged step of each row, -1 past the row's count."""
    rows, steps = np.nonzero(flags)
    k = np.cumsum(flags, axis=1)[rows, steps] - 1
    table = np.full((flags.shape[0], size), -1, dtype=np.int64)
    table[rows, k] = steps
    return table


def take_steps(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``values[b, steps[b, ...]]`` for (B, S, ...) values; NaN where ``steps`` is -1."""
    flat = steps.reshape(steps.shape[0], -1)
    taken = np.take_along_axis(
        values, np.clip(flat, 0, None).reshape(flat.shape + (1,) * (values.ndim - 2)), axis=1
    )
    taken = np.where((flat >= 0).reshape(flat.shape + (1,) * (values.ndim - 2)), taken, np.nan)
    return taken.reshape(steps.shape + values.shape[2:])


def take_doc_steps(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``values[b, steps[b, ..., i], i]`` for (B, S, D) values and (B, ..., D) steps."""
    b = np.arange(values.shape[0]).reshape((-1,) + (1,) * (steps.ndim - 1))
    i = np.arange(values.shape[2])
    taken = values[b, np.clip(steps, 0, None), i]
    return np.where(steps >= 0, taken, np.nan)


def schedule_of(ds: xr.Dataset, func: str, batch: Batch | None = None) -> Schedule:
    """The :class:`Schedule` of ``ds``, read from the per-step coordinates (never assumed)."""
    loss = require(ds, func, "loss", LOSS_DIMS)
    for name in STEP_COORDS:
        require(ds, func, name, ("step",), hint="coordinates on 'step' come with every run store")
    if batch is None:
        batch = Batch.of(loss, LOSS_DIMS)
    coords = {name: batch.values(ds[name], ("step",)).astype(np.int64) for name in STEP_COORDS}
    doc_label = ds["doc"].values
    trained = coords["trained_doc"]
    doc = pd.Index(doc_label).get_indexer(trained.ravel()).reshape(trained.shape)
    if np.any((doc < 0) & (trained >= 0)):
        unknown = sorted(set(trained[(doc < 0) & (trained >= 0)].tolist()))
        raise StoreError(f"{func}: trained_doc values {unknown[:5]} are not labels of 'doc'")
    epoch, position = coords["epoch"], coords["cycle_position"]
    is_start, is_end = _block_edges(doc >= 0, epoch, position)
    size = int(is_start.sum(axis=1).max(initial=0))
    start, end = _episode_table(is_start, size), _episode_table(is_end, size)
    valid = start >= 0
    episode_doc = np.where(valid, np.take_along_axis(doc, np.clip(start, 0, None), axis=1), -1)
    episode_epoch = np.where(valid, np.take_along_axis(epoch, np.clip(start, 0, None), axis=1), -1)
    episode_position = np.where(
        valid, np.take_along_axis(position, np.clip(start, 0, None), axis=1), -1
    )
    num_epochs, num_docs = int(epoch.max(initial=-1)) + 1, len(doc_label)
    shape = (batch.size, num_epochs, num_docs)
    index = (np.nonzero(valid)[0], episode_epoch[valid], episode_doc[valid])
    first_start = np.full(shape, np.iinfo(np.int64).max)
    np.minimum.at(first_start, index, start[valid])
    first_start[first_start == np.iinfo(np.int64).max] = -1
    last_end = np.full(shape, -1, dtype=np.int64)
    np.maximum.at(last_end, index, end[valid])
    table_position = np.full(shape, -1, dtype=np.int64)
    table_position[index] = episode_position[valid]
    step_label = ds["step"].values
    completed_label = run_values(ds, batch, "completed_steps", int(step_label[-1])).astype(float)
    completed_label = np.where(np.isfinite(completed_label), completed_label, -1)
    completed = np.searchsorted(step_label, completed_label, side="right") - 1
    return Schedule(
        batch=batch,
        step_label=step_label,
        doc_label=doc_label,
        epoch=epoch,
        cycle_position=position,
        doc=doc,
        grad_step=coords["grad_step"],
        start=start,
        end=end,
        episode_doc=episode_doc,
        episode_epoch=episode_epoch,
        episode_position=episode_position,
        first_start=first_start,
        last_end=last_end,
        position=table_position,
        completed=completed,
    )


def loss_values(ds: xr.Dataset, schedule: Schedule, name: str = "loss") -> np.ndarray:
    """(B, S, ...) float64 values of a step variable, NaN past each run's ``completed_steps``.

    A reader may see a block's data a moment before ``completed_steps`` covers it; masking
    keeps every function consistent with the attribute.
    """
    da = ds[name]
    core = ["step", *(str(d) for d in da.dims if d not in schedule.batch.dims and d != "step")]
    values = schedule.batch.values(da, core).astype(np.float64)
    late = np.arange(values.shape[1])[None, :] > schedule.completed[:, None]
    values[late] = np.nan
    return values
