"""Every analysis function on a store written by the real runner (the shared tiny run)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

import reawaken as rw


def test_analysis_of_a_finished_tiny_run(finished_run: Path) -> None:
    ds = rw.open_run(finished_run)  # T=3, M=2, E=2, SGD with a large lr
    with warnings.catch_warnings():
        warnings.simplefilter("error", rw.analysis.RecoveryUndefinedWarning)
        assert rw.boundary_losses(ds).sizes == {"episode": 7, "doc": 3}
        assert np.isfinite(rw.aligned_curves(ds)["mean"]).all()
        assert rw.recovery_score(ds).sizes == {"epoch": 1, "doc": 3}
        assert np.isfinite(rw.prequential_loss(ds)).all()
        matrix = rw.recovery_matrix(ds)
        # a document's own block lowers its loss: the diagonal is negative
        assert (np.diag(matrix.values) < 0).all()
        assert rw.paper_recovery_score(ds).sizes == {"presentation": 1}
        assert rw.weight_trajectory(ds, source="weight_sketch")["projection"].sizes == {
            "snapshot": 7,
            "component": 3,
        }
        similarity = rw.representation_similarity(ds)
        np.testing.assert_allclose(np.diag(similarity.values), 1.0, rtol=1e-6)
    row = rw.summary(ds)
    assert row["status"].item() == "completed" and row["progress"].item() == 1.0
    opened = rw.open_runs([finished_run])
    assert opened["run"].values.tolist() == ["tiny"]
    together = rw.summary(opened).sel(run="tiny")
    for name in ("final_mean_loss", "mean_recovery_score", "mean_prequential_loss"):
        assert together[name].item() == row[name].item()
