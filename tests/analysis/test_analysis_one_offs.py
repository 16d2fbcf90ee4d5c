"""A run with one-off documents (Fig. 18): epochs of different lengths, blocks never repeated.

The expected values are computed here from the schedule itself (which block trains which
document), by plain loops, not through the block table the analysis uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import reawaken
from reawaken.store.reader import open_run
from reawaken.testing import synthetic_run, write_store

T, M = 3, 2
# Epoch lengths 5, 4, 6: documents 3..8 are one-offs, each trained once after the T fixed ones.
SCHEDULE = [[0, 1, 2, 3, 4], [0, 1, 2, 5], [0, 1, 2, 6, 7, 8]]
BLOCKS = [doc for epoch in SCHEDULE for doc in epoch]
EPOCH_OF_BLOCK = [e for e, epoch in enumerate(SCHEDULE) for _ in epoch]
STEPS = len(BLOCKS) * M + 1


@pytest.fixture(scope="module")
def loss() -> np.ndarray:
    return np.random.default_rng(7).uniform(1, 4, size=(STEPS, T))


@pytest.fixture(scope="module")
def run(loss: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    """The run, written as a store and opened again (the path a real run's data takes)."""
    ds = synthetic_run(loss, steps_per_doc=M, order=SCHEDULE, arrays={"train_loss": loss[:, 0]})
    return open_run(write_store(ds, tmp_path_factory.mktemp("one-offs") / "run.zarr"))


def block_steps(doc: int, epoch: int) -> tuple[int, int]:
    """First and last step of ``doc``'s block in ``epoch``, from the schedule."""
    block = next(
        k
        for k, (d, e) in enumerate(zip(BLOCKS, EPOCH_OF_BLOCK, strict=True))
        if (d, e) == (doc, epoch)
    )
    return block * M + 1, (block + 1) * M


def test_the_store_holds_the_schedule(run: xr.Dataset) -> None:
    trained = run.trained_doc.values[1:].reshape(-1, M)
    assert (trained == trained[:, :1]).all() and trained[:, 0].tolist() == BLOCKS
    assert run.one_off.values.tolist() == [3, 4, 5, 6, 7, 8]
    assert run.sizes["doc"] == T  # one-offs are not evaluated
    assert run.epoch.values[1:].reshape(-1, M)[:, 0].tolist() == EPOCH_OF_BLOCK
    assert run.cycle_position.values[1:].reshape(-1, M)[:, 0].tolist() == [
        p for epoch in SCHEDULE for p in range(len(epoch))
    ]


def test_block_boundaries_come_from_the_schedule(run: xr.Dataset) -> None:
    table = reawaken.block_table(run)
    assert table.sizes == {"epoch": 3, "doc": T}
    for epoch in range(3):
        for doc in range(T):
            first, last = block_steps(doc, epoch)
            assert table.first_step.sel(epoch=epoch, doc=doc).item() == first
            assert table.last_step.sel(epoch=epoch, doc=doc).item() == last
            assert table.cycle_position.sel(epoch=epoch, doc=doc).item() == doc
    # The fixed documents' blocks: epoch 1 starts after epoch 0's 5 blocks, epoch 2 after 9.
    assert table.first_step.sel(doc=0).values.tolist() == [1, 11, 19]


def test_recovery_runs_across_the_one_offs(run: xr.Dataset, loss: np.ndarray) -> None:
    expected = np.full((2, T), np.nan)
    for epoch in (1, 2):
        for doc in range(T):
            a = block_steps(doc, epoch - 1)[1]
            b = block_steps(doc, epoch)[0] - 1
            peak = loss[a : b + 1, doc].max()
            expected[epoch - 1, doc] = (peak - loss[b, doc]) / (peak - loss[a, doc])
    score = reawaken.recovery_score(run)
    assert score.epoch.values.tolist() == [1, 2]
    np.testing.assert_allclose(score.values, expected, rtol=1e-6)
    # The paper's documents 2..T: a selection on the same result.
    np.testing.assert_allclose(score.sel(doc=slice(1, None)).values, expected[:, 1:], rtol=1e-6)


def test_the_paper_score_uses_block_ends_one_off_blocks_included(
    run: xr.Dataset, loss: np.ndarray
) -> None:
    ends = {0} | {k * M for k in range(1, len(BLOCKS) + 1)}
    sums = np.zeros((2, 3))  # (presentation, [peak, before, after])
    for epoch in (1, 2):
        for doc in range(T):
            a = block_steps(doc, epoch - 1)[1]
            b = block_steps(doc, epoch)[0] - 1
            peak = max(loss[s, doc] for s in range(a, b + 1) if s in ends)
            sums[epoch - 1] += [peak, loss[b, doc], loss[a, doc]]
    peak, before, after = (sums / T).T
    rs = reawaken.paper_recovery_score(run)
    np.testing.assert_allclose(rs.values, (peak - before) / (peak - after), rtol=1e-6)


def test_aligned_curves_start_at_each_documents_first_block(
    run: xr.Dataset, loss: np.ndarray
) -> None:
    curves = reawaken.aligned_curves(run, ragged=True)
    for doc in range(T):
        origin = block_steps(doc, 0)[0] - 1
        row = curves.curve.sel(doc=doc).values
        np.testing.assert_allclose(row[: STEPS - origin], loss[origin:, doc], rtol=1e-6)
    # 15 blocks over 3 epochs: 10 steps per epoch on average
    assert curves.offset_epochs.values[10] == pytest.approx(1.0)


def test_summary_counts_the_fixed_documents_only(run: xr.Dataset) -> None:
    row = reawaken.summary(run)
    assert row["num_docs"].item() == T and row["num_epochs"].item() == 3
    assert row["steps_per_doc"].item() == M and row["progress"].item() == 1


def test_the_paper_documents_2_to_T_are_a_selection_before_the_analysis(
    run: xr.Dataset, loss: np.ndarray
) -> None:
    later = run.sel(doc=slice(1, None))
    table = reawaken.block_table(later)
    assert table.first_step.values.tolist() == [[3, 5], [13, 15], [21, 23]]
    np.testing.assert_allclose(
        reawaken.recovery_score(later).values, reawaken.recovery_score(run).values[:, 1:]
    )
    ends = {0} | {k * M for k in range(1, len(BLOCKS) + 1)}
    sums = np.zeros(3)  # RS(2) over documents 1..T-1 only: the paper's ratio of means
    for doc in range(1, T):
        a, b = block_steps(doc, 1)[1], block_steps(doc, 2)[0] - 1
        peak = max(loss[s, doc] for s in range(a, b + 1) if s in ends)
        sums += [peak, loss[b, doc], loss[a, doc]]
    peak, before, after = sums / (T - 1)
    rs = reawaken.paper_recovery_score(later).sel(presentation=2).item()
    assert rs == pytest.approx((peak - before) / (peak - after), rel=1e-6)


def test_a_store_training_an_unknown_document_is_refused(loss: np.ndarray, tmp_path: Path) -> None:
    ds = synthetic_run(loss, steps_per_doc=M, order=SCHEDULE, arrays={"train_loss": loss[:, 0]})
    path = write_store(ds.drop_vars(["one_off", "one_off_source_id"]), tmp_path / "bad.zarr")
    with pytest.raises(reawaken.errors.StoreError, match="labels of neither 'doc' nor 'one_off'"):
        open_run(path)


def test_one_off_stores_combine_with_cyclic_ones(run: xr.Dataset, tmp_path: Path) -> None:
    cyclic = synthetic_run(np.ones((3 * T * M + 1, T)), steps_per_doc=M, num_epochs=3)
    both = reawaken.store.combine.combine_runs([run, cyclic], ["one-offs", "cyclic"])
    table = reawaken.block_table(both)
    assert table.first_step.sel(run="one-offs", doc=0).values.tolist() == [1, 11, 19]
    assert table.first_step.sel(run="cyclic", doc=0).values.tolist() == [1, 7, 13]
