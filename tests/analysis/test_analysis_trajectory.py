"""PCA of weight trajectories: a circle in a 2-D plane of a high-dimensional space."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.analysis import weight_trajectory
from reawaken.errors import StoreError
from reawaken.testing import synthetic_run

T, M, E = 3, 1, 4  # 13 steps, one snapshot per document boundary: 13 snapshots
SNAPSHOTS = E * T + 1
DIM = 300


def _plane(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two orthonormal directions and a centre far from the origin, in R^300."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(DIM, 2)))[0]
    return basis[:, 0], basis[:, 1], 5.0 * rng.normal(size=DIM)


def _run(weight: np.ndarray, source: str = "weight"):
    return synthetic_run(np.zeros((T * M * E + 1, T)), steps_per_doc=M, arrays={source: weight})


def test_circle_radius_and_explained_variance_are_exact() -> None:
    u, v, centre = _plane()
    angle = 2 * np.pi * np.arange(SNAPSHOTS) / SNAPSHOTS  # equally spaced: isotropic in-plane
    radius = 2.0
    weight = centre + radius * (np.cos(angle)[:, None] * u + np.sin(angle)[:, None] * v)
    pca = weight_trajectory(_run(weight), n_components=3)
    assert pca["projection"].dims == ("snapshot", "component")
    assert pca["component"].values.tolist() == [1, 2, 3]
    # variance r^2/2 along each in-plane direction, nothing out of the plane
    np.testing.assert_allclose(pca["explained_variance_ratio"].values, [0.5, 0.5, 0.0], atol=1e-6)
    # sample variance (ddof=1): sum of r^2 cos^2 over n points / (n - 1) = (n r^2 / 2) / (n - 1)
    np.testing.assert_allclose(
        pca["explained_variance"].values[:2], SNAPSHOTS * radius**2 / 2 / (SNAPSHOTS - 1), rtol=1e-5
    )
    distance = np.hypot(pca["projection"].sel(component=1), pca["projection"].sel(component=2))
    np.testing.assert_allclose(distance.values, radius, rtol=1e-5)  # float32 storage
    np.testing.assert_allclose(pca["projection"].sel(component=3).values, 0.0, atol=1e-4)


def test_ellipse_splits_the_variance_by_squared_radii() -> None:
    u, v, centre = _plane(1)
    angle = 2 * np.pi * np.arange(SNAPSHOTS) / SNAPSHOTS
    weight = centre + 3.0 * np.cos(angle)[:, None] * u + 1.0 * np.sin(angle)[:, None] * v
    pca = weight_trajectory(_run(weight), n_components=2)
    # variances 9/2 and 1/2: ratios 0.9 and 0.1; first component spans -3..3
    np.testing.assert_allclose(pca["explained_variance_ratio"].values, [0.9, 0.1], atol=1e-6)
    np.testing.assert_allclose(np.abs(pca["projection"].sel(component=1)).max(), 3.0, rtol=1e-5)


def test_sign_is_fixed_by_the_largest_projection() -> None:
    u, _, centre = _plane(2)
    along = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 30.0])  # far point last
    weight = centre + along[:, None] * u
    first = weight_trajectory(_run(weight), n_components=1)["projection"].sel(component=1)
    flipped = weight_trajectory(_run(2 * centre - weight), n_components=1)
    # mean 96/13; the far point projects to 30 - 96/13 > 0 in both runs
    np.testing.assert_allclose(first.values, along - along.mean(), atol=1e-4)
    np.testing.assert_allclose(
        flipped["projection"].sel(component=1).values, first.values, atol=1e-4
    )


def test_unwritten_snapshots_are_left_out() -> None:
    u, v, centre = _plane(3)
    angle = 2 * np.pi * np.arange(8) / 8
    weight = np.full((SNAPSHOTS, DIM), np.nan)
    weight[:8] = centre + np.cos(angle)[:, None] * u + np.sin(angle)[:, None] * v
    pca = weight_trajectory(_run(weight))
    projection = pca["projection"].values
    assert np.isnan(projection[8:]).all()
    np.testing.assert_allclose(np.hypot(projection[:8, 0], projection[:8, 1]), 1.0, rtol=1e-5)
    np.testing.assert_allclose(pca["explained_variance_ratio"].values, [0.5, 0.5, 0.0], atol=1e-6)


def test_snapshot_coordinates_name_the_step_they_were_taken_after() -> None:
    pca = weight_trajectory(_run(np.random.default_rng(0).normal(size=(SNAPSHOTS, 5))))
    assert pca["snapshot_step"].values.tolist() == list(range(13))
    assert pca["trained_doc"].values.tolist() == [-1] + [0, 1, 2] * 4
    assert pca["epoch"].values.tolist() == [-1] + [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert pca["cycle_position"].values.tolist() == [-1] + [0, 1, 2] * 4


def test_sketch_source_and_too_many_components() -> None:
    u, v, centre = _plane(4)
    angle = 2 * np.pi * np.arange(SNAPSHOTS) / SNAPSHOTS
    sketch = (centre + np.cos(angle)[:, None] * u + np.sin(angle)[:, None] * v)[:, :16]
    pca = weight_trajectory(_run(sketch, "weight_sketch"), source="weight_sketch", n_components=20)
    assert pca.sizes["component"] == 20
    assert np.isnan(pca["projection"].sel(component=20)).all()  # only 13 snapshots


def test_missing_source_is_a_clear_error() -> None:
    ds = _run(np.zeros((SNAPSHOTS, 4)), "weight_sketch")
    with pytest.raises(StoreError, match=r"weight_trajectory needs 'weight'.*weight_sketch"):
        weight_trajectory(ds)
    with pytest.raises(ValueError, match="source must be"):
        weight_trajectory(ds, source="embed_out")  # type: ignore[arg-type]
