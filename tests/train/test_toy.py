"""The toy model (paper §4.4): its update rule, its store, recovery and the circle (Fig. 10, 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import reawaken
from reawaken.config import load_config
from reawaken.errors import ConfigError, RunFailed
from reawaken.models import build_toy
from reawaken.train import run_experiment
from reawaken.train.steps import train_step


@pytest.mark.parametrize("kind", ["identity", "inverse"])
def test_one_step_is_the_papers_update(kind: str) -> None:
    """P <- P - lr (P x_i - f_i(w)) x_i^T with the old w, then w <- f_i^-1(P x_i), by hand."""
    toy = build_toy(kind, num_tasks=3, input_size=5, embedding_size=4, seed=2)
    p, x, y, w = (
        t.detach().double().numpy().copy()
        for t in (toy.embedding, toy.inputs, toy.targets, toy.fast)
    )
    f = (lambda i, v: v) if kind == "identity" else (lambda i, v: y[i] - v)
    f_inverse = (lambda i, z: z) if kind == "identity" else (lambda i, z: y[i] - z)
    lr, task = 0.05, 1
    expected_p = p - lr * np.outer(p @ x[task] - f(task, w), x[task])
    expected_w = f_inverse(task, expected_p @ x[task])
    expected_losses = [0.5 * np.sum((expected_p @ x[i] - f(i, expected_w)) ** 2) for i in range(3)]

    sgd = torch.optim.SGD(toy.parameters(), lr=lr)
    loss = train_step(toy, sgd, lambda: toy.loss(task)).loss
    toy.solve_(task)
    assert float(loss) == pytest.approx(0.5 * np.sum((p @ x[task] - f(task, w)) ** 2), rel=1e-5)
    np.testing.assert_allclose(toy.embedding.detach().numpy(), expected_p, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(toy.fast.numpy(), expected_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        toy.task_losses().detach().numpy(), expected_losses, rtol=1e-4, atol=1e-9
    )
    assert toy.task_losses()[task] < 1e-10  # the fast update solves the task just trained


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two presets as shipped, fewer epochs: identity 4, inverse 16 (the circle is exact
    from epoch 15 on with seed 0)."""
    root = tmp_path_factory.mktemp("toy")
    runs = {}
    for name, epochs in (("toy-identity", 4), ("toy-inverse", 16)):
        config = load_config(preset=f"paper/{name}", overrides=[f"schedule.num_epochs={epochs}"])
        runs[name] = run_experiment(config, root / f"{name}.zarr", progress=False).path
    return runs


@pytest.mark.parametrize("name", ["toy-identity", "toy-inverse"])
def test_toy_store_holds_every_tasks_loss_and_points(toy_runs: dict[str, Path], name: str) -> None:
    ds = reawaken.open_run(toy_runs[name])
    assert ds.sizes["doc"] == 25 and ds.sizes["hidden"] == 100
    assert ds.attrs["status"] == "completed"
    assert np.isfinite(ds.loss.values).all()  # every task after every step
    assert ds.tokens.values[:, 0].tolist() == list(range(25))
    # right after its step, the task just trained has zero loss (w solves it exactly)
    trained = ds.trained_doc.values[1:]
    assert np.abs(ds.loss.values[np.arange(1, ds.sizes["step"]), trained]).max() < 1e-6


@pytest.mark.parametrize("name", ["toy-identity", "toy-inverse"])
def test_toy_shows_anticipatory_recovery(toy_runs: dict[str, Path], name: str) -> None:
    score = reawaken.paper_recovery_score(reawaken.open_run(toy_runs[name]))
    assert float(score[-1]) > 0.5


def test_points_lie_on_a_circle_in_task_order(toy_runs: dict[str, Path]) -> None:
    """Fig. 11: in the 2-D PCA of the points f_i^-1(P x_i), going round the circle visits the
    tasks in order (one way or the other); before training it does not."""

    def angular_steps(snapshot: int) -> set[int]:
        projection = pca["projection"].isel(snapshot=snapshot).values
        order = np.argsort(np.arctan2(projection[:, 1], projection[:, 0]))
        return set((np.diff(np.r_[order, order[0]]) % 25).tolist())

    pca = reawaken.representation_pca(reawaken.open_run(toy_runs["toy-inverse"]))
    assert angular_steps(-1) in ({1}, {24})  # each neighbour on the circle is the next task
    assert len(angular_steps(0)) > 5  # at initialisation the points are in no order


def test_papers_fig10a_sizes_diverge_as_stated(tmp_path: Path) -> None:
    """N = M = 1000 at lr 0.01: lr ||x||^2 ≈ 3.3 > 2, so the first task's error grows."""
    config = load_config(
        preset="paper/toy-identity",
        overrides=[
            "model.toy.input_size=1000",
            "model.toy.embedding_size=1000",
            "schedule.num_epochs=10",
            "probes.snapshot_every=never",
        ],
    )
    with pytest.raises(RunFailed, match="non-finite loss"):
        run_experiment(config, tmp_path / "diverges.zarr", progress=False)
    assert reawaken.open_run(tmp_path / "diverges.zarr").attrs["status"] == "failed"


def test_toy_model_and_source_go_together() -> None:
    with pytest.raises(ConfigError, match="go together"):
        load_config(preset="paper/toy-identity", overrides=["data.source=builtin"])
    with pytest.raises(ConfigError, match="unknown toy model"):
        load_config(preset="paper/toy-identity", overrides=["model.name=toy:square"])
