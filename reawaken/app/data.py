"""The app's only data access and only cache: find runs, open them, cache analysis results.

Loaders are cached with ``pn.cache`` on plain strings and numbers (the store path and its
``completed_steps``), never on Datasets, which Panel would hash by content. A run that grows
gets a new key, so a running run is re-read as it advances. Only stores under the runs folder
are opened. Cached results are shared between sessions: treat them as read-only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import xarray as xr

from reawaken.config import stored_total_steps
from reawaken.errors import ReawakenError, StoreError
from reawaken.store.combine import combine_runs, open_each
from reawaken.store.lock import display_status
from reawaken.store.reader import open_run, read_attrs, run_config

__all__ = [
    "RUNS_ENV",
    "RunEntry",
    "analysed",
    "latest_snapshot",
    "load_run",
    "require",
    "resolve_run",
    "run_scores",
    "runs_folder",
    "scan_runs",
    "sweep_scores",
]

logger = logging.getLogger(__name__)

RUNS_ENV = "REAWAKEN_RUNS"
# Variables read into memory when a run is opened: per-step arrays are small (even 10,001
# steps x 200 documents is 8 MB); snapshots of activations and weights stay lazy.
_EAGER = ("loss", "train_loss", "lr", "grad_norm")


def runs_folder(default: str | Path = "runs") -> Path:
    """The folder the app reads runs from: ``$REAWAKEN_RUNS``, else ``runs/`` in the cwd.

    Examples
    --------
    >>> import os
    >>> runs_folder("runs") == Path(os.environ.get(RUNS_ENV) or "runs").resolve()
    True
    """
    return Path(os.environ.get(RUNS_ENV) or default).expanduser().resolve()


@dataclass(frozen=True)
class RunEntry:
    """One row of the runs table: what a store's attributes say, or why it cannot be read."""

    name: str
    path: str
    status: str
    completed_steps: int = 0
    total_steps: int = 0
    model: str = ""
    num_docs: int = 0
    steps_per_doc: int = 0
    num_epochs: int = 0
    optimizer: str = ""
    order: str = ""
    created: str = ""
    error: str = ""

    @property
    def readable(self) -> bool:
        return not self.error

    @property
    def progress(self) -> float:
        """Percentage of the run's updates done (0-100)."""
        return 100.0 * self.completed_steps / self.total_steps if self.total_steps else 0.0


def resolve_run(runs_dir: str | Path, path: str | Path) -> Path:
    """The absolute path of a store, refusing any path outside ``runs_dir``.

    Relative paths are taken from ``runs_dir``; symbolic links are resolved before the check.

    Examples
    --------
    >>> root = Path("/data/runs").resolve()
    >>> resolve_run(root, "a.zarr") == root / "a.zarr"
    True
    >>> resolve_run(root, "../secret.zarr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    reawaken.errors.StoreError: refused: ../secret.zarr is outside the runs folder ...
    """
    root = Path(runs_dir).expanduser().resolve()
    candidate = Path(path).expanduser()
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise StoreError(
            f"refused: {path} is outside the runs folder {root}; the app only reads stores "
            f"under it (move the run there, or start the app with {RUNS_ENV}=<its folder>)"
        )
    return resolved


def _entry(runs_dir: Path, path: Path) -> RunEntry:
    name = path.name.removesuffix(".zarr")
    try:
        resolved = resolve_run(runs_dir, path)
        attrs = read_attrs(resolved)
        config = run_config(attrs)
    except StoreError as error:
        status = "refused" if str(error).startswith("refused") else "damaged"
        return RunEntry(name, str(path), status, error=str(error))
    except (json.JSONDecodeError, TypeError) as error:
        return RunEntry(
            name, str(path), "damaged", error=f"its config attribute is not JSON: {error}"
        )
    schedule, data = config.get("schedule", {}), config.get("data", {})
    num_docs = int(data.get("num_docs", 0))
    steps_per_doc = int(schedule.get("steps_per_doc", 0))
    num_epochs = int(schedule.get("num_epochs", 0))
    completed = attrs.get("completed_steps", 0)
    return RunEntry(
        name=name,
        path=str(path),
        status=display_status(resolved, attrs) if "status" in attrs else "unknown",
        completed_steps=int(completed) if isinstance(completed, int) else 0,
        total_steps=stored_total_steps(config),
        model=str(config.get("model", {}).get("name", "")),
        num_docs=num_docs,
        steps_per_doc=steps_per_doc,
        num_epochs=num_epochs,
        optimizer=str(config.get("optimizer", {}).get("name", "")),
        order=str(schedule.get("order", "")),
        created=str(attrs.get("created", "")),
    )


