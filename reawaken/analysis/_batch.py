"""A batch axis for the probe analyses: the extra dims of an input (e.g. ``run``) flattened.

The similarity and trajectory functions run per-run linear algebra (cosines, CKA, PCA via a
Gram matrix) in numpy over a leading batch axis ``B``, so many runs go through the same code.
The loss-based measures do not need it: they are xarray operations over the block table
(:mod:`reawaken.analysis.blocks`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from reawaken.errors import StoreError

__all__ = ["Batch", "zero_absent_features"]


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


def zero_absent_features(values: np.ndarray) -> np.ndarray:
    """Set to 0 the features (last axis) that are NaN throughout a batch entry.

    Runs of different sizes combined by :func:`reawaken.open_runs` are padded with NaN along
    ``hidden``, ``sketch`` or ``param``; those features do not exist for that run.
    """
    absent = np.isnan(values).all(axis=tuple(range(1, values.ndim - 1)), keepdims=True)
    return np.where(absent, 0.0, values) if absent.any() else values
