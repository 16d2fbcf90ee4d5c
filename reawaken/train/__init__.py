"""The cyclic trainer: batched evaluation, probes and the run loop (needs torch)."""

from __future__ import annotations

from reawaken.train.runner import RunResult, run_experiment

__all__ = ["RunResult", "run_experiment"]
