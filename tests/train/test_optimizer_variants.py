"""Learning-rate schedules (the store's lr is the one used) and per-document optimiser reset."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import reawaken
from reawaken.config import RunConfig
from reawaken.train import run_experiment
from reawaken.train import steps as train_steps

T, M, E = 3, 2, 2
STEPS = E * T * M


def run(make_config: Callable[..., RunConfig], path: Path, *overrides: str) -> xr.Dataset:
    config = make_config("probes.snapshot_every=never", *overrides)
    return reawaken.open_run(run_experiment(config, path, progress=False).path)


def test_cosine_with_warmup_per_step_follows_the_formula(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    ds = run(
        make_config,
        tmp_path / "cos.zarr",
        "optimizer.lr=0.5",
        "optimizer.lr_schedule=cosine",
        "optimizer.min_lr=0.1",
        "optimizer.warmup_steps=2",
    )
    expected = []
    for update in range(STEPS):  # u = 0 .. 11, W = 2, U = 12
        if update < 2:
            expected.append(0.5 * (update + 1) / 2)
        else:
            expected.append(0.1 + 0.4 * (1 + math.cos(math.pi * (update - 2) / 10)) / 2)
    np.testing.assert_allclose(ds.lr.values[1:], expected, rtol=1e-6)
    assert np.isnan(ds.lr.values[0])
    assert ds.lr.values[3] == pytest.approx(0.5)  # first step after warm-up: the peak


def test_cosine_per_document_is_constant_within_a_block(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    ds = run(
        make_config,
        tmp_path / "doc.zarr",
        "optimizer.lr=0.5",
        "optimizer.lr_schedule=cosine",
        "optimizer.schedule_unit=doc",
    )
    blocks = ds.lr.values[1:].reshape(E * T, M)
    assert (blocks == blocks[:, :1]).all()
    expected = [0.5 * (1 + math.cos(math.pi * k / (E * T))) / 2 for k in range(E * T)]
    np.testing.assert_allclose(blocks[:, 0], expected, rtol=1e-6)


def test_constant_lr_is_the_default_and_recorded_at_every_step(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    ds = run(make_config, tmp_path / "const.zarr")
    assert (ds.lr.values[1:] == np.float32(0.5)).all()


def record_adam_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Adam's step count for each update, read just before the update (0 = fresh state)."""
    counts: list[int] = []
    real_step = train_steps.train_step

    def step(*args: object) -> object:
        state = args[1].state  # type: ignore[attr-defined]
        counts.append(max((int(s["step"]) for s in state.values()), default=0))
        return real_step(*args)

    monkeypatch.setattr("reawaken.train.runner.train_step", step)
    return counts


@pytest.mark.parametrize("reset", [True, False])
def test_optimizer_reset_clears_adam_state_at_every_document(
    reset: bool,
    make_config: Callable[..., RunConfig],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = record_adam_steps(monkeypatch)
    run(
        make_config,
        tmp_path / "adam.zarr",
        "optimizer.name=adam",
        "optimizer.lr=0.001",
        f"optimizer.reset_per_doc={str(reset).lower()}",
    )
    if reset:  # empty state at each block's first step, then 1, ... M-1
        assert counts == [0, 1] * (E * T)
    else:
        assert counts == list(range(STEPS))
