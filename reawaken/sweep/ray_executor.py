"""The Ray executor: each sweep run a Ray task in a fresh worker process; for a URL ``out``
the worker runs on a local copy of the store and uploads it with fsspec when the run stops.
"""

from __future__ import annotations

import contextlib
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reawaken.config import RunConfig
from reawaken.errors import ConfigError, ReawakenError, StoreError
from reawaken.store.reader import read_attrs
from reawaken.sweep.spec import SweepRun, SweepSpec, _base_args
from reawaken.sweep.state import Notify, _filesystem, _is_remote, _local_folder, _resumable

RAY_MISSING = "the ray executor needs: pip install 'reawaken[ray]'"


# --- running one run (inside a worker) ---------------------------------------------------


def _start_or_resume(config: RunConfig, path: Path, *, preset: str) -> None:
    """Start the run at ``path``, or continue the unfinished store already there.

    An unfinished store (running, interrupted, failed) continues from its last checkpoint
    (:func:`reawaken.train.resume_experiment`); a damaged one is rewritten from step 0.
    """
    from reawaken.train import resume_experiment, run_experiment

    if not path.exists():
        run_experiment(config, path, progress=False, preset=preset)
    elif _resumable(path):
        resume_experiment(path, config, progress=False)
    else:
        run_experiment(config, path, overwrite=True, progress=False, preset=preset)


def _execute(config: RunConfig, path: Path, preset: str) -> dict[str, str]:
    try:
        _start_or_resume(config, path, preset=preset)
    except Exception as error:  # reported back to the driver; the store keeps the details
        if not isinstance(error, ReawakenError):
            traceback.print_exc()
        status = "failed"
        if path.exists():
            with contextlib.suppress(StoreError):
                status = str(read_attrs(path).get("status", "failed"))
        return {"status": status, "reason": f"{type(error).__name__}: {error}"}
    return {"status": "completed", "reason": ""}


def _run_one(config_json: str, preset: str, name: str, out: str) -> dict[str, str]:
    """Run one sweep run in this process; for a URL ``out``, the run works on a local copy
    of its store (and checkpoint folder) and uploads it when it stops."""
    config = RunConfig.from_json(config_json)
    if not _is_remote(out):
        return _execute(config, _local_folder(out) / f"{name}.zarr", preset)
    fs, root = _filesystem(out)
    with tempfile.TemporaryDirectory(prefix="reawaken-sweep-") as folder:
        parts = [
            (Path(folder) / f"{name}{suffix}", f"{root}/{name}{suffix}")
            for suffix in (".zarr", ".ckpt")
        ]
        for local, remote in parts:
            if fs.exists(remote):
                fs.get(remote, str(local), recursive=True)
        outcome = _execute(config, parts[0][0], preset)
        for local, remote in parts:
            if fs.exists(remote):
                fs.rm(remote, recursive=True)
            if local.exists():
                fs.put(str(local), remote, recursive=True)
    return outcome


def _preset_attr(spec: SweepSpec) -> str:
    config_file, preset = _base_args(spec)
    return preset or ("" if config_file else "default")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


def task_options(spec: SweepSpec) -> dict[str, Any]:
    """Ray task options of one run: its GPU share (packed: 0.25 puts four runs on a GPU), its
    CPUs, and a fresh worker per run (``max_calls=1``: a finished run's GPU memory is freed).

    Examples
    --------
    >>> from reawaken.sweep.spec import parse_sweep
    >>> task_options(parse_sweep({"name": "s", "gpus_per_run": 0.25}))
    {'max_calls': 1, 'num_cpus': 1.0, 'num_gpus': 0.25}
    >>> task_options(parse_sweep({"name": "s", "gpus_per_run": 0.5, "gpu_resource": "A100"}))
    {'max_calls': 1, 'num_cpus': 1.0, 'resources': {'A100': 0.5}}
    """
    options: dict[str, Any] = {"max_calls": 1, "num_cpus": spec.cpus_per_run}
    if spec.gpu_resource == "GPU":
        options["num_gpus"] = spec.gpus_per_run
    elif spec.gpus_per_run:
        options["resources"] = {spec.gpu_resource: spec.gpus_per_run}
    return options


def _run_ray(
    spec: SweepSpec,
    todo: list[SweepRun],
    address: str | None,
    notify: Notify,
    init_options: Mapping[str, Any] | None,
) -> None:
    """Each run a Ray task in a fresh worker process (``max_calls=1`` frees GPU memory)."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {"include_dashboard": False}
        if address in (None, "", "local"):
            options.update(address="local", _node_ip_address="127.0.0.1")
        else:
            options["address"] = address
        ray.init(**{**options, **(init_options or {})})
    task = ray.remote(**task_options(spec))(_run_one)
    out = spec.out if _is_remote(spec.out) else str(_local_folder(spec.out).resolve())
    preset = _preset_attr(spec)
    pending = {task.remote(run.config.to_json(), preset, run.name, out): run.name for run in todo}
    try:
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            name = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except Exception as error:  # the worker died (out of memory, node lost, ...)
                outcome = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
            notify(name, "" if outcome["status"] == "completed" else outcome["reason"])
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref)  # raises KeyboardInterrupt in the task: its store is marked
        raise
    finally:
        if started:
            ray.shutdown()
