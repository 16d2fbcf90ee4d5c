"""The cyclic runner: store layout, training semantics, determinism, failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr

import reawaken
from reawaken.config import RunConfig
from reawaken.errors import RunFailed, RunInterrupted
from reawaken.models import load_model
from reawaken.store.schema import SCHEMA_VERSION, VARIABLES
from reawaken.store.writer import RunWriter
from reawaken.train import run_experiment
from reawaken.train import steps as train_steps

T, M, E = 3, 2, 2


def test_store_matches_the_schema(
    finished_run: Path, make_config: Callable[..., RunConfig]
) -> None:
    ds = reawaken.open_run(finished_run)
    steps = E * T * M + 1
    assert ds.sizes["step"] == steps and ds.sizes["doc"] == T
    assert ds.sizes["snapshot"] == E * T + 1  # a snapshot at every document boundary
    assert ds.snapshot_step.values.tolist() == list(range(0, steps, M))
    # cyclic order: block k trains document k mod T; step 0 is before training.
    assert ds.trained_doc.values.tolist() == [-1] + [k % T for k in range(E * T) for _ in range(M)]
    assert ds.grad_step.values.tolist() == [-1] + [0, 1] * (E * T)
    assert ds.epoch.values.tolist() == [-1] + [0] * (T * M) + [1] * (T * M)
    assert ds.cycle_position.values.tolist() == ds.trained_doc.values.tolist()
    for name in ("loss", "train_loss", "lr", "grad_norm", "activation", "weight_sketch"):
        assert ds[name].dims == VARIABLES[name].dims
        assert ds[name].dtype == np.float32
    assert ds.tokens.dtype == np.int32
    assert ds.layer.values.tolist() == [2]  # -1 resolves to the final layer of 2 blocks
    assert ds.attrs["schema_version"] == SCHEMA_VERSION
    assert ds.attrs["status"] == "completed"
    assert ds.attrs["completed_steps"] == steps - 1
    assert json.loads(ds.attrs["config"]) == json.loads(make_config().to_json())
    assert {"torch", "transformers", "zarr"} <= set(ds.attrs["versions"])
    assert len(ds.attrs["weights_sha256"]) == 64
    # every written value is finite, and tokens match n_tokens
    assert np.isfinite(ds.loss.values).all() and np.isfinite(ds.train_loss.values[1:]).all()
    assert ((ds.tokens.values >= 0).sum(axis=1) == ds.n_tokens.values).all()


def test_trained_document_loss_drops_at_its_own_steps(finished_run: Path) -> None:
    ds = reawaken.open_run(finished_run)
    loss = ds.loss.values
    for block in range(E * T):
        doc = block % T
        before, after = block * M, (block + 1) * M
        change = loss[after] - loss[before]  # change of every document over this block
        assert change[doc] < 0
        assert change[doc] == change.min()  # the trained one gains most


def test_eval_loss_before_a_block_equals_its_first_training_loss(finished_run: Path) -> None:
    # The loss recorded at step s is after s updates and the train loss at step s is before
    # the s-th update, so both see the same weights when s starts a block.
    ds = reawaken.open_run(finished_run)
    starts = np.flatnonzero(ds.grad_step.values == 0)
    docs = ds.trained_doc.values[starts]
    np.testing.assert_allclose(
        ds.train_loss.values[starts], ds.loss.values[starts - 1, docs], rtol=1e-5
    )


def test_progress_never_runs_ahead_of_the_data(
    make_config: Callable[..., RunConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Open the store each time the runner publishes progress: the data must be on disk."""
    published = []
    set_progress = RunWriter.set_progress

    def set_progress_then_read(writer: RunWriter, completed_steps: int) -> None:
        set_progress(writer, completed_steps)
        ds = reawaken.open_run(writer.path)  # refuses NaN at a written step
        done = ds.attrs["completed_steps"]
        assert np.isfinite(ds.loss.values[: done + 1]).all()
        assert np.isfinite(ds.train_loss.values[1 : done + 1]).all()
        taken = ds.snapshot_step.values <= done
        assert np.isfinite(ds.activation.values[taken]).all()
        published.append(done)

    monkeypatch.setattr(RunWriter, "set_progress", set_progress_then_read)
    run_experiment(make_config(), tmp_path / "r.zarr", progress=False)
    assert published == list(range(M, E * T * M + 1, M))


