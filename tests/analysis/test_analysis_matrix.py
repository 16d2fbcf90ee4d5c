"""The in-run pairwise recovery matrix, on runs built from a known banded effect matrix."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.analysis import recovery_matrix
from reawaken.testing import synthetic_run

T, M, E = 4, 2, 3
# change of doc i's loss over the block of a doc at cyclic distance d = (pos j - pos i) % T:
# its own block -1, the next document +0.5, the one after +0.1, the one just before -0.25
BY_DISTANCE = np.array([-1.0, 0.5, 0.1, -0.25])


def _banded_effect(epoch: int, position: int, doc: int) -> np.ndarray:
    distance = (position - np.arange(T)) % T  # cyclic order: doc i sits at position i
    scale = 3.0 if epoch == 0 else 1.0  # epoch 0 must not enter the mean
    return scale * BY_DISTANCE[distance]


def test_matrix_recovers_a_banded_effect(effect_loss) -> None:
    order = np.tile(np.arange(T), (E, 1))
    ds = synthetic_run(effect_loss(order, M, _banded_effect), steps_per_doc=M)
    matrix = recovery_matrix(ds)
    assert matrix.dims == ("doc", "trained_doc")
    # R[i, j] = BY_DISTANCE[(j - i) % T]: -1 on the diagonal, 0.5 just above it, ...
    expected = np.array([[BY_DISTANCE[(j - i) % T] for j in range(T)] for i in range(T)])
    np.testing.assert_allclose(matrix.values, expected, atol=1e-5)
    assert matrix.sel(doc=2, trained_doc=3).item() == pytest.approx(0.5, abs=1e-5)
    by_distance = recovery_matrix(ds, by_distance=True)
    assert by_distance.dims == ("doc", "distance")
    np.testing.assert_allclose(by_distance.values, np.tile(BY_DISTANCE, (T, 1)), atol=1e-5)


def test_matrix_with_boundary_evaluation_only(effect_loss, boundary_only) -> None:
    order = np.tile(np.arange(T), (E, 1))
    loss = boundary_only(effect_loss(order, M, _banded_effect), M)
    by_distance = recovery_matrix(synthetic_run(loss, steps_per_doc=M), by_distance=True)
    np.testing.assert_allclose(by_distance.values, np.tile(BY_DISTANCE, (T, 1)), atol=1e-5)


def test_distance_uses_each_epochs_own_positions_in_a_shuffled_run(effect_loss) -> None:
    order = np.array([[0, 1, 2, 3], [2, 0, 3, 1], [3, 1, 0, 2]])
    position = np.argsort(order, axis=1)  # position[e, i]: where doc i sits in epoch e

    def effect(epoch: int, pos: int, doc: int) -> np.ndarray:
        return BY_DISTANCE[(pos - position[epoch]) % T]

    ds = synthetic_run(effect_loss(order, M, effect), steps_per_doc=M, order=order)
    by_distance = recovery_matrix(ds, by_distance=True)
    np.testing.assert_allclose(by_distance.values, np.tile(BY_DISTANCE, (T, 1)), atol=1e-5)
    # Per document pair the effect changes with the order: doc 3 is at distance 2 - 1 = 1
    # from doc 0 in epoch 1 (+0.5) and at (0 - 2) % 4 = 2 in epoch 2 (+0.1): mean 0.3
    assert recovery_matrix(ds).sel(doc=0, trained_doc=3).item() == pytest.approx(0.3, abs=1e-5)
