"""Open many run stores as one lazy Dataset with a ``run`` dim and one coordinate per config key.

Runs of different lengths or sizes are aligned (outer join on ``step``, ``doc``,
``snapshot``, ...; NaN where a run has no data), so a sweep can be grouped by any swept key:
``open_runs("runs/size-*").groupby("model")``.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from reawaken.errors import StoreError
from reawaken.store.reader import open_run, run_config
from reawaken.store.schema import VARIABLES

__all__ = ["CONFIG_COORDS", "combine_runs", "open_each", "open_runs"]

#: Coordinates on ``run`` that every combined Dataset has: name -> dotted config key.
CONFIG_COORDS: dict[str, str] = {
    "model": "model.name",
    "num_docs": "data.num_docs",
    "steps_per_doc": "schedule.steps_per_doc",
    "num_epochs": "schedule.num_epochs",
    "optimizer": "optimizer.name",
    "lr": "optimizer.lr",
    "seed": "seed",
}
#: Attributes that differ by nature between runs: always coordinates on ``run``.
PER_RUN_ATTRS = ("status", "completed_steps", "config", "path")


def _expand(paths_or_glob: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [paths_or_glob] if isinstance(paths_or_glob, str | Path) else list(paths_or_glob)
    paths: list[Path] = []
    for item in items:
        text = str(item)
        if glob.has_magic(text):
            paths.extend(Path(p) for p in sorted(glob.glob(text)))
        elif Path(text).is_dir() and not text.rstrip("/").endswith(".zarr"):
            paths.extend(sorted(Path(text).glob("*.zarr")))  # a folder of runs (a sweep's)
        else:
            paths.append(Path(text))
    if not paths:
        raise StoreError(f"no run stores match {paths_or_glob!r}")
    return paths


def _run_names(paths: Sequence[Path]) -> list[str]:
    names = [p.name.removesuffix(".zarr") for p in paths]
    if len(set(names)) < len(names):  # same store name in different folders
        names = [f"{p.parent.name}/{n}" for p, n in zip(paths, names, strict=True)]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    return names


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_leaves(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _column(values: Sequence[Any]) -> np.ndarray:
    """A coordinate array from per-run values: numbers stay numbers, the rest become text."""
    if all(isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=bool)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.asarray(
        ["" if v is None else v if isinstance(v, str) else json.dumps(v) for v in values],
        dtype=str,
    )


def _config_coords(configs: Sequence[dict[str, Any]], taken: set[str]) -> dict[str, np.ndarray]:
    """The fixed config coordinates plus every other leaf that varies across runs."""
    leaves = [_leaves(c) for c in configs]
    coords: dict[str, np.ndarray] = {}
    for name, dotted in CONFIG_COORDS.items():
        key = name if name not in taken else dotted.replace(".", "_")
        coords[key] = _column([leaf.get(dotted) for leaf in leaves])
    fixed = set(CONFIG_COORDS.values())
    every_key = sorted({key for leaf in leaves for key in leaf} - fixed)
    varying = [
        key
        for key in every_key
        if len({json.dumps(leaf.get(key), sort_keys=True) for leaf in leaves}) > 1
    ]
    short = [key.rsplit(".", 1)[-1] for key in varying]
    for key, leaf_name in zip(varying, short, strict=True):
        clash = short.count(leaf_name) > 1 or leaf_name in taken or leaf_name in coords
        coords[key.replace(".", "_") if clash else leaf_name] = _column(
            [leaf.get(key) for leaf in leaves]
        )
    return coords


def _stacked_coord(
    coords: Sequence[xr.DataArray], combined: xr.Dataset, dim: str
) -> tuple[tuple[str, ...], np.ndarray]:
    """One per-run coordinate (e.g. ``trained_doc`` on ``step``) reindexed to the union index.

    Integer coordinates are filled with -1 (``trained_doc`` -1 = no update), text with "".
    These coordinates are small, so they are loaded here (the data variables stay lazy).
    """
    first = coords[0]
    text = first.dtype.kind in "OUST"
    fill: Any = -1 if np.issubdtype(first.dtype, np.integer) else "" if text else np.nan
    aligned = []
    indexes = combined.indexes
    for coord in coords:
        if all(d in coord.indexes and coord.indexes[d].equals(indexes[d]) for d in coord.dims):
            # The common case in a sweep, and reindexing hundreds of runs would dominate.
            values = np.asarray(coord.variable.values, dtype=object if text else None)
        else:
            values = coord.reset_coords(drop=True).compute()
            if text:
                values = values.copy(data=np.asarray(values.values, dtype=object))
            values = values.reindex({d: combined[d] for d in coord.dims}, fill_value=fill).values
        aligned.append(values.astype(str) if text else values)
    if all(np.array_equal(a, aligned[0]) for a in aligned[1:]):
        return tuple(map(str, first.dims)), aligned[0]
    return (dim, *map(str, first.dims)), np.stack(aligned)


def combine_runs(
    runs: Sequence[xr.Dataset], names: Sequence[str], *, dim: str = "run"
) -> xr.Dataset:
    """Concatenate run Datasets along ``dim`` (see :func:`open_runs`); lazy data stays lazy.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> a = synthetic_run(np.zeros((5, 2)), steps_per_doc=1)
    >>> b = synthetic_run(np.zeros((9, 2)), steps_per_doc=2)
    >>> both = combine_runs([a, b], ["a", "b"])
    >>> dict(both.loss.sizes), both.steps_per_doc.values.tolist()
    ({'run': 2, 'step': 9, 'doc': 2}, [1, 2])
    """
    if len(runs) != len(names) or not runs:
        raise ValueError("combine_runs needs one name per run and at least one run")
    auxiliary = sorted({str(n) for ds in runs for n in ds.coords if n not in ds.indexes})
    stripped = [
        ds.drop_vars([n for n in auxiliary if n in ds.coords]).drop_attrs(deep=False) for ds in runs
    ]
    # Dims without an index (schema v2's `param`, `sketch`) are aligned by position: an
    # index for the join, dropped after it.
    unindexed = sorted({str(d) for ds in runs for d in ds.dims if d not in ds.indexes})
    stripped = [
        ds.assign_coords({d: np.arange(ds.sizes[d]) for d in unindexed if d in ds.dims})
        for ds in stripped
    ]
    ints = {
        str(n): -1
        for ds in runs
        for n, v in ds.data_vars.items()
        if np.issubdtype(v.dtype, np.integer)
    }
    combined = xr.concat(
        stripped,
        dim=dim,
        join="outer",
        data_vars="all",
        coords="minimal",
        compat="override",
        fill_value=ints,
        combine_attrs="drop",
    )
    combined = combined.drop_vars(unindexed)
    combined = combined.assign_coords({dim: np.asarray(list(names), dtype=str)})
    for name in auxiliary:
        present = [ds[name] for ds in runs if name in ds.coords]
        if len(present) == len(runs):
            dims, values = _stacked_coord(present, combined, dim)
            combined = combined.assign_coords({name: (dims, values)})
    # Every schema variable name is taken, also where a lean read left the variable out, so a
    # coordinate's name does not depend on what was read.
    taken = {str(n) for n in combined.variables} | set(map(str, combined.dims)) | set(VARIABLES)
    configs = [run_config(ds) for ds in runs]
    config_coords = _config_coords(configs, taken)
    combined = combined.assign_coords({k: (dim, v) for k, v in config_coords.items()})
    attrs_keys = sorted({str(k) for ds in runs for k in ds.attrs})
    shared: dict[str, Any] = {}
    for key in attrs_keys:
        values = [ds.attrs.get(key) for ds in runs]
        same = len({json.dumps(v, sort_keys=True, default=str) for v in values}) == 1
        if same and key not in PER_RUN_ATTRS:
            shared[key] = values[0]
            continue
        column = _column(values)
        if key in config_coords and np.array_equal(column, config_coords[key]):
            continue  # e.g. the attribute 'seed' repeats the config's seed
        name = key if key not in combined.variables else f"attr_{key}"
        combined = combined.assign_coords({name: (dim, column)})
    combined.attrs = shared
    return combined


def open_runs(
    paths_or_glob: str | Path | Iterable[str | Path],
    dim: str = "run",
    *,
    variables: Collection[str] | None = None,
    workers: int = 8,
) -> xr.Dataset:
    """Open several run stores as one lazy Dataset with an extra ``run`` dim.

    Each store is opened (and checked) with :func:`reawaken.open_run`, ``workers`` stores at
    a time (threads: the time goes into reading small files), then all are
    concatenated along ``dim``; runs of different length or size are aligned with NaN (outer
    join on ``step``, ``doc``, ``snapshot``, ...). Per-step coordinates such as
    ``trained_doc`` stay 1-D when all runs agree and become (``run``, ``step``) otherwise,
    with -1 where a run has no such step.

    Coordinates on ``run``: ``run`` (the store's folder name without ``.zarr``), the config
    values ``model``, ``num_docs``, ``steps_per_doc``, ``num_epochs``, ``optimizer``, ``lr``
    (named ``optimizer_lr``, because the per-step variable ``lr`` holds the learning rate
    schedule), ``seed``, every other config leaf that differs between the runs (by leaf name;
    by dotted path with ``_`` for ``.`` where two leaves share a name), and the per-run
    attributes ``status``, ``completed_steps``, ``config`` (JSON), ``path`` and any other
    attribute that differs. Attributes that all runs share stay in ``attrs``.

    Parameters
    ----------
    paths_or_glob
        A glob pattern (``"runs/size-*.zarr"``), a path, or a list of paths or patterns.
    dim
        Name of the new dimension.
    variables
        Keep only these data variables, read into memory at once (see
        :func:`reawaken.open_run`): ``open_runs(paths, variables=SUMMARY_VARIABLES)`` reads
        what :func:`reawaken.analysis.summary` needs from 200 paper-size stores in seconds.
    workers
        Stores opened at a time.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> import reawaken.analysis
    >>> from reawaken.testing import synthetic_config, synthetic_run, write_store
    >>> runs = tempfile.mkdtemp()
    >>> for size in ("small", "large"):
    ...     config = synthetic_config(2, 1, 2, **{"model.name": size})
    ...     run = synthetic_run(np.ones((5, 2)), steps_per_doc=1, config=config,
    ...                         arrays={"train_loss": np.ones(5)})
    ...     _ = write_store(run, f"{runs}/size-{size}.zarr")
    >>> sweep = open_runs(f"{runs}/size-*.zarr")  # e.g. open_runs("runs/size-*.zarr")
    >>> sweep.model.values.tolist(), sweep.loss.dims
    (['large', 'small'], ('run', 'step', 'doc'))
    >>> sweep.reawaken.summary().final_mean_loss.groupby("model").mean().values.tolist()
    [1.0, 1.0]
    """
    paths = _expand(paths_or_glob)
    runs = open_each(paths, variables=variables, workers=workers)
    for run in runs:
        if isinstance(run, StoreError):
            raise run
    return combine_runs(runs, _run_names(paths), dim=dim)  # type: ignore[arg-type]


def open_each(
    paths: Sequence[str | Path], *, variables: Collection[str] | None = None, workers: int = 8
) -> list[xr.Dataset | StoreError]:
    """Open every store with :func:`reawaken.open_run`, ``workers`` at a time (threads).

    A store that cannot be opened gives its :class:`~reawaken.errors.StoreError` in its place,
    so a listing of many runs shows the damaged ones instead of failing.

    Examples
    --------
    >>> open_each(["no/such.zarr"])
    [StoreError('no run store at no/such.zarr: the path does not exist')]
    """

    def attempt(path: str | Path) -> xr.Dataset | StoreError:
        try:
            return open_run(path, variables=variables)
        except StoreError as error:
            return error

    if not paths:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(paths)))) as pool:
        return list(pool.map(attempt, paths))
