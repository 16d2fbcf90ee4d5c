"""Recovery amount, per-document score and the paper's RS(n), on losses computed by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from reawaken.analysis import (
    RecoveryUndefinedWarning,
    mean_recovery_score,
    paper_recovery_score,
    recovery_amount,
    recovery_score,
)
from reawaken.errors import StoreError
from reawaken.testing import synthetic_run


def _cycle_loss() -> np.ndarray:
    """T=3, M=2, E=2, every step evaluated (13 steps).

    Blocks: doc 0 steps 1-2 and 7-8, doc 1 steps 3-4 and 9-10, doc 2 steps 5-6 and 11-12.
    doc 0: a = 2, b = 6, l(2..6) = 1, 3, 2, 2.5, 1.5 -> peak 3 (step 3, inside doc 1's
           block), amount 3 - 1.5 = 1.5, score 1.5 / (3 - 1) = 0.75
    doc 1: a = 4, b = 8, l(4..8) = 1, 2, 2.5, 3, 3.5 -> only rises: amount 0, score 0
    doc 2: a = 6, b = 10, l = 2 throughout -> amount 0, not forgotten: score NaN
    """
    loss = np.full((13, 3), 4.0)
    loss[2:7, 0] = [1.0, 3.0, 2.0, 2.5, 1.5]
    loss[4:9, 1] = [1.0, 2.0, 2.5, 3.0, 3.5]
    loss[6:11, 2] = 2.0
    return loss


def test_recovery_of_a_hand_made_cycle() -> None:
    ds = synthetic_run(_cycle_loss(), steps_per_doc=2)
    amount = recovery_amount(ds)
    score = recovery_score(ds)
    assert amount.dims == ("epoch", "doc") and amount["epoch"].values.tolist() == [1]
    np.testing.assert_allclose(amount.values, [[1.5, 0.0, 0.0]])
    np.testing.assert_allclose(score.values, [[0.75, 0.0, np.nan]])
    assert "max_{a<=s<=b}" in score.attrs["definition"]
    assert amount.attrs["units"] == "nats"
    # mean over documents skips the NaN of doc 2: (0.75 + 0) / 2
    np.testing.assert_allclose(mean_recovery_score(ds).values, [0.375])


def test_paper_score_uses_boundaries_and_the_ratio_of_means() -> None:
    ds = synthetic_run(_cycle_loss(), steps_per_doc=2)
    paper = paper_recovery_score(ds)
    # Boundaries are steps 0, 2, 4, ... so doc 0's peak is max(l(2), l(4), l(6)) = 2, not 3.
    # doc 0: peak 2, before 1.5, after 1; doc 1: peak max(1, 2.5, 3.5) = 3.5, before 3.5,
    # after 1; doc 2: 2, 2, 2. Means: l_max = 7.5/3 = 2.5, l_before = 7/3, l_after = 4/3
    # RS(1) = (2.5 - 7/3) / (2.5 - 4/3) = (1/6) / (7/6) = 1/7
    assert paper.dims == ("presentation",)
    np.testing.assert_allclose(paper.values, [1 / 7])
    np.testing.assert_allclose(paper["peak_loss"].values, [2.5])
    np.testing.assert_allclose(paper["loss_before"].values, [7 / 3])
    np.testing.assert_allclose(paper["loss_after"].values, [4 / 3])


def test_paper_score_on_two_documents() -> None:
    # T=2, M=1, E=3. Presentation n=1: doc 0 after L[1]=1, before L[2]=3, peak 3;
    # doc 1 after L[2]=2, before L[3]=1, peak 2. l_max 2.5, l_before 2, l_after 1.5:
    # RS(1) = 0.5 / 1.0 = 0.5 (the per-document ratios are 0 and undefined).
    # n=2: doc 0 after L[3]=1.5, before L[4]=2.5, peak 2.5; doc 1 after L[4]=0.5,
    # before L[5]=1.5, peak 1.5. l_max 2, l_before 2, l_after 1: RS(2) = 0.
    loss = np.array(
        [[5, 5], [1, 5], [3, 2], [1.5, 1], [2.5, 0.5], [1, 1.5], [2, 0.25]], dtype=float
    )
    ds = synthetic_run(loss, steps_per_doc=1)
    paper = paper_recovery_score(ds)
    assert paper["presentation"].values.tolist() == [1, 2]
    np.testing.assert_allclose(paper.values, [0.5, 0.0])
    np.testing.assert_allclose(paper["peak_loss"].values, [2.5, 2.0])
    np.testing.assert_allclose(recovery_score(ds).values, [[0.0, np.nan], [0.0, 0.0]])


def test_shuffled_order_uses_the_trained_doc_coordinate() -> None:
    # T=3, M=1, E=2, order [[2, 0, 1], [1, 2, 0]]: steps 1..6 train docs 2, 0, 1, 1, 2, 0.
    # doc 2: a = 1, b = 4, l(1..4) = 1, 3, 4, 2 -> amount 2, score 2/3
    # doc 0: a = 2, b = 5, l(2..5) = 0.5, 1.5, 2.5, 2 -> amount 0.5, score 0.25
    # doc 1: trained at steps 3 and 4: a = b = 3, nothing to forget -> amount 0, score NaN
    loss = np.full((7, 3), 9.0)
    loss[1:5, 2] = [1, 3, 4, 2]
    loss[2:6, 0] = [0.5, 1.5, 2.5, 2]
    ds = synthetic_run(loss, steps_per_doc=1, order=np.array([[2, 0, 1], [1, 2, 0]]))
    np.testing.assert_allclose(recovery_amount(ds).values, [[0.5, 0.0, 2.0]])
    np.testing.assert_allclose(recovery_score(ds).values, [[0.25, np.nan, 2 / 3]])


def test_evaluation_at_document_boundaries_only(boundary_only) -> None:
    # T=3, M=2, E=2; only steps 0, 2, 4, ..., 12 evaluated.
    # doc 0 at steps 2, 4, 6: 1, 3, 2 -> 0.5; doc 1 at 4, 6, 8: 0.5, 2.5, 1 -> 1.5/2 = 0.75;
    # doc 2 at 6, 8, 10: 1, 2, 3 -> 0
    loss = np.full((13, 3), 4.0)
    loss[[2, 4, 6], 0] = [1, 3, 2]
    loss[[4, 6, 8], 1] = [0.5, 2.5, 1]
    loss[[6, 8, 10], 2] = [1, 2, 3]
    ds = synthetic_run(boundary_only(loss, 2), steps_per_doc=2)
    np.testing.assert_allclose(recovery_score(ds).values, [[0.5, 0.75, 0.0]])
    # l_max = (3 + 2.5 + 3)/3, l_before = (2 + 1 + 3)/3, l_after = (1 + 0.5 + 1)/3
    np.testing.assert_allclose(paper_recovery_score(ds).values, [(8.5 - 6) / (8.5 - 2.5)])


def test_in_progress_run_gives_nan_where_the_document_has_not_returned() -> None:
    loss = _cycle_loss()
    loss[8:] = np.nan
    ds = synthetic_run(loss, steps_per_doc=2, status="running", completed_steps=7)
    # doc 0 returns at step 7 (b = 6): defined; docs 1 and 2 have b = 8, 10: not yet
    np.testing.assert_allclose(recovery_score(ds).values, [[0.75, np.nan, np.nan]])


def test_data_past_completed_steps_is_ignored() -> None:
    # A reader can see a block a moment before completed_steps covers it.
    ds = synthetic_run(_cycle_loss(), steps_per_doc=2, status="running", completed_steps=7)
    np.testing.assert_allclose(recovery_score(ds).values, [[0.75, np.nan, np.nan]])


def test_single_epoch_warns_and_returns_an_empty_epoch_dim() -> None:
    ds = synthetic_run(np.ones((7, 3)), steps_per_doc=2)  # T=3, M=2, E=1
    with pytest.warns(RecoveryUndefinedWarning, match="fewer than 2 epochs"):
        score = recovery_score(ds)
    assert score.sizes == {"epoch": 0, "doc": 3}
    with pytest.warns(RecoveryUndefinedWarning):
        assert np.isnan(mean_recovery_score(ds).mean().item())
    with pytest.warns(RecoveryUndefinedWarning):
        assert paper_recovery_score(ds).sizes == {"presentation": 0}


def test_min_forgetting_and_scores_above_one() -> None:
    # T=2, M=1, E=2. doc 0: a = 1, b = 2, l = 1, 1 + 2**-21 (exact in float32): the
    # forgetting 4.8e-7 is below the default 1e-6 -> NaN; with min_forgetting=1e-7 it counts
    # and the loss only rose: 0. doc 1: a = 2, b = 3, l = 1, 3 -> 0
    loss = np.array([[5, 5], [1, 5], [1 + 2**-21, 1], [0.5, 3], [1, 1]], dtype=np.float64)
    ds = synthetic_run(loss, steps_per_doc=1)
    np.testing.assert_array_equal(recovery_score(ds).values, [[np.nan, 0.0]])
    np.testing.assert_array_equal(recovery_score(ds, min_forgetting=1e-7).values, [[0.0, 0.0]])
    # T=3: doc 0 at a = 1, b = 3: l = 1, 3, 0.5 -> falls below l(a): (3 - 0.5) / (3 - 1)
    loss3 = np.full((7, 3), 4.0)
    loss3[1:4, 0] = [1, 3, 0.5]
    assert recovery_score(synthetic_run(loss3, steps_per_doc=1)).sel(doc=0).item() == 1.25


def test_inputs_are_not_mutated(hand_run: xr.Dataset) -> None:
    before = hand_run.copy(deep=True)
    recovery_score(hand_run)
    paper_recovery_score(hand_run)
    xr.testing.assert_identical(hand_run, before)


def test_missing_loss_is_a_clear_error() -> None:
    with pytest.raises(
        StoreError, match=r"recovery_score needs 'loss' with dims \('step', 'doc'\)"
    ):
        recovery_score(xr.Dataset({"train_loss": ("step", [1.0])}))
    with pytest.raises(TypeError, match="takes a run Dataset"):
        recovery_score(xr.DataArray([1.0]))  # type: ignore[arg-type]


def test_no_warning_when_two_epochs() -> None:
    ds = synthetic_run(_cycle_loss(), steps_per_doc=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recovery_score(ds)
        paper_recovery_score(ds)
