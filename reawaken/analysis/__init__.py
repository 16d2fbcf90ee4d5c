"""Analysis of run stores: pure functions from a run Dataset to labelled xarray results.

Every function takes a run (:func:`reawaken.open_run`) or several (:func:`reawaken.open_runs`,
extra ``run`` dim) and returns a DataArray or Dataset with named dims; none does I/O or
plotting.

``__all__`` below is the one list of public analysis functions: ``reawaken/__init__.py``
exports every name in it at top level (``reawaken.recovery_score``), and the ``ds.reawaken``
accessor, registered at the end of this file, gets a method for every function in it whose
first parameter is the run Dataset ``ds`` (tests/analysis/test_public_api.py checks both).
"""

from __future__ import annotations

from reawaken.analysis._checks import RecoveryUndefinedWarning
from reawaken.analysis.accessor import register_accessor
from reawaken.analysis.blocks import block_table
from reawaken.analysis.boundaries import boundary_losses, mean_prequential_loss, prequential_loss
from reawaken.analysis.curves import aligned_curves
from reawaken.analysis.matrix import pairwise_recovery, recovery_matrix
from reawaken.analysis.mechanism import update_magnitudes, weight_residual_similarity
from reawaken.analysis.points import representation_pca
from reawaken.analysis.recovery import (
    mean_recovery_score,
    paper_recovery_score,
    recovery_amount,
    recovery_score,
)
from reawaken.analysis.similarity import (
    cosine_matrix,
    gradient_similarity,
    linear_cka_matrix,
    representation_similarity,
)
from reawaken.analysis.stats import interval_by, mean_interval, student_t_quantile
from reawaken.analysis.summary import SUMMARY_VARIABLES, summary
from reawaken.analysis.trajectory import weight_trajectory

__all__ = [
    "SUMMARY_VARIABLES",
    "RecoveryUndefinedWarning",
    "aligned_curves",
    "block_table",
    "boundary_losses",
    "cosine_matrix",
    "gradient_similarity",
    "interval_by",
    "linear_cka_matrix",
    "mean_interval",
    "mean_prequential_loss",
    "mean_recovery_score",
    "pairwise_recovery",
    "paper_recovery_score",
    "prequential_loss",
    "recovery_amount",
    "recovery_matrix",
    "recovery_score",
    "representation_pca",
    "representation_similarity",
    "student_t_quantile",
    "summary",
    "update_magnitudes",
    "weight_residual_similarity",
    "weight_trajectory",
]

register_accessor(globals()[name] for name in __all__)