def test_same_config_and_seed_give_bit_identical_losses(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    config = make_config("probes.snapshot_every=never")
    first = run_experiment(config, tmp_path / "a.zarr", progress=False).path
    second = run_experiment(config, tmp_path / "b.zarr", progress=False).path
    a, b = reawaken.open_run(first), reawaken.open_run(second)
    assert np.array_equal(a.loss.values, b.loss.values)
    assert np.array_equal(a.train_loss.values, b.train_loss.values, equal_nan=True)
    assert "activation" not in a  # snapshots off: no snapshot arrays


def test_evaluation_every_doc_fills_block_ends_only(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    config = make_config("evaluation.every=doc", "probes.snapshot_every=epoch")
    ds = reawaken.open_run(run_experiment(config, tmp_path / "r.zarr", progress=False).path)
    evaluated = np.isfinite(ds.loss.values).all(axis=1)
    assert np.flatnonzero(evaluated).tolist() == list(range(0, E * T * M + 1, M))
    assert not np.isfinite(ds.loss.values[~evaluated]).any()
    assert ds.snapshot_step.values.tolist() == [0, T * M, 2 * T * M]
    assert np.isfinite(ds.weight_sketch.values).all()


def test_token_losses_at_snapshots_average_to_the_documents_loss(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    config = make_config("probes.token_loss=true", "probes.snapshot_every=epoch")
    ds = reawaken.open_run(run_experiment(config, tmp_path / "r.zarr", progress=False).path)
    token_loss = ds.token_loss.values.astype(np.float64)
    assert ds.token_loss.dims == ("snapshot", "doc", "token") and ds.sizes["snapshot"] == E + 1
    counted = np.isfinite(token_loss).sum(axis=2)
    assert (counted == ds.n_tokens.values - 1).all()  # every token but the first is predicted
    per_doc = np.nanmean(token_loss, axis=2)
    at_snapshots = ds.loss.sel(step=ds.snapshot_step).values
    np.testing.assert_allclose(per_doc, at_snapshots, rtol=2e-3)  # float16 storage


def test_weights_and_gradient_sketches_are_stored(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    config = make_config(
        "probes.weights=[embed_out.weight]", "probes.grad_sketch=true", "probes.sketch_size=8"
    )
    ds = reawaken.open_run(run_experiment(config, tmp_path / "r.zarr", progress=False).path)
    unembedding = load_model(config.model, seed=config.seed).model.get_output_embeddings()
    initial = unembedding.weight.detach().reshape(-1).numpy()
    assert ds.sizes["param"] == initial.size < int(ds.attrs["num_parameters"])
    np.testing.assert_array_equal(ds.weight.values[0], initial)  # snapshot 0: before training
    assert not np.array_equal(ds.weight.values[-1], initial)
    assert ds.grad_sketch.dims == ("snapshot", "doc", "sketch")
    assert np.isfinite(ds.grad_sketch.values).all()
    # the weight sketch starts at zero (no change yet) and moves once training starts
    assert np.all(ds.weight_sketch.values[0] == 0)
    assert np.abs(ds.weight_sketch.values[1]).sum() > 0
    # the copy at snapshot 0 is the untrained weight, later ones differ
    assert not np.array_equal(ds.weight.values[0], ds.weight.values[-1])


def test_non_finite_loss_marks_the_store_failed_and_keeps_data(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    path = tmp_path / "diverged.zarr"
    with pytest.raises(RunFailed, match=r"non-finite loss at step .*lower optimizer\.lr"):
        run_experiment(make_config("optimizer.lr=1e12"), path, progress=False)
    attrs = zarr.open_group(str(path), mode="r").attrs
    assert attrs["status"] == "failed"
    assert "non-finite loss" in attrs["reason"]
    ds = reawaken.open_run(path)
    assert np.isfinite(ds.loss.values[0]).all()  # step 0 survives


def test_exception_mid_run_marks_failed_and_keeps_written_blocks(
    make_config: Callable[..., RunConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_step = train_steps.train_step

    def failing_step(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2 * M + 1:  # first step of the third block
            raise RuntimeError("simulated device failure")
        return real_step(*args)

    monkeypatch.setattr("reawaken.train.runner.train_step", failing_step)
    path = tmp_path / "crashed.zarr"
    with pytest.raises(RunFailed, match="simulated device failure"):
        run_experiment(make_config(), path, progress=False)
    ds = reawaken.open_run(path)
    assert ds.attrs["status"] == "failed"
    assert "RuntimeError: simulated device failure" in ds.attrs["reason"]
    assert ds.attrs["completed_steps"] == 2 * M
    assert np.isfinite(ds.loss.values[: 2 * M + 1]).all()
    assert np.isnan(ds.loss.values[2 * M + 1 :]).all()


def test_ctrl_c_marks_the_store_interrupted(
    make_config: Callable[..., RunConfig], tmp_path: Path, interrupt_at: Callable[[int], None]
) -> None:
    interrupt_at(M + 1)
    path = tmp_path / "stopped.zarr"
    with pytest.raises(RunInterrupted, match=r"^interrupted"):
        run_experiment(make_config(), path, progress=False)
    ds = reawaken.open_run(path)
    assert ds.attrs["status"] == "interrupted"
    assert ds.attrs["completed_steps"] == M
