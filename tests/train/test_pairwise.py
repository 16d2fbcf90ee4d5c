"""`reawaken pairwise`: the authors' dipping matrix from a kept checkpoint (Fig. 8b, 23)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

import reawaken
from reawaken.cli import main
from reawaken.config import load_config
from reawaken.models import build_toy
from reawaken.train import run_experiment
from reawaken.train.checkpoint import checkpoint_dir

T, E, LR = 5, 3, 0.01
TOY = [
    f"data.num_docs={T}",
    f"schedule.num_epochs={E}",
    "model.toy.input_size=12",
    "model.toy.embedding_size=8",
    "checkpoint.every=doc",
    "checkpoint.keep=1",
    "checkpoint.keep_epochs=[2]",
]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = load_config(preset="paper/toy-inverse", overrides=TOY)
    path = tmp_path_factory.mktemp("pairwise") / "toy.zarr"
    return run_experiment(config, path, progress=False).path


def test_the_kept_epochs_checkpoint_survives_the_newest_only_policy(toy_run: Path) -> None:
    steps = sorted(int(p.name.split("-")[1]) for p in checkpoint_dir(toy_run).iterdir())
    assert steps == [2 * T, E * T]  # keep=1 leaves the last one, keep_epochs=[2] its own


def _replayed_change(epoch: int) -> np.ndarray:
    """The same matrix by hand: replay the run's cyclic steps on a fresh toy, then train each
    task alone once from the state after ``epoch`` epochs (SGD, M = 1)."""
    toy = build_toy("inverse", num_tasks=T, input_size=12, embedding_size=8, seed=0)
    sgd = torch.optim.SGD(toy.parameters(), lr=LR)

    def step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, task: int) -> None:
        optimizer.zero_grad()
        model.loss(task).backward()
        optimizer.step()
        model.solve_(task)

    for _ in range(epoch):
        for task in range(T):
            step(toy, sgd, task)
    before = toy.task_losses().detach().numpy()
    rows = []
    for task in range(T):
        alone = copy.deepcopy(toy)
        step(alone, torch.optim.SGD(alone.parameters(), lr=LR), task)
        rows.append(alone.task_losses().detach().numpy() - before)
    return np.array(rows)


def test_pairwise_command_adds_the_matrix_the_definition_gives(
    toy_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pairwise", str(toy_run), "--epoch", "2", "--quiet"]) == 0
    assert "after epoch 2 (step 10)" in capsys.readouterr().out
    ds = reawaken.open_run(toy_run)  # the store still opens and checks as a run
    assert ds["pairwise_loss_change"].dims == ("source_doc", "doc")
    expected = _replayed_change(2)
    np.testing.assert_allclose(ds["pairwise_loss_change"].values, expected, rtol=1e-4, atol=1e-6)
    matrix = reawaken.pairwise_recovery(ds)
    assert matrix.dims == ("doc", "trained_doc") and matrix.attrs["epoch"] == 2
    np.testing.assert_allclose(matrix.values, expected.T, rtol=1e-4, atol=1e-6)
    # training a task lowers its own loss; the task trained last before the checkpoint is
    # already solved (loss 0, gradient 0), so training it again changes nothing
    change = ds["pairwise_loss_change"].values
    assert (np.diagonal(change)[:-1] < 0).all() and (change[-1] == 0).all()
    assert main(["check", str(toy_run)]) == 0


def test_pairwise_without_the_checkpoint_says_how_to_keep_it(
    toy_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pairwise", str(toy_run), "--epoch", "1", "--quiet"]) == 2
    assert "checkpoint.keep_epochs=[1]" in capsys.readouterr().err
    assert main(["pairwise", str(toy_run), "--epoch", "9", "--quiet"]) == 2
    assert "epochs 1..3" in capsys.readouterr().err


def test_pairwise_on_the_presets_language_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The preset's smoke run (tiny GPT-NeoX, T = 4, E = 2) keeps its epoch checkpoint; each
    document trained alone from it lowers its own loss."""
    arguments = ["--smoke", "--out", str(tmp_path), "--name", "p", "--quiet"]
    assert main(["run", "--preset", "paper/pairwise-recovery", *arguments]) == 0
    run = tmp_path / "p.zarr"
    assert main(["pairwise", str(run), "--epoch", "2", "--quiet"]) == 0
    change = reawaken.pairwise_recovery(reawaken.open_run(run))
    assert change.shape == (4, 4) and np.isfinite(change.values).all()
    assert (np.diagonal(change.values) < 0).all()
