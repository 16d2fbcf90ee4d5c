"""summary: one row of headline numbers, also for runs still in progress or too short."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from reawaken.analysis import summary
from reawaken.testing import synthetic_run


def test_summary_of_a_finished_run(hand_run: xr.Dataset) -> None:
    row = summary(hand_run)
    assert all(row[name].ndim == 0 for name in row.data_vars)
    assert row["status"].item() == "completed"
    assert row["progress"].item() == 1.0 and row["completed_steps"].item() == 6
    assert (row["num_docs"].item(), row["steps_per_doc"].item(), row["num_epochs"].item()) == (
        3,
        1,
        2,
    )
    # step 0: (5 + 5 + 5) / 3; step 6: (2 + 1 + 0.5) / 3
    assert row["initial_mean_loss"].item() == 5.0
    assert row["final_mean_loss"].item() == pytest.approx(3.5 / 3)
    assert row["final_step"].item() == 6
    # per-document scores 0.5, 1, 0 (see conftest); paper RS(1) = (10/3 - 2) / (10/3 - 1)
    assert row["mean_recovery_score"].item() == pytest.approx(0.5)
    assert row["recovery_epoch"].item() == 1
    assert row["paper_recovery_score"].item() == pytest.approx(4 / 7)
    assert row["paper_presentation"].item() == 1
    # prequential, epoch 1: loss[3, 0], loss[4, 1], loss[5, 2] = 2, 1, 3
    assert row["mean_prequential_loss"].item() == pytest.approx(2.0)


def test_summary_of_a_run_in_progress_and_of_a_single_epoch() -> None:
    loss = np.full((13, 3), 2.0)
    loss[4:] = np.nan
    running = summary(synthetic_run(loss, steps_per_doc=2, status="running", completed_steps=3))
    # 3 of 12 updates done; last evaluated step 3; nothing has returned yet
    assert running["status"].item() == "running"
    assert running["progress"].item() == 0.25
    assert running["final_step"].item() == 3
    assert np.isnan(running["mean_recovery_score"].item())
    assert running["recovery_epoch"].item() == -1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the CLI and the app must not print warnings
        short = summary(synthetic_run(np.ones((7, 3)), steps_per_doc=2))
    assert np.isnan(short["mean_recovery_score"].item())
    assert np.isnan(short["paper_recovery_score"].item())
