"""Synthetic run stores for the app tests: good runs, a running one, damaged ones, one without
snapshots. Stores are made with ``reawaken.testing.synthetic_run``, so every value is known.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from reawaken.testing import synthetic_config, synthetic_run

T, M, E = 4, 2, 3


def recovering_loss(
    num_docs: int, steps_per_doc: int, num_epochs: int, seed: int = 0
) -> np.ndarray:
    """A loss that drops while a document is trained, rises after, and recovers before its turn."""
    rng = np.random.default_rng(seed)
    level = np.full(num_docs, 3.0)
    rows = [level.copy()]
    for _ in range(num_epochs):
        for doc in range(num_docs):
            for _ in range(steps_per_doc):
                level = level + 0.01
                level[doc] *= 0.8
                level[(doc + 1) % num_docs] -= 0.02  # anticipation of the next document
                rows.append(level + rng.normal(0, 0.005, num_docs))
    return np.array(rows, dtype=np.float32)


def make_run(
    num_docs: int = T,
    steps_per_doc: int = M,
    num_epochs: int = E,
    *,
    hidden: int = 8,
    snapshots: bool = True,
    model: str = "synthetic",
    status: str = "completed",
    completed_steps: int | None = None,
    seed: int = 0,
    config: dict[str, object] | None = None,
) -> xr.Dataset:
    """A schema-v1 run with recovering losses and, optionally, activations and a weight sketch.

    ``seed`` changes the loss noise; ``config`` adds dotted config keys (e.g. ``{"seed": 1}``).
    """
    loss = recovering_loss(num_docs, steps_per_doc, num_epochs, seed=seed)
    rng = np.random.default_rng(1)
    # The training loss of step s is the trained document's loss before the update.
    trained = np.repeat(np.tile(np.arange(num_docs), num_epochs), steps_per_doc)
    train_loss = np.concatenate([[np.nan], loss[np.arange(len(trained)), trained]])
    arrays: dict[str, np.ndarray] = {"train_loss": train_loss}
    snapshot_steps = None
    if snapshots:
        count = num_epochs * num_docs + 1
        turn = 2 * np.pi * np.arange(count) / num_docs
        arrays["activation"] = (
            rng.normal(size=(count, num_docs, 1, hidden)).cumsum(0).astype(np.float32)
        )
        noise = rng.normal(0, 0.01, (count, 13))
        arrays["weight_sketch"] = np.column_stack(
            [np.cos(turn), np.sin(turn), np.arange(count) / count, noise]
        ).astype(np.float32)
    else:
        snapshot_steps = np.array([], dtype=np.int64)
    config = synthetic_config(
        num_docs, steps_per_doc, num_epochs, **{"model.name": model, **(config or {})}
    )
    if completed_steps is not None:
        loss[completed_steps + 1 :] = np.nan
        train_loss[completed_steps + 1 :] = np.nan
    return synthetic_run(
        loss,
        steps_per_doc=steps_per_doc,
        num_epochs=num_epochs,
        arrays=arrays,
        snapshot_steps=snapshot_steps,
        config=config,
        status=status,
        completed_steps=completed_steps,
    )


def write(ds: xr.Dataset, path: Path) -> Path:
    ds.to_zarr(path, zarr_format=3, consolidated=False, mode="w")
    return path


def finish_running_store(path: Path, complete: xr.Dataset) -> None:
    """Write the rest of a running store the way the runner does: data first, then attributes."""
    group = zarr.open_group(str(path), mode="r+")
    group["loss"][:] = complete["loss"].values
    group["train_loss"][:] = complete["train_loss"].values
    group.attrs.update(
        {"completed_steps": int(complete.attrs["completed_steps"]), "status": "completed"}
    )


def make_runs_folder(root: Path) -> Path:
    """``root/runs`` with every kind of store the app must handle, and a store outside it."""
    runs = root / "runs"
    runs.mkdir(parents=True)
    write(make_run(model="pythia-160m"), runs / "alpha.zarr")
    write(make_run(model="pythia-1b"), runs / "beta.zarr")
    write(make_run(snapshots=False), runs / "nosnap.zarr")
    half = T * M * E // 2
    write(make_run(status="running", completed_steps=half), runs / "running.zarr")
    (runs / "damaged.zarr").mkdir()
    (runs / "damaged.zarr" / "zarr.json").write_text("{ this is not json")
    broken = write(make_run(), runs / "noloss.zarr")
    shutil.rmtree(broken / "loss")
    outside = write(make_run(), root / "outside.zarr")
    (runs / "escape.zarr").symlink_to(outside, target_is_directory=True)
    return runs
