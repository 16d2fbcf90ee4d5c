"""Sweeps: expand a grid of config overrides into named runs and execute them.

A sweep file names a base preset (or config file), fixed overrides (``set``) and a ``grid``;
:func:`run_sweep` skips completed stores, reruns unfinished ones and runs the rest in local
processes or as Ray tasks. Sits beside the CLI; torch is imported only inside a worker.

Modules: ``spec`` (sweep file, validation, grid expansion), ``state`` (each run's state from
its store, the progress table), ``local`` and ``ray_executor`` (the executors), ``driver``
(:func:`run_sweep`).
"""

from __future__ import annotations

from reawaken.sweep.driver import run_sweep
from reawaken.sweep.local import _local_command as _local_command
from reawaken.sweep.ray_executor import _run_one as _run_one
from reawaken.sweep.spec import (
    SweepRun,
    SweepSpec,
    available_sweeps,
    describe_runs,
    expand,
    load_sweep,
    parse_sweep,
)
from reawaken.sweep.state import RunState, SweepResult, format_table, read_state, sweep_states

__all__ = [
    "RunState",
    "SweepResult",
    "SweepRun",
    "SweepSpec",
    "available_sweeps",
    "describe_runs",
    "expand",
    "format_table",
    "load_sweep",
    "parse_sweep",
    "read_state",
    "run_sweep",
    "sweep_states",
]
