"""Open run stores as lazy xarray Datasets, refusing foreign or damaged ones by name.

Readers never trust a store blindly: the schema version, the required variables and their
dims are checked first, so an old or foreign store gives a message instead of wrong numbers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import xarray as xr
import zarr

from reawaken.errors import StoreError
from reawaken.store.lean import read_lean
from reawaken.store.schema import (
    COORDINATES,
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    STATUSES,
    V1_INDEX_COORDINATES,
    VARIABLES,
)

__all__ = [
    "as_current_schema",
    "attribute_problems",
    "config_digest",
    "open_run",
    "open_store",
    "read_attrs",
    "run_config",
    "structural_problems",
]


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


def config_digest(config_json: str) -> str:
    """SHA-256 of the stored config text, written as ``config_sha256`` when a run is created.

    Examples
    --------
    >>> config_digest('{"seed": 3}')[:12]
    '1391dc1f10fa'
    """
    return hashlib.sha256(config_json.encode()).hexdigest()


def _config_problem(attrs: Mapping[str, Any]) -> str | None:
    raw = attrs.get("config", "{}")
    try:
        config = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        config = None
    if not isinstance(config, dict):
        return (
            f"attribute 'config' is not a valid run configuration (a JSON object), got "
            f"{str(raw)[:40]!r}"
        )
    digest = attrs.get("config_sha256")
    if digest is not None and digest != config_digest(raw):
        return (
            "its stored config was changed after the run was created (it no longer matches "
            "attribute 'config_sha256'); its data belong to the old config: start a new run"
        )
    return None


def attribute_problems(attrs: Mapping[str, Any]) -> list[str]:
    """What is wrong with a run's schema and config attributes (validated on every read).

    Stores written before ``config_sha256`` existed have no digest; their config is only
    checked to be a JSON object.

    Examples
    --------
    >>> attribute_problems({"schema_version": "abc"})
    ["attribute 'schema_version' is 'abc', expected an integer"]
    """
    version = attrs.get("schema_version")
    if version is None:
        return ["it has no 'schema_version' attribute: not a reawaken run store"]
    if not isinstance(version, int) or isinstance(version, bool):
        return [f"attribute 'schema_version' is {version!r}, expected an integer"]
    if version not in READABLE_VERSIONS:
        readable = " or ".join(map(str, READABLE_VERSIONS))
        return [
            f"it has schema version {version}; this reawaken reads version {readable} "
            "(open it with the reawaken release that wrote it)"
        ]
    problem = _config_problem(attrs)
    return [problem] if problem else []


def run_config(ds_or_attrs: xr.Dataset | Mapping[str, Any]) -> dict[str, Any]:
    """The resolved run configuration stored in a run's attributes, as a dict.

    Raises :class:`StoreError` naming the problem when the attribute is not a JSON object
    or no longer matches its digest.

    Examples
    --------
    >>> run_config({"config": '{"seed": 3}'})
    {'seed': 3}
    """
    attrs = ds_or_attrs.attrs if isinstance(ds_or_attrs, xr.Dataset) else ds_or_attrs
    problem = _config_problem(attrs)
    if problem:
        raise StoreError(problem)
    raw = attrs.get("config", "{}")
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def as_current_schema(ds: xr.Dataset) -> xr.Dataset:
    """A store of an older readable schema version as the current one (others unchanged).

    Version 1 differs from version 2 only by the index coordinates of ``param`` and
    ``sketch``, dropped here, and by holding rectangular schedules only, which version 2's
    per-step coordinates describe as they are. The stored version stays in
    ``attrs["stored_schema_version"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run, v1_layout
    >>> old = v1_layout(synthetic_run(np.zeros((3, 2)), steps_per_doc=1,
    ...     arrays={"weight_sketch": np.zeros((3, 4))}))
    >>> "sketch" in old.coords, old.attrs["schema_version"]
    (True, 1)
    >>> new = as_current_schema(old)
    >>> "sketch" in new.coords, new.attrs["schema_version"], new.attrs["stored_schema_version"]
    (False, 2, 1)
    """
    version = ds.attrs.get("schema_version")
    if version == SCHEMA_VERSION or version not in READABLE_VERSIONS:
        return ds
    ds = ds.drop_vars([name for name in V1_INDEX_COORDINATES if name in ds.coords])
    return ds.assign_attrs(schema_version=SCHEMA_VERSION, stored_schema_version=version)


def structural_problems(ds: xr.Dataset) -> list[str]:
    """What makes ``ds`` not a run of a readable schema version: missing variables, wrong
    dims, bad attributes.

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
    problems = attribute_problems(ds.attrs)
    if problems:
        return problems
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


def _keep(ds: xr.Dataset, names: set[str]) -> xr.Dataset:
    """``ds`` with only the data variables in ``names``; every coordinate stays."""
    return ds.drop_vars([name for name in ds.data_vars if name not in names])


def open_store(path: str | Path) -> xr.Dataset:
    """Open a store's arrays lazily, unchecked: the first half of :func:`open_run` and of
    :func:`reawaken.store.check.check_run`. Raises :class:`StoreError` where it cannot."""
    path = Path(path)
    attrs = read_attrs(path)
    # A version-1 store's `param` index can be ~1 GB: never load it (open_zarr loads indexes).
    dropped = V1_INDEX_COORDINATES if attrs.get("schema_version") == 1 else ()
    try:
        ds = xr.open_zarr(str(path), consolidated=False, zarr_format=3, drop_variables=dropped)
    except Exception as error:
        raise StoreError(f"{path} is damaged: xarray cannot open it ({error})") from error
    return as_current_schema(ds)


def open_run(path: str | Path, *, variables: Collection[str] | None = None) -> xr.Dataset:
    """Open one run store as a lazy (dask-backed) Dataset, also while it is being written.

    Where nothing is written yet the arrays read as NaN; ``ds.attrs["completed_steps"]`` says
    how far the data goes. A store that ``reawaken check`` finds problems in is refused with
    them (the same checks: attributes, schema, and every written chunk's checksum).

    With ``variables`` (e.g. ``("loss",)``) only those data variables (the ones the store
    has) are kept, read into memory straight from the chunk files: the fast way to read many
    stores when a few variables are needed (:data:`reawaken.analysis.SUMMARY_VARIABLES`).
    The checks are the same, on the structure of the whole store and on the data read.

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
    from reawaken.store.check import (
        CHECKED_VARIABLES,
        data_problems,
        run_problems,
    )  # builds on this

    if variables is None:
        ds = open_store(path)
        problems = run_problems(ds)
    else:
        read_attrs(path)
        wanted = set(variables) | CHECKED_VARIABLES
        try:
            ds = as_current_schema(read_lean(path, wanted))
        except Exception as error:  # codecs raise many types for a damaged chunk
            raise StoreError(f"{path} is damaged: a chunk cannot be read ({error})") from error
        problems = structural_problems(ds)
        ds = _keep(ds, wanted)  # placeholders out: the data checks read only what was read
        problems = problems or data_problems(ds)
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
