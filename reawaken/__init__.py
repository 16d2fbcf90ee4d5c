"""reawaken: anticipatory recovery in cyclic fine-tuning, as a one-command experiment.

``import reawaken`` stays light (no torch): the read side (``open_run``, ``open_runs``,
``reawaken.analysis``) only needs xarray.
"""

from __future__ import annotations

from reawaken import analysis  # also registers the ds.reawaken accessor
from reawaken._version import __version__
from reawaken.analysis import (
    aligned_curves,
    boundary_losses,
    gradient_similarity,
    mean_interval,
    pairwise_recovery,
    paper_recovery_score,
    prequential_loss,
    recovery_amount,
    recovery_matrix,
    recovery_score,
    representation_pca,
    representation_similarity,
    summary,
    update_magnitudes,
    weight_residual_similarity,
    weight_trajectory,
)
from reawaken.store.combine import open_runs
from reawaken.store.reader import open_run

__all__ = [
    "__version__",
    "aligned_curves",
    "analysis",
    "boundary_losses",
    "gradient_similarity",
    "mean_interval",
    "open_run",
    "open_runs",
    "pairwise_recovery",
    "paper_recovery_score",
    "prequential_loss",
    "recovery_amount",
    "recovery_matrix",
    "recovery_score",
    "representation_pca",
    "representation_similarity",
    "summary",
    "update_magnitudes",
    "weight_residual_similarity",
    "weight_trajectory",
]
