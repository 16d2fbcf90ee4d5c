"""Headline numbers of a run (or one row per run): progress, losses and recovery scores.

The CLI (``reawaken run``, ``reawaken show``) and the app's runs table print these; every
number is computed by the same functions a notebook calls.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from reawaken.analysis._checks import RecoveryUndefinedWarning
from reawaken.analysis._runs import Batch, loss_values, run_values, schedule_of
from reawaken.analysis.boundaries import mean_prequential_loss
from reawaken.analysis.recovery import paper_recovery_score, recovery_score

__all__ = ["HEADLINE", "summary"]

#: The number a run is known by, wherever one number is shown (``reawaken run``, ``ls``,
#: ``show``, the app's runs table, ``sweep --status``): the paper's RS(n) at the last epoch.
HEADLINE = "RS"


def _last_value(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B,) last finite value of each row of (B, n) values, and its label (-1 if none)."""
    finite = np.isfinite(values)
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan), np.full(values.shape[0], -1)
    last = values.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
    found = finite.any(axis=1)
    rows = np.arange(values.shape[0])
    return np.where(found, values[rows, last], np.nan), np.where(found, labels[last], -1)


def _mean_over_docs(loss: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Mean over docs of loss[b, step[b], :] (NaN docs skipped; NaN where step is -1)."""
    rows = loss[np.arange(loss.shape[0]), np.clip(step, 0, None)]
    finite = np.isfinite(rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, rows, 0.0).sum(axis=1) / finite.sum(axis=1)
    return np.where(step >= 0, mean, np.nan)


def summary(ds: xr.Dataset) -> xr.Dataset:
    """One row of headline numbers per run: scalars for one run, (``run``) for several.

    Variables: ``status``, ``completed_steps``, ``progress`` (completed updates / all
    updates, 0..1), ``num_docs`` (T), ``steps_per_doc`` (M), ``num_epochs`` (E),
    ``initial_mean_loss`` (step 0), ``final_mean_loss`` (last evaluated step, at
    ``final_step``), ``mean_recovery_score`` (mean over docs of :func:`recovery_score` in the
    last epoch that has one, ``recovery_epoch``), ``paper_recovery_score`` (the last RS(n)
    available, ``paper_presentation``) and ``mean_prequential_loss`` (epochs >= 1). Recovery
    numbers are NaN (without a warning) until a document has come back.

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
    schedule = schedule_of(ds, "summary")
    batch = schedule.batch
    loss = loss_values(ds, schedule)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecoveryUndefinedWarning)
        score = recovery_score(ds)
        paper = paper_recovery_score(ds)
    mean_score = batch.values(score.mean("doc"), ("epoch",))
    recovery, recovery_epoch = _last_value(mean_score, score["epoch"].values)
    paper_value, presentation = _last_value(
        batch.values(paper, ("presentation",)), paper["presentation"].values
    )
    evaluated = np.isfinite(loss).any(axis=2)
    last = np.where(
        evaluated.any(axis=1), loss.shape[1] - 1 - np.argmax(evaluated[:, ::-1], axis=1), -1
    )
    completed = run_values(ds, batch, "completed_steps", -1).astype(np.int64)
    updates = schedule.num_updates
    with np.errstate(invalid="ignore", divide="ignore"):
        progress = np.where(updates > 0, np.clip(completed, 0, None) / updates, np.nan)
    units = ds["loss"].attrs.get("units", "nats")
    columns = {
        "status": (run_values(ds, batch, "status", "unknown").astype(str), {}),
        "completed_steps": (completed, {"long_name": "completed steps"}),
        "progress": (progress, {"long_name": "fraction of updates done"}),
        "num_docs": (schedule.num_docs, {"long_name": "documents in the cycle (T)"}),
        "steps_per_doc": (schedule.steps_per_doc, {"long_name": "steps per document (M)"}),
        "num_epochs": (schedule.num_epochs, {"long_name": "epochs (E)"}),
        "initial_mean_loss": (
            _mean_over_docs(loss, np.zeros_like(last)),
            {"long_name": "mean loss before training", "units": units},
        ),
        "final_mean_loss": (
            _mean_over_docs(loss, last),
            {"long_name": "mean loss at the last evaluated step", "units": units},
        ),
        "final_step": (
            np.where(last >= 0, schedule.step_label[np.clip(last, 0, None)], -1),
            {"long_name": "step of final_mean_loss"},
        ),
        "mean_recovery_score": (
            recovery,
            {"long_name": "mean recovery score (last epoch with one)"},
        ),
        "recovery_epoch": (recovery_epoch, {"long_name": "epoch of mean_recovery_score"}),
        "paper_recovery_score": (paper_value, {"long_name": "paper RS(n), last n available"}),
        "paper_presentation": (presentation, {"long_name": "n of paper_recovery_score"}),
        HEADLINE: (
            np.where(presentation == schedule.num_epochs - 1, paper_value, np.nan),
            {"long_name": "RS: the paper's recovery score RS(E-1) at the last epoch"},
        ),
        "mean_prequential_loss": (
            batch.values(mean_prequential_loss(ds), ()),
            {"long_name": "mean prequential loss (epochs >= 1)", "units": units},
        ),
    }
    # open_runs carries status, completed_steps, num_docs, ... as run coordinates: here they
    # are the summary's own variables, as for a single run.
    batch = Batch(
        batch.dims,
        batch.shape,
        {name: coord for name, coord in batch.coords.items() if name not in columns},
    )
    return xr.Dataset(
        {name: batch.wrap(values, (), attrs=attrs) for name, (values, attrs) in columns.items()}
    )
