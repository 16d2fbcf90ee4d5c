"""Weight-residual similarity (Fig. 8c) and update magnitudes (Fig. 22), against hand values."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.analysis import update_magnitudes, weight_residual_similarity
from reawaken.errors import StoreError
from reawaken.testing import synthetic_run


def _cyclic_weights(epochs: int = 4, docs: int = 4) -> np.ndarray:
    """Snapshots after every document: a drift plus a point that goes round once per epoch."""
    k = np.arange(epochs * docs + 1)
    angle = 2 * np.pi * k / docs
    return np.stack([0.3 * k, np.cos(angle), np.sin(angle)], axis=1)


def test_residuals_repeat_once_per_epoch_with_the_default_window() -> None:
    weight = _cyclic_weights()
    loss = np.zeros((4 * 4 + 1, 4))
    ds = synthetic_run(loss, steps_per_doc=1, arrays={"weight_sketch": weight})
    similarity = weight_residual_similarity(ds)  # window = 4 snapshots per epoch
    assert similarity.attrs["window"] == 4
    values = similarity.values
    # the moving mean over 5 snapshots (h = 2) removes the drift and leaves the circle
    # scaled: residual(t) = circle(t) * (1 - (1 + 2 cos(pi/2) + 2 cos(pi)) / 5)
    np.testing.assert_allclose(values[2, 6], 1.0, atol=1e-12)  # one epoch apart: same place
    np.testing.assert_allclose(values[2, 4], -1.0, atol=1e-12)  # half an epoch: opposite
    np.testing.assert_allclose(values[2, 3], 0.0, atol=1e-12)  # a quarter: orthogonal
    assert np.isnan(values[:2]).all() and np.isnan(values[-2:]).all()  # window not complete


def test_update_magnitudes_read_one_document_and_the_weights() -> None:
    loss = np.zeros((5, 2))
    activation = np.zeros((5, 2, 1, 3))
    activation[:, 1, 0, :2] = [[0, 0], [1, 0], [1, 0], [1, 2], [4, 6]]
    ds = synthetic_run(loss, steps_per_doc=1, arrays={"activation": activation})
    result = update_magnitudes(ds, doc=1)
    assert result["activation_update"].values[1:].tolist() == [1.0, 0.0, 2.0, 5.0]
    assert np.isnan(result["weight_update"].values).all()  # the run has no weight snapshots
    with pytest.raises(StoreError, match="no doc 7"):
        update_magnitudes(ds, doc=7)
