"""The ``ds.reawaken`` accessor: one-line delegates to the analysis functions, nothing more.

``ds.reawaken.recovery_score()`` is ``reawaken.analysis.recovery_score(ds)``; the functions
stay the single implementation (and the place to read signatures and docs).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import xarray as xr

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
from reawaken.analysis.similarity import gradient_similarity, representation_similarity
from reawaken.analysis.summary import summary
from reawaken.analysis.trajectory import weight_trajectory

__all__ = ["DELEGATED", "RunAccessor"]

DELEGATED: tuple[Callable[..., Any], ...] = (
    boundary_losses,
    aligned_curves,
    recovery_amount,
    recovery_score,
    mean_recovery_score,
    paper_recovery_score,
    prequential_loss,
    mean_prequential_loss,
    recovery_matrix,
    pairwise_recovery,
    representation_similarity,
    representation_pca,
    gradient_similarity,
    weight_trajectory,
    weight_residual_similarity,
    update_magnitudes,
    summary,
)


class RunAccessor:
    """``ds.reawaken.<function>(**options)`` for every function of :mod:`reawaken.analysis`.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken.analysis
    >>> from reawaken.testing import synthetic_run
    >>> ds = synthetic_run(np.ones((5, 2)), steps_per_doc=1)
    >>> ds.reawaken.boundary_losses().dims
    ('episode', 'doc')
    """

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds


def _delegate(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def method(self: RunAccessor, *args: Any, **kwargs: Any) -> Any:
        return func(self._ds, *args, **kwargs)

    # A short docstring: the function's own (with its doctest) lives in one place only.
    method.__doc__ = f"Delegate to :func:`{func.__module__}.{func.__name__}` on this Dataset."
    return method


for _func in DELEGATED:
    setattr(RunAccessor, _func.__name__, _delegate(_func))

xr.register_dataset_accessor("reawaken")(RunAccessor)