def scan_runs(runs_dir: str | Path) -> list[RunEntry]:
    """Every ``*.zarr`` store directly in ``runs_dir``, sorted by name; cheap (attributes only).

    A store whose attributes cannot be read is listed with status ``damaged`` and the reason;
    a link to a store outside the folder with status ``refused``.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return [_entry(root, path) for path in sorted(root.glob("*.zarr")) if path.is_dir()]


@pn.cache(max_items=8)
def _scores(stores: tuple[tuple[str, int, str], ...]) -> dict[str, tuple[float, str]]:
    from reawaken.analysis import SUMMARY_VARIABLES, summary
    from reawaken.analysis.summary import HEADLINE

    opened = open_each([path for path, _, _ in stores], variables=SUMMARY_VARIABLES)
    scores = {str(path): (np.nan, str(ds)) for (path, _, _), ds in zip(stores, opened, strict=True)
              if isinstance(ds, StoreError)}  # fmt: skip
    good = [(path, ds) for (path, _, _), ds in zip(stores, opened, strict=True)
            if isinstance(ds, xr.Dataset)]  # fmt: skip
    try:
        table = summary(combine_runs([ds for _, ds in good], [path for path, _ in good]))
        values = table[HEADLINE].values.reshape(-1)
        scores.update({path: (float(v), "") for (path, _), v in zip(good, values, strict=True)})
    except (ReawakenError, ValueError):  # one odd run: score them one by one, naming it
        for path, ds in good:
            try:
                value = summary(ds)[HEADLINE]
                scores[path] = (float(value) if value.ndim == 0 else np.nan, "")
            except ReawakenError as error:
                scores[path] = (np.nan, str(error))
    return scores


def run_scores(runs_dir: str | Path, runs: list[RunEntry]) -> dict[str, tuple[float, str]]:
    """The headline RS of each readable run (or NaN and why not), keyed by ``run.path``.

    Only what :func:`reawaken.analysis.summary` needs is read, stores in parallel, and the
    table is cached until a run's ``completed_steps`` or status changes: the runs table of a
    200-run sweep without opening every store in full.
    """
    keys, paths = [], {}
    for run in runs:
        if not run.readable:
            continue
        resolved = str(resolve_run(runs_dir, run.path))
        keys.append((resolved, run.completed_steps, run.status))
        paths[run.path] = resolved
    scores = _scores(tuple(keys)) if keys else {}
    return {path: scores[resolved] for path, resolved in paths.items()}


@pn.cache(max_items=32)
def _open(path: str, completed_steps: int, status: str) -> xr.Dataset:
    ds = open_run(path)
    # Coordinates are small and read on every plot: read them once.
    ds = ds.assign_coords({name: ds[name].load() for name in ds.coords if name not in ds.indexes})
    for name in _EAGER:
        if name in ds:
            ds[name] = ds[name].load()
    return ds


def load_run(runs_dir: str | Path, path: str | Path) -> xr.Dataset:
    """Open a run under ``runs_dir``, cached until its ``completed_steps`` or status changes.

    Raises :class:`~reawaken.errors.StoreError` for a path outside the folder or a damaged
    store, with a message that says what to do.
    """
    resolved = resolve_run(runs_dir, path)
    attrs = read_attrs(resolved)
    completed = attrs.get("completed_steps", -1)
    return _open(
        str(resolved),
        int(completed) if isinstance(completed, int) else -1,
        str(attrs.get("status")),
    )


@pn.cache(max_items=256)
def _analysed(
    function: Callable[..., Any], path: str, completed_steps: int, status: str, options: str
) -> Any:
    ds = _open(path, completed_steps, status)
    return function(ds, **json.loads(options))


def analysed(
    runs_dir: str | Path, path: str | Path, function: Callable[..., Any], **options: Any
) -> Any:
    """``function(run, **options)`` for an analysis function, cached on the store's path and
    progress (and on the function and options).

    ``options`` must be JSON values (numbers, strings, booleans, None).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from reawaken.analysis import mean_recovery_score
    >>> from reawaken.testing import synthetic_run, write_store
    >>> runs = tempfile.mkdtemp()
    >>> loss = np.array([[5, 5, 5], [1, 5, 5], [3, 1, 5], [2, 4, 1], [1, 1, 2], [2, 0.5, 3],
    ...                  [2, 1, 0.5]])  # T=3, M=1, E=2
    >>> run = synthetic_run(loss, steps_per_doc=1, arrays={"train_loss": np.ones(7)})
    >>> _ = write_store(run, f"{runs}/a.zarr")
    >>> analysed(runs, "a.zarr", mean_recovery_score).values.tolist()
    [0.5]
    """
    resolved = resolve_run(runs_dir, path)
    attrs = read_attrs(resolved)
    completed = attrs.get("completed_steps", -1)
    return _analysed(
        function,
        str(resolved),
        int(completed) if isinstance(completed, int) else -1,
        str(attrs.get("status")),
        json.dumps(options, sort_keys=True, default=_json_number),
    )


@pn.cache(max_items=8)
def _sweep_scores(runs: tuple[tuple[str, int, str], ...]) -> xr.DataArray:
    from reawaken import analysis
    from reawaken.store.combine import open_runs

    return analysis.paper_recovery_score(open_runs([path for path, _, _ in runs])).load()


def sweep_scores(runs_dir: str | Path, paths: list[str | Path]) -> xr.DataArray:
    """RS(n) of several runs, ``paper_recovery_score(open_runs(paths))``, with ``run`` coords.

    Cached on every store's path and progress: a run that advances recomputes the sweep.
    """
    key = []
    for path in paths:
        resolved = resolve_run(runs_dir, path)
        attrs = read_attrs(resolved)
        completed = attrs.get("completed_steps", -1)
        key.append(
            (
                str(resolved),
                int(completed) if isinstance(completed, int) else -1,
                str(attrs.get("status")),
            )
        )
    return _sweep_scores(tuple(key))


def _json_number(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(f"analysis option {value!r} is not a JSON value")


def require(ds: xr.Dataset, variable: str, needed_for: str, hint: str) -> None:
    """Raise a clear :class:`StoreError` when a run lacks ``variable`` or has no snapshots.

    Examples
    --------
    >>> require(xr.Dataset(), "activation", "views", "fix it")
    Traceback (most recent call last):
    reawaken.errors.StoreError: this run has no 'activation' data, which the views need; fix it
    """
    empty = variable in ds and "snapshot" in ds[variable].dims and ds.sizes["snapshot"] == 0
    if variable not in ds or empty:
        raise StoreError(f"this run has no {variable!r} data, which the {needed_for} need; {hint}")


def latest_snapshot(ds: xr.Dataset) -> int:
    """Index of the last snapshot taken at or before ``completed_steps`` (-1 if none yet).

    Examples
    --------
    >>> ds = xr.Dataset(coords={"snapshot_step": ("snapshot", [0, 5, 10])},
    ...     attrs={"completed_steps": 7})
    >>> latest_snapshot(ds)
    1
    """
    if "snapshot_step" not in ds.coords:
        return -1
    completed = ds.attrs.get("completed_steps", 0)
    return int((ds["snapshot_step"].values <= completed).sum()) - 1
