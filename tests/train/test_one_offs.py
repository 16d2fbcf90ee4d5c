"""A real run with one-off documents (Fig. 18): the schedule it trains, its store, its resume."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import reawaken
from reawaken.config import RunConfig
from reawaken.errors import RunInterrupted
from reawaken.schedule import training_schedule
from reawaken.store.check import check_run
from reawaken.train import resume_experiment, run_experiment

T, M = 3, 2


@pytest.fixture(scope="module")
def config(make_config: Callable[..., RunConfig]) -> RunConfig:
    # Epoch lengths 3 + 2 and 3 + 1 with this seed: T=3 fixed documents, then one-offs.
    return make_config("schedule.one_offs=[1, 2]", "seed=1")


@pytest.fixture(scope="module")
def run(config: RunConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("one-offs") / "run.zarr"
    run_experiment(config, path, progress=False)
    return path


def test_the_run_trains_the_schedule_and_stores_it(run: Path, config: RunConfig) -> None:
    ds = reawaken.open_run(run)
    schedule = training_schedule(config.schedule, T, config.seed)
    assert [len(epoch) for epoch in schedule] == [5, 4]  # epochs of different lengths
    blocks = np.concatenate(schedule).tolist()
    assert ds.sizes["step"] == len(blocks) * M + 1 == config.total_steps + 1
    assert ds.trained_doc.values[1:].reshape(-1, M)[:, 0].tolist() == blocks
    assert ds.one_off.values.tolist() == [3, 4, 5]
    one_off_sources = ds.one_off_source_id.values.tolist()
    doc_sources = ds.source_id.values.tolist()
    assert len(set(one_off_sources)) == 3 and not set(one_off_sources) & set(doc_sources)
    assert ds.sizes["doc"] == T and np.isfinite(ds.loss.values).all()  # fixed docs evaluated
    assert check_run(run) == []


def test_each_fixed_documents_loss_drops_at_its_own_blocks(run: Path) -> None:
    ds = reawaken.open_run(run)
    loss = ds.loss.values
    for block, doc in enumerate(ds.trained_doc.values[1:].reshape(-1, M)[:, 0].tolist()):
        if doc < T:
            change = loss[(block + 1) * M] - loss[block * M]
            assert change[doc] == change.min() < 0


def test_block_table_and_recovery_of_the_real_run(run: Path, config: RunConfig) -> None:
    ds = reawaken.open_run(run)
    table = reawaken.block_table(ds)
    assert table.first_step.values.tolist() == [[1, 3, 5], [11, 13, 15]]
    assert reawaken.recovery_score(ds).sizes == {"epoch": 1, "doc": T}


def test_an_interrupted_one_off_run_resumes_to_the_same_losses(
    run: Path,
    config: RunConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupt_at: Callable[[int], None],
) -> None:
    store = tmp_path / "resumed.zarr"
    interrupt_at(config.total_steps)  # the last step: epoch 2's one-off
    with pytest.raises(RunInterrupted):
        run_experiment(config, store, progress=False)
    monkeypatch.undo()
    assert resume_experiment(store, config, progress=False).status == "completed"
    resumed, whole = reawaken.open_run(store), reawaken.open_run(run)
    xr.testing.assert_equal(resumed.loss, whole.loss)
    assert resumed.trained_doc.values.tolist() == whole.trained_doc.values.tolist()
