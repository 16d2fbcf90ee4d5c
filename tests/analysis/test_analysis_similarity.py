"""Cosine and linear CKA on hand-made vectors, and the two layouts of representation_similarity."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.analysis import (
    cosine_matrix,
    gradient_similarity,
    linear_cka_matrix,
    representation_similarity,
)
from reawaken.errors import StoreError
from reawaken.testing import synthetic_run

SQRT_HALF = np.sqrt(0.5)


def _run(activation: np.ndarray, **arrays: np.ndarray):
    # T=3 docs, M=1, E=1: 4 steps; one snapshot per given activation row
    snapshots = activation.shape[0]
    return synthetic_run(
        np.zeros((4, 3)),
        steps_per_doc=1,
        snapshot_steps=np.arange(snapshots) if snapshots <= 4 else None,
        arrays={"activation": activation, **arrays},
    )


def test_cosine_of_hand_made_vectors() -> None:
    # [1, 0] . [1, 1] = 1, norms 1 and sqrt 2: 1/sqrt 2; [1, 1] . [0, -2] = -2 / (sqrt 2 * 2)
    vectors = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]])
    expected = [[1, SQRT_HALF, 0], [SQRT_HALF, 1, -SQRT_HALF], [0, -SQRT_HALF, 1]]
    np.testing.assert_allclose(cosine_matrix(vectors), expected, atol=1e-12)
    assert np.isnan(cosine_matrix(np.array([[0.0, 0.0], [1.0, 0.0]]))[0]).all()


def test_linear_cka_by_hand() -> None:
    # One feature each, 3 examples: x = 1, 2, 3 and y = 1, 3, 2. Centred: (-1, 0, 1) and
    # (-1, 1, 0); x.y = 1, |x|^2 = |y|^2 = 2, so CKA = (x.y)^2 / (|x|^2 |y|^2) = 1/4
    x = np.array([[1.0], [2.0], [3.0]])
    y = np.array([[1.0], [3.0], [2.0]])
    np.testing.assert_allclose(linear_cka_matrix(np.stack([x, y])), [[1, 0.25], [0.25, 1]])
    # invariant to rotation, isotropic scaling and translation of the features
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 4))
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    b = 3.0 * a @ rotation + 7.0
    np.testing.assert_allclose(linear_cka_matrix(np.stack([a, b]))[0, 1], 1.0)


def test_linear_cka_matches_the_feature_space_formula() -> None:
    # CKA(X, Y) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), computed directly
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 5)), rng.normal(size=(7, 3))
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    direct = np.linalg.norm(yc.T @ xc) ** 2 / (
        np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)
    )
    padded = np.zeros((2, 7, 5))
    padded[0], padded[1, :, :3] = x, y  # zero features change nothing
    np.testing.assert_allclose(linear_cka_matrix(padded)[0, 1], direct)
    # examples left out of the mask are left out of the centring too
    mask = np.array([True] * 5 + [False] * 2)
    xm, ym = x[:5] - x[:5].mean(axis=0), y[:5] - y[:5].mean(axis=0)
    masked = np.linalg.norm(ym.T @ xm) ** 2 / (
        np.linalg.norm(xm.T @ xm) * np.linalg.norm(ym.T @ ym)
    )
    np.testing.assert_allclose(linear_cka_matrix(padded, mask)[0, 1], masked)


def test_doc_by_doc_cosine_at_the_last_written_snapshot() -> None:
    activation = np.full((4, 3, 1, 2), np.nan)  # snapshots 0-1 written, 2-3 not yet
    activation[0] = [[[1, 0]], [[0, 1]], [[1, 1]]]
    activation[1] = [[[1, 0]], [[1, 1]], [[0, -2]]]
    ds = _run(activation)
    similarity = representation_similarity(ds)
    assert similarity.dims == ("doc", "other_doc")
    assert similarity["snapshot"].item() == 1 and similarity["snapshot_step"].item() == 1
    expected = [[1, SQRT_HALF, 0], [SQRT_HALF, 1, -SQRT_HALF], [0, -SQRT_HALF, 1]]
    np.testing.assert_allclose(similarity.values, expected, atol=1e-7)
    first = representation_similarity(ds, snapshot=0)
    np.testing.assert_allclose(first.sel(doc=0, other_doc=2).item(), SQRT_HALF, atol=1e-7)
    assert np.isnan(representation_similarity(ds, snapshot=3).values).all()


def test_layer_selects_by_position() -> None:
    activation = np.zeros((4, 3, 2, 2))
    activation[:, :, 0] = [[1, 0], [1, 0], [1, 0]]  # layer 0: all docs alike
    activation[:, :, 1] = [[1, 0], [0, 1], [-1, 0]]  # layer 1: orthogonal and opposite
    ds = _run(activation)
    np.testing.assert_allclose(representation_similarity(ds, layer=0).values, np.ones((3, 3)))
    last = representation_similarity(ds)  # layer=-1: the last stored layer
    np.testing.assert_allclose(last.values, [[1, 0, -1], [0, 1, 0], [-1, 0, 1]], atol=1e-7)
    assert last["layer"].item() == 1
    with pytest.raises(StoreError, match="layer=2 is out of range"):
        representation_similarity(ds, layer=2)


def test_one_document_across_snapshots() -> None:
    activation = np.full((4, 3, 1, 2), np.nan)
    activation[:3, 0, 0] = [[1, 0], [1, 1], [0, 3]]  # doc 0 over snapshots 0, 1, 2
    activation[:3, 1:, 0] = 1.0
    similarity = representation_similarity(_run(activation), doc=0)
    assert similarity.dims == ("snapshot", "other_snapshot")
    assert similarity["doc"].item() == 0
    assert similarity["snapshot_step"].values.tolist() == [0, 1, 2, 3]
    expected = [[1, SQRT_HALF, 0], [SQRT_HALF, 1, SQRT_HALF], [0, SQRT_HALF, 1]]
    np.testing.assert_allclose(similarity.values[:3, :3], expected, atol=1e-7)
    assert np.isnan(similarity.values[3]).all() and np.isnan(similarity.values[:, 3]).all()


def test_cka_between_documents_compares_their_trajectories() -> None:
    # hidden size 1; over snapshots 0..2 doc 0 goes 1, 2, 3; doc 1 goes 1, 3, 2 (CKA 1/4 as
    # above); doc 2 goes 5, 3, 1 (a scaled, negated copy of doc 0: CKA 1)
    activation = np.full((4, 3, 1, 1), np.nan)
    activation[:3, :, 0, 0] = [[1, 1, 5], [2, 3, 3], [3, 2, 1]]
    cka = representation_similarity(_run(activation), method="cka")
    expected = [[1, 0.25, 1], [0.25, 1, 0.25], [1, 0.25, 1]]
    np.testing.assert_allclose(cka.values, expected, atol=1e-7)
    # up to snapshot 1 only two points per trajectory: all centred pairs are collinear
    np.testing.assert_allclose(
        representation_similarity(_run(activation), method="cka", snapshot=1).values, 1.0
    )


def test_cka_across_snapshots_compares_all_documents_at_once() -> None:
    # hidden size 1; at snapshot 0 docs are 1, 2, 3; snapshot 1 is 2x that (CKA 1);
    # snapshot 2 is 1, 3, 2 (CKA 1/4 with the others); snapshot 3 not written
    activation = np.full((4, 3, 1, 1), np.nan)
    activation[:3, :, 0, 0] = [[1, 2, 3], [2, 4, 6], [1, 3, 2]]
    cka = representation_similarity(_run(activation), method="cka", doc=2)
    np.testing.assert_allclose(
        cka.values[:3, :3], [[1, 1, 0.25], [1, 1, 0.25], [0.25, 0.25, 1]], atol=1e-7
    )
    assert np.isnan(cka.values[3]).all()


def test_gradient_similarity_and_its_errors() -> None:
    grads = np.zeros((4, 3, 3))
    grads[:] = [[3, 0, 4], [0, 1, 0], [-3, 0, -4]]
    ds = _run(np.zeros((4, 3, 1, 2)), grad_sketch=grads)
    similarity = gradient_similarity(ds)
    np.testing.assert_allclose(similarity.values, [[1, 0, -1], [0, 1, 0], [-1, 0, 1]])
    assert similarity["snapshot"].item() == 3
    plain = synthetic_run(np.zeros((4, 3)), steps_per_doc=1)
    with pytest.raises(
        StoreError, match=r"gradient_similarity needs 'grad_sketch'.*grad_sketch=true"
    ):
        gradient_similarity(plain)
    with pytest.raises(StoreError, match="representation_similarity needs 'activation'"):
        representation_similarity(plain)
    with pytest.raises(ValueError, match="method must be"):
        representation_similarity(ds, method="svcca")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="no doc 7"):
        representation_similarity(ds, doc=7)
    with pytest.raises(StoreError, match="no snapshot 9"):
        representation_similarity(ds, snapshot=9)
