"""The cyclic trainer: batched evaluation, probes and the run loop (needs torch)."""

from __future__ import annotations

from reawaken.train.runner import RunResult, resume_experiment, run_experiment

__all__ = ["RunResult", "resume_experiment", "run_experiment"]
