"""HoloViews figures built from analysis results, for the app (Bokeh) and for papers (Matplotlib).

Each function takes an analysis result (or the raw ``loss``) and returns a HoloViews object
styled for both backends; :func:`write_figures` saves the static versions.
"""

from __future__ import annotations

from reawaken.plots.export import write_figures
from reawaken.plots.large import for_browser
from reawaken.plots.matrix import recovery_matrix_plot, symmetric_limit
from reawaken.plots.mechanism import update_magnitudes_plot, weight_residual_similarity_plot
from reawaken.plots.recovery import (
    aligned_curves_plot,
    document_loss,
    loss_heatmap,
    online_loss,
    recovery_scores,
)
from reawaken.plots.representations import (
    document_points,
    document_similarity,
    snapshot_similarity,
)
from reawaken.plots.sweep import sweep_scores
from reawaken.plots.trajectory import (
    trajectory_panels,
    weight_trajectory_3d,
    weight_trajectory_plot,
)

__all__ = [
    "aligned_curves_plot",
    "document_loss",
    "document_points",
    "document_similarity",
    "for_browser",
    "loss_heatmap",
    "online_loss",
    "recovery_matrix_plot",
    "recovery_scores",
    "snapshot_similarity",
    "sweep_scores",
    "symmetric_limit",
    "trajectory_panels",
    "update_magnitudes_plot",
    "weight_residual_similarity_plot",
    "weight_trajectory_3d",
    "weight_trajectory_plot",
    "write_figures",
]
