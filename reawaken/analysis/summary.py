"""Headline numbers of a run (or one row per run): progress, losses and recovery scores.

The CLI (``reawaken run``, ``reawaken show``) and the app's runs table print these; every
number is computed by the same functions a notebook calls.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from reawaken.analysis._checks import RecoveryUndefinedWarning, require
from reawaken.analysis.blocks import LOSS_DIMS, STEP_COORDS, cycle_length, written
from reawaken.analysis.boundaries import mean_prequential_loss
from reawaken.analysis.recovery import paper_recovery_score, recovery_score

__all__ = ["HEADLINE", "SUMMARY_VARIABLES", "summary"]

#: The number a run is known by, wherever one number is shown (``reawaken run``, ``ls``,
#: ``show``, the app's runs table, ``sweep --status``): the paper's RS(n) at the last epoch.
HEADLINE = "RS"

#: The data variables :func:`summary` reads (the RS headline included): ``open_runs(paths,
#: variables=SUMMARY_VARIABLES)`` reads only these (the runs table of a 200-run sweep in
#: seconds).
SUMMARY_VARIABLES = ("loss", "train_loss")


def _last_value(values: xr.DataArray, dim: str) -> tuple[xr.DataArray, xr.DataArray]:
    """The last non-NaN value along ``dim`` and its label there (NaN and -1 where none)."""
    if values.sizes[dim] == 0:
        zeros = values.sum(dim)  # the other dims, no values
        return zeros * np.nan, xr.full_like(zeros, -1, dtype=np.int64)
    found = values.notnull()
    position = found.sizes[dim] - 1 - found.isel({dim: slice(None, None, -1)}).argmax(dim)
    last = values.isel({dim: position})
    has = found.any(dim)
    label = values[dim].isel({dim: position})
    return last.where(has).drop_vars(dim), label.where(has, -1).drop_vars(dim)


def _per_run(ds: xr.Dataset, name: str, default: object) -> xr.DataArray:
    """A per-run attribute: its coordinate on ``run`` (several runs) or ``ds.attrs``."""
    if name in ds.coords and "step" not in ds[name].dims and "doc" not in ds[name].dims:
        return ds[name].reset_coords(drop=True)
    return xr.DataArray(ds.attrs.get(name, default))


def summary(ds: xr.Dataset) -> xr.Dataset:
    """One row of headline numbers per run: scalars for one run, (``run``) for several.

    Variables: ``status``, ``completed_steps``, ``progress`` (completed updates / all
    updates, 0..1), ``num_docs`` (T), ``steps_per_doc`` (M), ``num_epochs`` (E),
    ``initial_mean_loss`` (step 0), ``final_mean_loss`` (last evaluated step, at
    ``final_step``), ``mean_recovery_score`` (mean over docs of :func:`recovery_score` in the
    last epoch that has one, ``recovery_epoch``), ``paper_recovery_score`` (the last RS(n)
    available, ``paper_presentation``), ``RS`` (the headline: the paper's RS(n) at the last
    epoch, n = E-1; NaN until the run has reached it) and ``mean_prequential_loss``
    (epochs >= 1). Recovery numbers are NaN (without a warning) until a document has come
    back.

    Examples
    --------
    >>> import numpy as np
    >>> from reawaken.testing import synthetic_run
    >>> loss = np.array([[5, 5, 5], [1, 5, 5], [3, 1, 5], [2, 4, 1], [1, 1, 2], [2, 0.5, 3],
    ...                  [2, 1, 0.5]])  # T=3, M=1, E=2
    >>> row = summary(synthetic_run(loss, steps_per_doc=1))
    >>> row["mean_recovery_score"].item(), row["final_mean_loss"].item(), row["status"].item()
    (0.5, 1.1666666666666667, 'completed')
    >>> round(row["RS"].item(), 4)  # RS(1) = (10/3 - 2) / (10/3 - 1), as paper_recovery_score
    0.5714
    """
    require(ds, "summary", "loss", LOSS_DIMS)
    for name in STEP_COORDS:
        require(ds, "summary", name, ("step",), hint="coordinates on 'step' come with every run")
    loss = written(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecoveryUndefinedWarning)
        score = recovery_score(ds)
        paper = paper_recovery_score(ds)
    recovery, recovery_epoch = _last_value(score.mean("doc"), "epoch")
    paper_value, presentation = _last_value(paper.reset_coords(drop=True), "presentation")
    mean_loss = loss.mean("doc")  # NaN documents skipped
    final_mean_loss, final_step = _last_value(mean_loss, "step")
    coords = {name: ds[name].reset_coords(drop=True) for name in STEP_COORDS}
    updates = (coords["trained_doc"] >= 0).sum("step")
    completed = _per_run(ds, "completed_steps", -1).astype(np.int64)
    progress = (completed.clip(min=0) / updates).where(updates > 0)
    units = ds["loss"].attrs.get("units", "nats")
    columns = {
        "status": (_per_run(ds, "status", "unknown").astype(str), {}),
        "completed_steps": (completed, {"long_name": "completed steps"}),
        "progress": (progress, {"long_name": "fraction of updates done"}),
        "num_docs": (
            cycle_length(ds),
            {"long_name": "documents in the cycle (T)"},
        ),
        "steps_per_doc": (
            coords["grad_step"].max("step") + 1,
            {"long_name": "steps per document (M)"},
        ),
        "num_epochs": (coords["epoch"].max("step") + 1, {"long_name": "epochs (E)"}),
        "initial_mean_loss": (
            mean_loss.isel(step=0, drop=True),
            {"long_name": "mean loss before training", "units": units},
        ),
        "final_mean_loss": (
            final_mean_loss,
            {"long_name": "mean loss at the last evaluated step", "units": units},
        ),
        "final_step": (final_step, {"long_name": "step of final_mean_loss"}),
        "mean_recovery_score": (
            recovery,
            {"long_name": "mean recovery score (last epoch with one)"},
        ),
        "recovery_epoch": (recovery_epoch, {"long_name": "epoch of mean_recovery_score"}),
        "paper_recovery_score": (paper_value, {"long_name": "paper RS(n), last n available"}),
        "paper_presentation": (presentation, {"long_name": "n of paper_recovery_score"}),
        HEADLINE: (
            paper_value.where(presentation == coords["epoch"].max("step")),
            {"long_name": "RS: the paper's recovery score RS(E-1) at the last epoch"},
        ),
        "mean_prequential_loss": (
            mean_prequential_loss(ds).reset_coords(drop=True),
            {"long_name": "mean prequential loss (epochs >= 1)", "units": units},
        ),
    }
    # open_runs carries status, completed_steps, num_docs, ... as run coordinates: here they
    # are the summary's own variables, as for a single run.
    runs = {
        name: coord.variable
        for name, coord in loss.coords.items()
        if name not in columns and name not in LOSS_DIMS
    }
    table = xr.Dataset(
        {
            name: values.reset_coords(drop=True).assign_attrs(attrs)
            for name, (values, attrs) in columns.items()
        }
    )
    return table.assign_coords(runs)
