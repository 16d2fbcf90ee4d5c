"""Boundary losses (the paper's (E*T+1) x T matrix) and the prequential loss, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.analysis import boundary_losses, mean_prequential_loss, prequential_loss
from reawaken.errors import StoreError
from reawaken.testing import synthetic_run


def test_boundary_rows_are_step_zero_and_block_ends() -> None:
    # T=2, M=3, E=2: 13 steps, blocks end at 3, 6, 9, 12; loss[s, d] = 10 s + d
    loss = 10 * np.arange(13.0)[:, None] + np.arange(2.0)
    b = boundary_losses(synthetic_run(loss, steps_per_doc=3))
    assert b.dims == ("episode", "doc")
    assert b["episode"].values.tolist() == [0, 1, 2, 3, 4]
    assert b["step"].values.tolist() == [0, 3, 6, 9, 12]
    assert b["epoch"].values.tolist() == [-1, 0, 0, 1, 1]
    assert b["trained_doc"].values.tolist() == [-1, 0, 1, 0, 1]
    np.testing.assert_allclose(b.sel(doc=1).values, [1, 31, 61, 91, 121])
    assert b.attrs["units"] == "nats"


def test_boundary_coordinates_follow_a_shuffled_order() -> None:
    order = np.array([[1, 0], [0, 1]])
    b = boundary_losses(synthetic_run(np.zeros((5, 2)), steps_per_doc=1, order=order))
    assert b["trained_doc"].values.tolist() == [-1, 1, 0, 0, 1]
    assert b["cycle_position"].values.tolist() == [-1, 0, 1, 0, 1]


def test_prequential_prefers_train_loss_and_falls_back_to_the_evaluation() -> None:
    # T=2, M=2, E=2: blocks start at steps 1, 3, 5, 7 (docs 0, 1, 0, 1).
    loss = np.full((9, 2), 9.0)
    loss[0] = [4.0, 6.0]  # before episode 1 (doc 0): 4
    loss[2, 1] = 5.0  # before episode 2 (doc 1): 5
    loss[4, 0] = 3.0  # before episode 3 (doc 0): 3 (train_loss missing there)
    train = np.full(9, np.nan)
    train[[1, 3, 7]] = [4.5, 5.5, 2.5]  # the training forward pass: used where recorded
    train[[2, 4, 6, 8]] = 7.0  # later grad steps of a block: never used
    ds = synthetic_run(loss, steps_per_doc=2, arrays={"train_loss": train})
    online = prequential_loss(ds)
    assert online.dims == ("episode",)
    assert online["episode"].values.tolist() == [1, 2, 3, 4]
    assert online["step"].values.tolist() == [1, 3, 5, 7]
    assert online["epoch"].values.tolist() == [0, 0, 1, 1]
    assert online["trained_doc"].values.tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(online.values, [4.5, 5.5, 3.0, 2.5])
    # Table 1: epochs >= 1 only: (3 + 2.5) / 2
    assert online.attrs["mean_from_epoch_1"] == pytest.approx(2.75)
    assert float(mean_prequential_loss(ds)) == pytest.approx(2.75)
    assert float(mean_prequential_loss(ds, from_epoch=0)) == pytest.approx(15.5 / 4)


def test_prequential_of_a_shuffled_run_reads_the_trained_document() -> None:
    # order [[1, 0], [0, 1]], M=1: episode k trains docs 1, 0, 0, 1; value loss[k-1, doc]
    loss = np.arange(10.0).reshape(5, 2)
    online = prequential_loss(
        synthetic_run(loss, steps_per_doc=1, order=np.array([[1, 0], [0, 1]]))
    )
    np.testing.assert_allclose(online.values, [1.0, 2.0, 4.0, 7.0])


def test_in_progress_run_has_nan_boundaries_after_completed_steps() -> None:
    loss = np.ones((9, 2))
    loss[5:] = np.nan
    ds = synthetic_run(loss, steps_per_doc=2, status="running", completed_steps=4)
    b = boundary_losses(ds)
    np.testing.assert_array_equal(np.isnan(b.values).all(axis=1), [False, False, False, True, True])
    np.testing.assert_array_equal(
        np.isnan(prequential_loss(ds).values), [False, False, False, True]
    )


def test_boundary_losses_needs_step_coordinates() -> None:
    ds = synthetic_run(np.ones((5, 2)), steps_per_doc=1).drop_vars("trained_doc")
    with pytest.raises(StoreError, match="boundary_losses needs 'trained_doc'"):
        boundary_losses(ds)
