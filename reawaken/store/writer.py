"""Create a run store at full size and write it region by region while a run goes on.

Order of writes is what keeps readers safe: data first, then ``completed_steps``, so the
attribute never claims steps whose data is not on disk. Chunks are atomic files (zarr >= 3.1
writes a temporary file and renames it).
"""

from __future__ import annotations

import shutil
import uuid
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

from reawaken.errors import StoreError
from reawaken.store.schema import STATUSES

__all__ = ["CHUNK_CODECS", "RunWriter", "ensure_writable"]

#: Every chunk (data and coordinates) is compressed, then checksummed: a flipped byte fails
#: the read with a checksum error instead of returning wrong numbers.
CHUNK_CODECS: dict[str, Any] = {"compressors": (ZstdCodec(level=0), Crc32cCodec())}


def ensure_writable(path: str | Path, *, overwrite: bool) -> Path:
    """Refuse to replace an existing store unless ``overwrite`` is set (checked before any work)."""
    path = Path(path)
    if path.suffix != ".zarr":
        raise StoreError(f"run store path {path} must end in .zarr")
    if path.exists() and not overwrite:
        raise StoreError(
            f"run store {path} already exists; pass --overwrite to replace it or --name to "
            "write a new one"
        )
    return path


class RunWriter:
    """Writes one run's store; every method leaves the store readable and its attrs true."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.group = zarr.open_group(str(self.path), mode="r+", zarr_format=3)

    @classmethod
    def create(
        cls, path: str | Path, template: xr.Dataset, *, overwrite: bool = False
    ) -> RunWriter:
        """Lay out every array of ``template`` at full size (NaN-filled, nothing computed)."""
        path = ensure_writable(path, overwrite=overwrite)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Lay the store out under a temporary name and rename it: a reader never sees a
        # half-created store.
        staging = path.with_name(f".{path.name}.creating-{uuid.uuid4().hex[:8]}")
        encoding: dict[str, dict[str, Any]] = {
            str(name): dict(CHUNK_CODECS) for name in template.variables
        }
        for name, variable in template.data_vars.items():
            fill = np.nan if np.issubdtype(variable.dtype, np.floating) else -1
            encoding[str(name)]["fill_value"] = fill
        attrs = {
            **template.attrs,
            "status": "running",
            "completed_steps": 0,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        template.assign_attrs(attrs).to_zarr(
            str(staging),
            mode="w",
            compute=False,
            zarr_format=3,
            consolidated=False,
            encoding=encoding,
        )
        if path.exists():
            shutil.rmtree(path)
        staging.rename(path)
        return cls(path)

    def write_steps(self, start: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write rows ``start : start + len`` of step-indexed variables."""
        for name, values in arrays.items():
            self.group[name][start : start + len(values)] = values

    def write_snapshot(self, index: int, arrays: Mapping[str, np.ndarray]) -> None:
        for name, values in arrays.items():
            self.group[name][index] = values

    def clear_after(self, step: int) -> None:
        """NaN-fill every step after ``step`` and every snapshot taken after it (on resume)."""
        snapshot_steps = self.group["snapshot_step"][...] if "snapshot_step" in self.group else []
        first_snapshot = int(np.searchsorted(snapshot_steps, step, side="right"))
        for _, array in self.group.arrays():
            dims = array.metadata.dimension_names or ()
            if not np.issubdtype(array.dtype, np.floating) or not dims:
                continue
            if dims[0] == "step" and array.shape[0] > step + 1:
                array[step + 1 :] = np.nan
            elif dims[0] == "snapshot" and array.shape[0] > first_snapshot:
                array[first_snapshot:] = np.nan

    def write_array(self, name: str, values: np.ndarray) -> None:
        self.group[name][...] = values

    def add_variable(self, name: str, variable: xr.DataArray) -> None:
        """Add (or replace) a variable computed after the run, e.g. ``pairwise_loss_change``.

        Its dims' index coordinates are written too (0..n-1 where the variable has none);
        dims the store has already keep theirs. The group's attributes are untouched, and a
        completed store's consolidated metadata is rewritten to include the new arrays.
        """
        for dim in variable.dims:
            if dim in self.group:
                continue
            index = (
                variable[dim].values if dim in variable.coords else np.arange(variable.sizes[dim])
            )
            self._create(str(dim), (str(dim),), np.asarray(index, dtype=np.int64), {})
        attrs = {
            k: (v.item() if isinstance(v, np.generic) else v) for k, v in variable.attrs.items()
        }
        values = np.asarray(variable.values)
        self._create(name, tuple(str(d) for d in variable.dims), values, attrs)
        if self.group.attrs.get("status") == "completed":
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Consolidated metadata")
                zarr.consolidate_metadata(str(self.path), zarr_format=3)

    def _create(
        self, name: str, dims: tuple[str, ...], values: np.ndarray, attrs: dict[str, Any]
    ) -> None:
        fill = np.nan if np.issubdtype(values.dtype, np.floating) else -1
        array = self.group.create_array(
            name,
            shape=values.shape,
            dtype=values.dtype,
            dimension_names=dims,
            fill_value=fill,
            overwrite=True,
        )
        array[...] = values
        array.attrs.update(attrs)

    def set_progress(self, completed_steps: int) -> None:
        """Record that every step up to ``completed_steps`` is on disk (call after the data)."""
        self.group.attrs["completed_steps"] = int(completed_steps)

    def update_attrs(self, **attrs: Any) -> None:
        self.group.attrs.update(attrs)

    def mark(self, status: str, reason: str | None = None) -> None:
        """Set the run's status (``completed``, ``failed``, ``interrupted``) and why."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        attrs: dict[str, Any] = {
            "status": status,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if reason is not None:
            attrs["reason"] = reason
        self.group.attrs.update(attrs)
        if status == "completed":
            # Consolidate only once the run stops changing (readers of a running store
            # must not see stale consolidated metadata).
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Consolidated metadata")
                zarr.consolidate_metadata(str(self.path), zarr_format=3)
