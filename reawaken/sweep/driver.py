"""Running a sweep: start every run whose store is not completed on the chosen executor,
printing the progress table as each run stops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Literal

from reawaken.errors import ConfigError
from reawaken.sweep.local import _run_local
from reawaken.sweep.ray_executor import _import_ray, _run_ray
from reawaken.sweep.spec import SweepSpec, expand
from reawaken.sweep.state import (
    SweepResult,
    _check_no_live_writers,
    _check_stored_configs,
    format_table,
    read_state,
    sweep_states,
)


def run_sweep(
    spec: SweepSpec,
    *,
    executor: Literal["local", "ray"] = "local",
    jobs: int = 1,
    address: str | None = None,
    echo: Callable[[str], Any] = print,
    ray_init: Mapping[str, Any] | None = None,
) -> SweepResult:
    """Run every run of ``spec`` whose store is not completed; print a table as runs finish.

    Parameters
    ----------
    executor
        ``local``: one ``reawaken run`` process per run, ``jobs`` at a time. ``ray``: one Ray
        task per run with the sweep's ``gpus_per_run``/``cpus_per_run``. Both pack runs on
        GPUs by ``gpus_per_run`` (the local executor through ``CUDA_VISIBLE_DEVICES``).
    address
        Ray cluster address (``auto``, ``HEAD:6379``, ``ray://HEAD:10001``); None or
        ``local`` starts a local cluster on 127.0.0.1.
    ray_init
        Extra keyword arguments of ``ray.init`` (e.g. ``{"num_cpus": 2}``).

    Examples
    --------
    ``run_sweep(load_sweep("tiny-demo"), jobs=2)`` runs the four tiny runs two at a time;
    ``[s.state for s in result.states]`` is then ``["completed"] * 4``.
    Bad arguments are refused before any run starts:

    >>> from reawaken.sweep.spec import load_sweep
    >>> run_sweep(load_sweep("tiny-demo"), jobs=0)
    Traceback (most recent call last):
    reawaken.errors.ConfigError: --jobs must be at least 1, got 0
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {executor!r}; use local or ray")
    if executor == "ray":
        _import_ray()
    runs = expand(spec)
    _check_stored_configs(spec, runs)
    states = {s.name: s for s in sweep_states(spec, runs)}
    todo = [run for run in runs if states[run.name].state != "completed"]
    _check_no_live_writers(spec, todo)
    echo(
        f"sweep {spec.name}: {len(runs)} runs, {len(runs) - len(todo)} completed, "
        f"{len(todo)} to run ({executor}) -> {spec.out}"
    )
    echo(format_table(states.values()))

    def notify(name: str, failure: str) -> None:
        state = read_state(spec.out, name)
        if failure and state.state in ("pending", "running"):
            state = replace(state, state="failed", reason=failure)
        states[name] = state
        echo(f"\n{name}: {state.state}")
        echo(format_table(states.values()))

    if executor == "local":
        _run_local(spec, todo, jobs, notify)
    elif todo:
        _run_ray(spec, todo, address, notify, ray_init)
    return SweepResult(tuple(states.values()), tuple(run.name for run in todo))
