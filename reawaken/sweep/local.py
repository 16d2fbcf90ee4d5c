"""The local executor: one ``reawaken run`` subprocess per sweep run, ``jobs`` at a time,
each writing its output to ``<out>/<name>.log``; with ``gpus_per_run`` each run is handed
its share of the visible GPUs through ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

from reawaken.errors import ConfigError
from reawaken.sweep.spec import SweepRun, SweepSpec, _base_args
from reawaken.sweep.state import Notify, _is_remote, _local_folder, _resumable


def _local_command(spec: SweepSpec, run: SweepRun, folder: Path) -> list[str]:
    """``reawaken run`` for a new store, ``--resume`` for an unfinished one."""
    command = [sys.executable, "-m", "reawaken", "run"]
    path = folder / f"{run.name}.zarr"
    if _resumable(path):
        return [*command, "--resume", str(path), "--quiet"]
    config_file, preset = _base_args(spec)
    command += [config_file] if config_file else ["--preset", preset or "default"]
    command += [f"--set={override}" for override in run.overrides]
    command += ["--out", str(folder), "--name", run.name, "--quiet"]
    return command + (["--overwrite"] if path.exists() else [])  # a damaged store


class GpuSlots:
    """Hands out GPUs to runs: a fraction f <= 1 of one GPU each (floor(1/f) runs share a
    GPU, the least busy first), or ceil(f) whole GPUs each.

    Examples
    --------
    >>> slots = GpuSlots(["0", "1"], 0.5)
    >>> [slots.take() for _ in range(5)]
    ['0', '1', '0', '1', None]
    >>> slots.give_back("1"); slots.take()
    '1'
    >>> GpuSlots(["0", "1", "2"], 2).take()
    '0,1'
    """

    def __init__(self, devices: list[str], per_run: float) -> None:
        if not devices:
            raise ConfigError(
                f"gpus_per_run is {per_run:g} but the local executor sees no GPU (set "
                "CUDA_VISIBLE_DEVICES, or gpus_per_run: 0 for CPU runs)"
            )
        self.whole = math.ceil(per_run) if per_run > 1 else 1
        if self.whole > len(devices):
            raise ConfigError(
                f"gpus_per_run is {per_run:g} but only {len(devices)} GPU(s) are visible: "
                f"{','.join(devices)}"
            )
        self.capacity = 1 if per_run > 1 else math.floor(1 / per_run + 1e-9)
        self.busy = dict.fromkeys(devices, 0)

    def take(self) -> str | None:
        """The ``CUDA_VISIBLE_DEVICES`` value of a new run, or None when every GPU is full."""
        free = sorted((n, i, d) for i, (d, n) in enumerate(self.busy.items()) if n < self.capacity)
        if len(free) < self.whole:
            return None
        chosen = [device for _, _, device in free[: self.whole]]
        for device in chosen:
            self.busy[device] += 1
        return ",".join(chosen)

    def give_back(self, value: str) -> None:
        for device in value.split(","):
            self.busy[device] -= 1


def visible_gpus() -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else all CUDA sees."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    import torch  # only for a sweep that asks for GPUs

    return [str(i) for i in range(torch.cuda.device_count())]


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _run_local(spec: SweepSpec, todo: list[SweepRun], jobs: int, notify: Notify) -> None:
    """One ``reawaken run`` process per run, ``jobs`` at a time; output to ``<name>.log``."""
    if _is_remote(spec.out):
        raise ConfigError(
            f"the local executor writes to a folder, not {spec.out}; use "
            "--executor ray, or set the sweep's 'out' to a folder"
        )
    folder = _local_folder(spec.out)
    folder.mkdir(parents=True, exist_ok=True)
    slots = GpuSlots(visible_gpus(), spec.gpus_per_run) if spec.gpus_per_run else None
    queue, running, devices = list(todo), {}, {}
    try:
        while queue or running:
            while queue and len(running) < jobs:
                env = None
                if slots is not None:
                    device = slots.take()
                    if device is None:
                        break  # every GPU is full: wait for a run to finish
                    env = {**os.environ, "CUDA_VISIBLE_DEVICES": device}
                    devices[queue[0].name] = device
                run = queue.pop(0)
                log = folder / f"{run.name}.log"
                with log.open("w") as stream:
                    running[run.name] = subprocess.Popen(
                        _local_command(spec, run, folder),
                        stdout=stream,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        env=env,
                    )
            time.sleep(0.2)
            for name, process in list(running.items()):
                if process.poll() is not None:
                    del running[name]
                    if slots is not None:
                        slots.give_back(devices.pop(name))
                    failure = _last_line(folder / f"{name}.log") if process.returncode else ""
                    notify(name, failure)
    finally:
        _stop(list(running.values()))


def _stop(processes: list[subprocess.Popen[bytes]], grace: float = 2.0) -> None:
    """Let runs that got Ctrl-C mark their stores; SIGTERM (also marks them) the rest."""
    deadline = time.monotonic() + grace
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    for process in processes:
        if process.poll() is None:
            process.terminate()
        process.wait()
