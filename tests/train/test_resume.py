"""Crash safety: kill -9 at several points, resume, and get the uninterrupted run's losses."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import reawaken
from reawaken.config import RunConfig
from reawaken.errors import ConfigError, RunFailed
from reawaken.store.lock import display_status
from reawaken.store.reader import read_attrs
from reawaken.store.writer import RunWriter
from reawaken.train import resume_experiment, run_experiment
from reawaken.train.checkpoint import checkpoint_dir

# Runs the experiment in a child process and SIGKILLs it on the Nth call of one function:
#   step       -- after the Nth training step's update (mid-block, nothing of it written)
#   write      -- inside the Nth block write, after 'loss' and before the other arrays
#   checkpoint -- inside the Nth checkpoint, after the model file and before the rename
KILLER = r"""
import os, signal, sys
from reawaken.config import RunConfig
import reawaken.train.checkpoint as checkpoint
import reawaken.train.runner as runner
from reawaken.store.lock import display_status
from reawaken.store.reader import read_attrs
from reawaken.store.writer import RunWriter

config_json, store, point, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
calls = {"n": 0}

def due():
    calls["n"] += 1
    return calls["n"] == count

def die():
    os.kill(os.getpid(), signal.SIGKILL)

real_step, real_write, real_save = runner.train_step, RunWriter.write_steps, checkpoint.save_file

# Each point counts its own calls: block writes and checkpoints run on the writer thread, so
# a count shared with the training thread's steps would depend on the threads' interleaving.
def step(*args):
    result = real_step(*args)
    if point == "step" and due():
        die()
    return result

def write(self, start, arrays):
    if point == "write" and start > 0 and due():
        real_write(self, start, {"loss": arrays["loss"]})
        die()
    return real_write(self, start, arrays)

def save(tensors, filename):
    real_save(tensors, filename)
    if point == "checkpoint" and due():
        die()

runner.train_step, RunWriter.write_steps, checkpoint.save_file = step, write, save
runner.run_experiment(RunConfig.from_json(config_json), store, progress=False)
"""


@pytest.fixture(scope="module")
def config(make_config: Callable[..., RunConfig]) -> RunConfig:
    return make_config(
        "optimizer.name=adam",
        "optimizer.lr=0.01",
        "optimizer.reset_per_doc=false",
        "schedule.num_epochs=3",
    )


@pytest.fixture(scope="module")
def reference(config: RunConfig, tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    path = tmp_path_factory.mktemp("reference") / "whole.zarr"
    return reawaken.open_run(run_experiment(config, path, progress=False).path).load()


@pytest.mark.parametrize(("point", "count"), [("step", 5), ("write", 3), ("checkpoint", 4)])
def test_kill_minus_nine_then_resume_is_bit_identical(
    config: RunConfig, reference: xr.Dataset, tmp_path: Path, point: str, count: int
) -> None:
    store = tmp_path / "killed.zarr"
    child = subprocess.run(
        [sys.executable, "-c", KILLER, config.to_json(), str(store), point, str(count)],
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert reawaken.open_run(store).attrs["status"] == "running"  # SIGKILL marks nothing
    assert display_status(store, read_attrs(store)) == "interrupted (owner died)"
    if point == "checkpoint":
        assert list(checkpoint_dir(store).glob("*.partial-*"))  # the torn write is left over

    result = resume_experiment(store, progress=False)

    assert result.status == "completed"
    resumed = reawaken.open_run(store)
    assert resumed.attrs["status"] == "completed"
    for name in ("loss", "train_loss", "grad_norm", "weight_sketch", "activation"):
        assert np.array_equal(resumed[name].values, reference[name].values, equal_nan=True), name
    assert not list(checkpoint_dir(store).glob("*.partial-*"))
    # a completed run keeps only its final weights
    assert [p.name for p in checkpoint_dir(store).iterdir()] == [
        f"step-{result.completed_steps:09d}"
    ]


def test_sigterm_marks_interrupted_and_resume_completes(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    config = make_config("schedule.num_epochs=12")
    store = tmp_path / "term.zarr"
    code = (
        "import sys; from reawaken.config import RunConfig; from reawaken.train import "
        "run_experiment; run_experiment(RunConfig.from_json(sys.argv[1]), sys.argv[2], "
        "progress=False)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, config.to_json(), str(store)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if store.exists() and reawaken.open_run(store).attrs["completed_steps"] >= 4:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    stderr = child.communicate(timeout=60)[1]
    assert child.returncode != 0
    assert "interrupted (signal SIGTERM)" in stderr
    ds = reawaken.open_run(store)
    assert ds.attrs["status"] == "interrupted"
    assert "SIGTERM" in ds.attrs["reason"]
    done = ds.attrs["completed_steps"]
    assert np.isfinite(ds.loss.values[: done + 1]).all()
    assert resume_experiment(store, progress=False).completed_steps == ds.sizes["step"] - 1


def test_disk_full_marks_failed_and_keeps_what_was_written(
    make_config: Callable[..., RunConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = RunWriter.write_steps
    calls = {"n": 0}

    def full_disk(self: RunWriter, start: int, arrays: dict[str, np.ndarray]) -> None:
        calls["n"] += 1
        if calls["n"] == 4:  # step 0, blocks 1 and 2 are on disk; block 3 is not
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(self, start, arrays)

    monkeypatch.setattr(RunWriter, "write_steps", full_disk)
    store = tmp_path / "full.zarr"
    with pytest.raises(RunFailed, match="No space left on device"):
        run_experiment(make_config(), store, progress=False)
    ds = reawaken.open_run(store)
    assert ds.attrs["status"] == "failed"
    assert "No space left on device" in ds.attrs["reason"]
    assert ds.attrs["completed_steps"] == 4
    assert np.isfinite(ds.loss.values[:5]).all()


def test_resume_refuses_a_different_config_and_names_the_keys(
    finished_run: Path, make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    store = tmp_path / "x.zarr"
    config = make_config()
    with pytest.raises(RunFailed):
        run_experiment(make_config("optimizer.lr=1e12"), store, progress=False)
    message = r"different config: optimizer\.lr \(run: 1000000000000\.0, given: 0\.5\)"
    with pytest.raises(ConfigError, match=message):
        resume_experiment(store, config, progress=False)


def test_resume_of_a_completed_run_does_nothing(finished_run: Path) -> None:
    before = (finished_run / "zarr.json").stat().st_mtime_ns
    result = resume_experiment(finished_run, progress=False)
    assert result.status == "completed" and result.wall_seconds == 0
    assert (finished_run / "zarr.json").stat().st_mtime_ns == before
