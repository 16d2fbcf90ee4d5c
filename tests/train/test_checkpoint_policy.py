"""Checkpoints that cost little: time-based ``auto``, no optimiser state where it is reset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import reawaken
from reawaken.config import RunConfig, load_config
from reawaken.errors import RunFailed
from reawaken.train import resume_experiment, run_experiment
from reawaken.train.checkpoint import CheckpointPolicy, checkpoint_dir, latest_checkpoint


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_auto_checkpoints_once_per_interval_and_at_the_end() -> None:
    config = load_config(overrides=["checkpoint.interval=60"])  # the demo: 250 steps, M=5
    clock = Clock()
    policy = CheckpointPolicy.of(config, clock=clock)
    due = []
    for step in range(5, config.total_steps + 1, 5):
        clock.now += 7.0  # one block every 7 s
        if policy.due(step):
            due.append(step)
            policy.written()
    # 60 s = the 9th block after the last checkpoint (63 s), then the last step
    assert due == [45, 90, 135, 180, 225, 250]


@pytest.mark.parametrize(
    ("every", "expected"), [("doc", [5, 10, 15, 20]), ("epoch", [10, 20]), ("never", [])]
)
def test_counted_policies(every: str, expected: list[int]) -> None:
    config = load_config(
        overrides=[f"checkpoint.every={every}", "data.num_docs=2", "schedule.num_epochs=2"]
    )
    policy = CheckpointPolicy.of(config)
    assert [s for s in range(5, 21, 5) if policy.due(s)] == expected


@pytest.fixture(scope="module")
def adam_reset(make_config: Callable[..., RunConfig]) -> RunConfig:
    return make_config(
        "optimizer.name=adam", "optimizer.lr=0.01", "optimizer.reset_per_doc=true",
        "schedule.num_epochs=3",
    )  # fmt: skip


def test_no_optimiser_state_where_it_is_reset_and_resume_is_bit_identical(
    adam_reset: RunConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupt_at: Callable[[int], None],
) -> None:
    reference = reawaken.open_run(
        run_experiment(adam_reset, tmp_path / "whole.zarr", progress=False).path
    ).load()
    checkpoint = latest_checkpoint(tmp_path / "whole.zarr")
    assert checkpoint is not None
    state = torch.load(checkpoint.path / "state.pt", weights_only=True)
    assert state["optimizer"] is None
    # Adam's two moments would triple the checkpoint; the RNG states are all that is left.
    model_bytes = (checkpoint.path / "model.safetensors").stat().st_size
    assert (checkpoint.path / "state.pt").stat().st_size < 0.05 * model_bytes

    interrupt_at(2 * 3 + 2)  # mid-block 4, after three block checkpoints
    store = tmp_path / "stopped.zarr"
    with pytest.raises(RunFailed, match="interrupted"):
        run_experiment(adam_reset, store, progress=False)
    monkeypatch.undo()
    assert max(int(p.name[5:]) for p in checkpoint_dir(store).glob("step-*")) == 6
    resume_experiment(store, progress=False)
    resumed = reawaken.open_run(store)
    for name in ("loss", "train_loss", "grad_norm", "weight_sketch"):
        assert np.array_equal(resumed[name].values, reference[name].values, equal_nan=True), name
