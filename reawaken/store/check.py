"""Validate a run store: schema, attributes, readable chunks, and data that matches its progress.

``reawaken check RUN`` prints every problem found; :func:`reawaken.open_run` refuses a store
with any of them (one code path, :func:`run_problems`). Chunks carry crc32c checksums, so
reading them here finds flipped bytes as well as truncated files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from reawaken.errors import StoreError
from reawaken.store.reader import open_store, run_config, structural_problems

__all__ = ["CHECKED_VARIABLES", "check_run", "data_problems", "run_problems", "step_data_problems"]

#: The variables :func:`step_data_problems` needs; it checks ``train_loss`` too when present.
CHECKED_VARIABLES = frozenset({"loss"})

#: Variables larger than this are checked at their first and last written snapshot only.
FULL_CHECK_LIMIT = 50_000_000


def _read(ds: xr.Dataset, name: str, index: object = slice(None)) -> np.ndarray:
    try:
        return np.asarray(ds[name][index].values)
    except Exception as error:  # codecs raise many types for a damaged chunk
        message = f"variable '{name}' cannot be read (a chunk is damaged: {error})"
        raise StoreError(message) from error


def _evaluated_steps(ds: xr.Dataset, last: int) -> np.ndarray:
    config = run_config(ds)
    every = config.get("evaluation", {}).get("every", "step")
    steps = np.arange(last + 1)
    if every == "doc":
        grad_step = ds["grad_step"].values[: last + 1]
        steps = steps[(grad_step == grad_step.max()) | (steps == 0)]
    return steps


def _trusted_steps(ds: xr.Dataset) -> int:
    """``completed_steps``, less the diverged block of a run that failed on a non-finite loss
    (that block is kept as it was, NaN included)."""
    completed = int(ds.attrs["completed_steps"])
    if ds.attrs.get("status") == "failed" and "non-finite" in str(ds.attrs.get("reason", "")):
        steps_per_doc = int(ds["grad_step"].values.max()) + 1
        return max(0, completed - steps_per_doc)
    return completed


def _schedule_problems(ds: xr.Dataset) -> list[str]:
    """Every trained document must be a ``doc`` (evaluated) or a ``one_off``: the analysis
    leaves any other label out of the block table, which would hide a damaged schedule."""
    labels = set(ds["doc"].values.tolist())
    if "one_off" in ds.coords:
        labels |= set(ds["one_off"].values.tolist())
    trained = set(np.unique(np.asarray(ds["trained_doc"].values)).tolist()) - {-1}
    unknown = sorted(trained - labels)
    if unknown:
        return [f"'trained_doc' holds {unknown[:5]}, labels of neither 'doc' nor 'one_off'"]
    return []


def step_data_problems(ds: xr.Dataset) -> list[str]:
    """Problems in the step-indexed data: NaN where written, data past ``completed_steps``.

    ``train_loss`` is checked when ``ds`` has it (a lean read, :func:`reawaken.open_run` with
    ``variables``, may leave it out).
    """
    problems: list[str] = []
    completed = int(ds.attrs["completed_steps"])
    last_step = ds.sizes["step"] - 1
    status = ds.attrs.get("status")
    if status == "completed" and completed != last_step:
        problems.append(f"status is 'completed' but completed_steps is {completed} of {last_step}")
    trusted = _trusted_steps(ds)
    try:
        loss = _read(ds, "loss")
        train_loss = _read(ds, "train_loss") if "train_loss" in ds else None
    except StoreError as error:
        return [str(error)]
    problems += _schedule_problems(ds)
    rows = _evaluated_steps(ds, trusted)
    if status == "running" and completed == 0:
        rows = rows[1:]  # a run that has just started may not have evaluated step 0 yet
    bad = rows[~np.isfinite(loss[rows]).all(axis=1)]
    if len(bad):
        problems.append(
            f"'loss' has NaN/inf at written step(s) {bad[:5].tolist()} (completed_steps is "
            f"{completed})"
        )
    if train_loss is None:
        return problems
    if trusted and not np.isfinite(train_loss[1 : trusted + 1]).all():
        problems.append(f"'train_loss' has NaN/inf at or before completed step {trusted}")
    if status != "running" and np.isfinite(train_loss[completed + 1 :]).any():
        problems.append(
            f"'train_loss' has data after completed_steps={completed}: the attribute does not "
            "match the data"
        )
    return problems


def _snapshot_problems(ds: xr.Dataset) -> list[str]:
    problems: list[str] = []
    if "snapshot_step" not in ds.coords:
        return problems
    completed = _trusted_steps(ds)
    written = np.flatnonzero(ds["snapshot_step"].values <= completed)
    if ds.attrs.get("status") == "running" and completed == 0:
        written = written[:0]  # a run that has just started may not have taken snapshot 0 yet
    for name in ("activation", "weight_sketch", "weight", "grad_sketch"):
        if name not in ds or not len(written):
            continue
        indices = written if ds[name].size <= FULL_CHECK_LIMIT else written[[0, -1]]
        try:
            values = _read(ds, name, {"snapshot": indices})
        except StoreError as error:
            problems.append(str(error))
            continue
        missing = indices[~np.isfinite(values.reshape(len(indices), -1)).all(axis=1)]
        if len(missing):
            problems.append(f"'{name}' is missing at written snapshot(s) {missing[:5].tolist()}")
    return problems


def check_run(path: str | Path) -> list[str]:
    """Every problem found in the store at ``path``; an empty list means it is sound.

    Examples
    --------
    >>> check_run("no/such/run.zarr")
    ['no run store at no/such/run.zarr: the path does not exist']
    """
    try:
        ds = open_store(path)
    except StoreError as error:
        return [str(error)]
    return run_problems(ds)


def run_problems(ds: xr.Dataset) -> list[str]:
    """Every problem of an opened store: what ``check`` prints and ``open_run`` refuses."""
    return structural_problems(ds) or data_problems(ds)


def data_problems(ds: xr.Dataset) -> list[str]:
    """The problems in the data of a structurally sound store (those of its variables that
    ``ds`` holds: a lean read, :func:`reawaken.open_run` with ``variables``, holds a few)."""
    return step_data_problems(ds) + _snapshot_problems(ds)
