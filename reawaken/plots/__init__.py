"""HoloViews figures built from analysis results, for the app (Bokeh) and for papers (Matplotlib).

Each function takes an analysis result (or the raw ``loss``) and returns a HoloViews object
styled for both backends; :func:`write_figures` saves the static versions.
"""

from __future__ import annotations

from reawaken.plots.export import write_figures
from reawaken.plots.large import for_browser
from reawaken.plots.matrix import recovery_matrix
from reawaken.plots.mechanism import update_magnitudes, weight_residual_similarity
from reawaken.plots.recovery import aligned_curves, document_loss, loss_heatmap, recovery_scores
from reawaken.plots.representations import (
    document_points,
    document_similarity,
    snapshot_similarity,
)
from reawaken.plots.trajectory import trajectory_panels, weight_trajectory, weight_trajectory_3d

__all__ = [
    "aligned_curves",
    "document_loss",
    "document_points",
    "document_similarity",
    "for_browser",
    "loss_heatmap",
    "recovery_matrix",
    "recovery_scores",
    "snapshot_similarity",
    "trajectory_panels",
    "update_magnitudes",
    "weight_residual_similarity",
    "weight_trajectory",
    "weight_trajectory_3d",
    "write_figures",
]
