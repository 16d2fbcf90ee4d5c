"""Device switches (TF32, bf16 autocast, compile) are no-ops for CPU numbers; store writes and
checkpoints leave the training thread, in order, with errors raised on it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import reawaken
from reawaken.config import RunConfig
from reawaken.store.writer import RunWriter
from reawaken.train import run_experiment
from reawaken.train.background import BackgroundWriter
from reawaken.train.checkpoint import FrozenState
from reawaken.train.device import autocast
from reawaken.train.steps import train_step


def test_tf32_and_bf16_change_nothing_on_cpu_and_are_recorded(
    make_config: Callable[..., RunConfig], finished_run: Path, tmp_path: Path
) -> None:
    config = make_config("model.tf32=true", "model.autocast=bf16")
    path = run_experiment(config, tmp_path / "switches.zarr", progress=False).path
    switched, plain = reawaken.open_run(path), reawaken.open_run(finished_run)
    np.testing.assert_array_equal(switched["loss"].values, plain["loss"].values)
    np.testing.assert_array_equal(switched["train_loss"].values, plain["train_loss"].values)
    stored = json.loads(switched.attrs["config"])["model"]
    assert (stored["tf32"], stored["autocast"], stored["compile"]) == (True, "bf16", False)
    assert not torch.backends.cuda.matmul.allow_tf32  # restored after the run


def test_a_bf16_train_step_is_the_plain_one_on_cpu() -> None:
    torch.manual_seed(0)
    first = torch.nn.Linear(4, 4)
    second = torch.nn.Linear(4, 4)
    second.load_state_dict(first.state_dict())

    class Model(torch.nn.Module):
        def __init__(self, layer: torch.nn.Module) -> None:
            super().__init__()
            self.layer = layer

        def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> object:
            out = self.layer(input_ids.float()).pow(2).mean()
            return type("Output", (), {"loss": out})()

    x = torch.arange(8).reshape(2, 4)
    results = []
    for layer, mode in ((first, "none"), (second, "bf16")):
        model = Model(layer)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

        def compute_loss(model: torch.nn.Module = model, mode: str = mode) -> torch.Tensor:
            with autocast(x.device, mode):
                return model(input_ids=x, labels=x).loss

        result = train_step(model, optimizer, compute_loss)
        results.append((result.loss.item(), result.grad_norm.item(), layer.weight.detach().clone()))
    assert results[0][:2] == results[1][:2]
    assert torch.equal(results[0][2], results[1][2])


@pytest.mark.slow
def test_a_compiled_run_has_the_same_losses(
    make_config: Callable[..., RunConfig], finished_run: Path, tmp_path: Path
) -> None:
    path = run_experiment(make_config("model.compile=true"), tmp_path / "c.zarr", progress=False)
    compiled, plain = reawaken.open_run(path.path), reawaken.open_run(finished_run)
    np.testing.assert_allclose(compiled["loss"].values, plain["loss"].values, rtol=1e-4)


def test_store_writes_and_checkpoints_run_on_the_writer_thread(
    make_config: Callable[..., RunConfig],
    finished_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: set[str] = set()
    real = RunWriter.write_steps

    def write_steps(self: RunWriter, start: int, arrays: dict) -> None:
        if start:  # step 0 is written before training starts
            threads.add(threading.current_thread().name)
        real(self, start, arrays)

    monkeypatch.setattr(RunWriter, "write_steps", write_steps)
    path = run_experiment(make_config("checkpoint.every=doc"), tmp_path / "t.zarr", progress=False)
    assert threads == {"reawaken-writer"}
    written = reawaken.open_run(path.path)
    np.testing.assert_array_equal(written["loss"].values, reawaken.open_run(finished_run)["loss"])
    assert written.attrs["completed_steps"] == written.sizes["step"] - 1


def test_writer_jobs_run_in_order_and_an_error_reaches_the_caller() -> None:
    done: list[int] = []

    def fail() -> None:
        raise OSError("disk full")

    writer = BackgroundWriter(depth=1)
    writer.submit(done.append, 1)
    writer.submit(fail)
    writer.submit(done.append, 2)  # after a failure nothing is written past it
    with pytest.raises(OSError, match="disk full"):
        writer.flush()
    # Once the training thread has taken the error, blocks still queued are not written
    # either (a diverged toy run wrote two NaN blocks past its failure that way).
    writer.submit(done.append, 3)
    writer.close()
    assert done == [1]
    inline = BackgroundWriter(depth=0)
    with pytest.raises(OSError, match="disk full"):
        inline.submit(fail)


def test_frozen_state_keeps_the_values_of_when_it_was_taken() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3))
    model[1].weight = model[0].weight  # tied
    frozen = FrozenState(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    state = frozen.state_dict()
    assert all(torch.equal(state[k], before[k]) for k in before)
    assert state["0.weight"] is state["1.weight"]  # one copy of a tied weight
