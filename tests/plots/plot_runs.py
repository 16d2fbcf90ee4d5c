"""A small synthetic run for the figure tests, whose every array is known."""

from __future__ import annotations

import numpy as np
import xarray as xr

from reawaken.testing import synthetic_run

T, M, E = 4, 2, 3


def make_small_run() -> xr.Dataset:
    """T=4 documents, M=2 steps each, E=3 epochs; activations and a weight sketch at every
    document boundary (13 snapshots); the loss at step s of doc d is 3 + s/100 - d/10 except
    while d is trained, so every value is distinct and known."""
    steps = E * T * M + 1
    loss = 3 + np.arange(steps)[:, None] / 100 - np.arange(T)[None, :] / 10
    trained = np.concatenate([[-1], np.repeat(np.tile(np.arange(T), E), M)])
    for s, d in enumerate(trained):
        if d >= 0:
            loss[s, d] = 1.0 + s / 1000  # drops while trained
    rng = np.random.default_rng(0)
    snapshots = E * T + 1
    turn = 2 * np.pi * np.arange(snapshots) / T
    sketch = np.column_stack(
        [
            np.cos(turn),
            np.sin(turn),
            np.arange(snapshots) / snapshots,
            rng.normal(0, 0.01, (snapshots, 5)),
        ]
    )
    trained_loss = loss[np.arange(1, steps), trained[1:]]
    arrays = {
        "train_loss": np.concatenate([[np.nan], trained_loss]),
        "activation": rng.normal(size=(snapshots, T, 1, 6)).astype(np.float32),
        "weight_sketch": sketch.astype(np.float32),
    }
    return synthetic_run(loss, steps_per_doc=M, num_epochs=E, arrays=arrays)
