"""Open run stores as lazy xarray Datasets, refusing foreign or damaged ones by name.

Readers never trust a store blindly: the schema version, the required variables and their
dims are checked first, so an old or foreign store gives a message instead of wrong numbers.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import xarray as xr
import zarr

from reawaken.errors import StoreError
from reawaken.store.lean import read_lean
from reawaken.store.schema import SCHEMA_VERSION, STATUSES, VARIABLES

__all__ = ["open_run", "read_attrs", "run_config", "structural_problems"]


def _require_store(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no run store at {path}: the path does not exist")
    if not (path / "zarr.json").is_file():
        raise StoreError(
            f"{path} is not a run store: it has no zarr.json (expected a folder written by "
            "`reawaken run`)"
        )
    return path


def read_attrs(path: str | Path) -> dict[str, Any]:
    """The root attributes of a store, without opening its arrays.

    Raises :class:`StoreError` when ``path`` is not a readable Zarr group.
    """
    path = _require_store(path)
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

    Returns an empty list for a valid run.
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
    for coord in ("epoch", "cycle_position", "trained_doc", "grad_step"):
        if coord not in ds.coords or ds[coord].dims != ("step",):
            problems.append(f"coordinate '{coord}' on 'step' is missing")
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


def _keep(ds: xr.Dataset, names: set[str]) -> xr.Dataset:
    """``ds`` with only the data variables in ``names``; every coordinate stays."""
    return ds.drop_vars([name for name in ds.data_vars if name not in names])


def open_run(path: str | Path, *, variables: Collection[str] | None = None) -> xr.Dataset:
    """Open one run store as a lazy (dask-backed) Dataset, also while it is being written.

    Where nothing is written yet the arrays read as NaN; ``ds.attrs["completed_steps"]`` says
    how far the data goes. With ``variables`` (e.g. ``("loss",)``) only those data variables
    (the ones the store has) are kept, read into memory straight from the chunk files: the
    fast way to read many stores when a few variables are needed
    (:data:`reawaken.analysis.SUMMARY_VARIABLES`).

    Examples
    --------
    >>> ds = open_run("runs/default.zarr")  # doctest: +SKIP
    >>> ds.loss.sel(doc=0).plot()  # doctest: +SKIP
    """
    path = _require_store(path)
    if variables is None:
        read_attrs(path)
    from reawaken.store.check import CHECKED_VARIABLES, step_data_problems  # builds on this

    try:
        if variables is None:
            ds = xr.open_zarr(str(path), consolidated=False, zarr_format=3)
        else:
            ds = read_lean(path, set(variables) | CHECKED_VARIABLES)
    except Exception as error:
        raise StoreError(f"{path} is damaged: xarray cannot open it ({error})") from error
    problems = structural_problems(ds)
    if variables is not None:  # placeholders out: the check reads only what was read
        ds = _keep(ds, set(variables) | CHECKED_VARIABLES)
    problems = problems or step_data_problems(ds)
    if problems:
        raise StoreError(
            f"{path} is not a valid reawaken run: "
            + "; ".join(problems)
            + f" (run `reawaken check {path}` for the full report)"
        )
    if variables is not None:
        ds = _keep(ds, set(variables))
    ds.attrs["path"] = str(path)
    return ds
