"""Aligned (shift-averaged) curves: offsets, the complete window and the paper's S[m]."""

from __future__ import annotations

import warnings

import numpy as np

from reawaken.analysis import aligned_curves, boundary_losses
from reawaken.testing import synthetic_run


def _run(order: np.ndarray | None = None, steps_per_doc: int = 2, loss=None, **kwargs):
    T, M, E = 3, steps_per_doc, 3
    if loss is None:
        loss = 100 * np.arange(E * T * M + 1.0)[:, None] + np.arange(T)  # loss[s, d] = 100 s + d
    return synthetic_run(loss, steps_per_doc=M, order=order, **kwargs)


def test_offsets_count_steps_from_just_before_the_first_update() -> None:
    ds = _run()  # T=3, M=2, E=3: 19 steps; doc d's first update is step 2d + 1
    curves = aligned_curves(ds)
    # doc 2 starts at step 5 (origin 4), so the complete window is offsets 0..18-4 = 14
    assert curves["offset"].values.tolist() == list(range(15))
    np.testing.assert_allclose(curves["offset_epochs"].values, np.arange(15) / 6)
    # doc 1: origin 2, curve = loss[2 + offset, 1] = 100 (2 + offset) + 1
    np.testing.assert_allclose(curves["curve"].sel(doc=1).values, 100 * (2 + np.arange(15)) + 1)
    # mean over docs of 100 (2d + offset) + d = 100 offset + 100 * 2 + 1 (d = 0, 1, 2)
    np.testing.assert_allclose(curves["mean"].values, 100 * np.arange(15) + 201)
    # std (ddof=0) of 201 d over d = 0, 1, 2: 201 * sqrt(2/3)
    np.testing.assert_allclose(curves["std"].values, 201 * np.sqrt(2 / 3))
    assert curves["count"].values.tolist() == [3] * 15
    assert curves["curve"].dims == ("doc", "offset")
    assert curves["mean"].attrs["units"] == "nats"


def test_mean_at_multiples_of_m_is_the_papers_shift_averaged_curve() -> None:
    rng = np.random.default_rng(3)
    T, M, E = 3, 2, 3
    ds = synthetic_run(rng.random((E * T * M + 1, T)), steps_per_doc=M)
    L = boundary_losses(ds).values  # L[k, j], k = 0..E*T
    # docs/definitions.md (shift-averaged curve): S[m] = mean_j L[j + m, j] for m = 0 .. (E-1) T + 1
    paper = [np.mean([L[j + m, j] for j in range(T)]) for m in range((E - 1) * T + 2)]
    mean = aligned_curves(ds)["mean"]
    np.testing.assert_allclose(mean.sel(offset=np.arange(len(paper)) * M).values, paper, rtol=1e-6)
    assert mean["offset"].values.max() == ((E - 1) * T + 1) * M


def test_ragged_keeps_the_late_offsets_with_fewer_documents() -> None:
    curves = aligned_curves(_run(), ragged=True)
    # doc 0 has offsets 0..18, doc 1 0..16, doc 2 0..14
    assert curves["offset"].values.tolist() == list(range(19))
    assert curves["count"].sel(offset=[14, 15, 16, 17, 18]).values.tolist() == [3, 2, 2, 1, 1]
    np.testing.assert_allclose(curves["mean"].sel(offset=18).item(), 100 * 18)


def test_evaluation_at_boundaries_only_keeps_every_mth_offset(boundary_only) -> None:
    loss = 100 * np.arange(19.0)[:, None] + np.arange(3)
    curves = aligned_curves(_run(loss=boundary_only(loss, 2)))
    assert curves["offset"].values.tolist() == list(range(0, 15, 2))
    np.testing.assert_allclose(curves["mean"].values, 100 * np.arange(0, 15, 2) + 201)


def test_shuffled_order_aligns_each_document_on_its_own_first_block() -> None:
    # order [[2, 0, 1], ...]: doc 2 starts at step 1 (origin 0), doc 0 at 3, doc 1 at 5
    order = np.array([[2, 0, 1], [0, 1, 2], [1, 2, 0]])
    curves = aligned_curves(_run(order=order))
    np.testing.assert_allclose(curves["curve"].sel(doc=2).values, 100 * np.arange(15) + 2)
    np.testing.assert_allclose(curves["curve"].sel(doc=0).values, 100 * (2 + np.arange(15)))
    np.testing.assert_allclose(curves["curve"].sel(doc=1).values, 100 * (4 + np.arange(15)) + 1)


def test_in_progress_run_shrinks_the_complete_window() -> None:
    loss = 100 * np.arange(19.0)[:, None] + np.arange(3)
    loss[11:] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" noise
        curves = aligned_curves(_run(loss=loss, status="running", completed_steps=10))
        ragged = aligned_curves(_run(loss=loss, status="running", completed_steps=10), ragged=True)
    assert curves["offset"].values.tolist() == list(range(7))  # doc 2: steps 4..10
    assert ragged["offset"].values.max() == 10  # doc 0: steps 0..10
