"""Open run stores as lazy xarray Datasets, refusing foreign or damaged ones by name.

Readers never trust a store blindly: the schema version, the required variables and their
dims are checked first, so an old or foreign store gives a message instead of wrong numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import xarray as xr
import zarr

from reawaken.errors import StoreError
from reawaken.store.schema import COORDINATES, SCHEMA_VERSION, STATUSES, VARIABLES

__all__ = ["open_run", "read_attrs", "run_config", "structural_problems"]


def read_attrs(path: str | Path) -> dict[str, Any]:
    """The root attributes of a store, without opening its arrays.

    Raises :class:`StoreError` when ``path`` is not a readable Zarr group.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no run store at {path}: the path does not exist")
    if not (path / "zarr.json").is_file():
        raise StoreError(
            f"{path} is not a run store: it has no zarr.json (expected a folder written by "
            "`reawaken run`)"
        )
    try:
        group = zarr.open_group(str(path), mode="r")
        return dict(group.attrs)
    except Exception as error:  # zarr raises several types for damaged metadata
        raise StoreError(
            f"{path} is damaged: its Zarr metadata cannot be read ({error})"
        ) from error


def run_config(ds_or_attrs: xr.Dataset | dict[str, Any]) -> dict[str, Any]:
    """The resolved run configuration stored in a run's attributes, as a dict.

    Examples
    --------
    >>> run_config({"config": '{"seed": 3}'})
    {'seed': 3}
    """
    attrs = ds_or_attrs.attrs if isinstance(ds_or_attrs, xr.Dataset) else ds_or_attrs
    raw = attrs.get("config", "{}")
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def structural_problems(ds: xr.Dataset) -> list[str]:
    """What makes ``ds`` not a schema-v1 run: missing variables, wrong dims, bad attributes.

    Variables and coordinates are checked against their declaration in
    :mod:`reawaken.store.schema` (dims and dtypes); a coordinate is required wherever its dims
    are in the store. Returns an empty list for a valid run.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> ds = synthetic_run(np.zeros((3, 2)), steps_per_doc=1)
    >>> structural_problems(ds)
    []
    >>> structural_problems(ds.assign(lr=ds.lr.astype("float64")))
    ["variable 'lr' has dtype float64, expected float32"]
    """
    problems: list[str] = []
    version = ds.attrs.get("schema_version")
    if version is None:
        return ["it has no 'schema_version' attribute: not a reawaken run store"]
    if int(version) != SCHEMA_VERSION:
        return [
            f"it has schema version {version}; this reawaken reads version {SCHEMA_VERSION} "
            "(open it with the reawaken release that wrote it)"
        ]
    for name, spec in VARIABLES.items():
        if name not in ds.variables:
            if spec.required:
                problems.append(f"required variable '{name}' is missing")
            continue
        if ds[name].dims != spec.dims:
            problems.append(f"variable '{name}' has dims {ds[name].dims}, expected {spec.dims}")
        elif ds[name].dtype != spec.dtype:
            problems.append(f"variable '{name}' has dtype {ds[name].dtype}, expected {spec.dtype}")
    for name, coordinate in COORDINATES.items():
        on = ", ".join(f"'{dim}'" for dim in coordinate.dims)
        if set(coordinate.dims) <= set(ds.dims) and (
            name not in ds.coords or ds[name].dims != coordinate.dims
        ):
            problems.append(f"coordinate '{name}' on {on} is missing")
    status = ds.attrs.get("status")
    if status not in STATUSES:
        problems.append(f"attribute 'status' is {status!r}, expected one of {STATUSES}")
    completed = ds.attrs.get("completed_steps")
    if not isinstance(completed, int) or not 0 <= completed < ds.sizes.get("step", 0):
        problems.append(
            f"attribute 'completed_steps' is {completed!r}, expected an integer in "
            f"[0, {ds.sizes.get('step', 0) - 1}]"
        )
    return problems


def open_run(path: str | Path) -> xr.Dataset:
    """Open one run store as a lazy (dask-backed) Dataset, also while it is being written.

    Where nothing is written yet the arrays read as NaN; ``ds.attrs["completed_steps"]`` says
    how far the data goes.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run, write_store
    >>> run = synthetic_run(np.ones((5, 2)), steps_per_doc=1, arrays={"train_loss": np.ones(5)})
    >>> path = write_store(run, f"{tempfile.mkdtemp()}/default.zarr")
    >>> ds = open_run(path)  # e.g. open_run("runs/default.zarr")
    >>> ds.loss.sel(doc=0).values.tolist(), ds.attrs["completed_steps"]
    ([1.0, 1.0, 1.0, 1.0, 1.0], 4)
    """
    path = Path(path)
    read_attrs(path)
    try:
        ds = xr.open_zarr(str(path), consolidated=False, zarr_format=3)
    except Exception as error:
        raise StoreError(f"{path} is damaged: xarray cannot open it ({error})") from error
    from reawaken.store.check import step_data_problems  # check builds on this module

    problems = structural_problems(ds) or step_data_problems(ds)
    if problems:
        raise StoreError(
            f"{path} is not a valid reawaken run: "
            + "; ".join(problems)
            + f" (run `reawaken check {path}` for the full report)"
        )
    ds.attrs["path"] = str(path)
    return ds
