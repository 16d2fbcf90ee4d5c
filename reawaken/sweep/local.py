"""The local executor: one ``reawaken run`` subprocess per sweep run, ``jobs`` at a time,
each writing its output to ``<out>/<name>.log``.
"""

from __future__ import annotations

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
    queue, running = list(todo), {}
    try:
        while queue or running:
            while queue and len(running) < jobs:
                run = queue.pop(0)
                log = folder / f"{run.name}.log"
                with log.open("w") as stream:
                    running[run.name] = subprocess.Popen(
                        _local_command(spec, run, folder),
                        stdout=stream,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
            time.sleep(0.2)
            for name, process in list(running.items()):
                if process.poll() is not None:
                    del running[name]
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
