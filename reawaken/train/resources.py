"""Sizes checked before anything is allocated: the step table in memory, the store on disk.

A run of E*T*M updates keeps E*T*M+1 rows of per-step coordinates in memory and writes
E*T*M+1 rows of losses; a typo such as ``schedule.steps_per_doc=1000000000`` is refused here
with the numbers, not after gigabytes were allocated.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import xarray as xr

from reawaken.config import RunConfig
from reawaken.errors import ConfigError

__all__ = ["available_memory", "check_resources", "check_store_size", "free_disk", "run_sizes"]

#: Bytes per step held in memory: the int64 ``step`` coordinate and four int32 coordinates
#: (epoch, cycle_position, trained_doc, grad_step), in the template and again as it is written.
STEP_TABLE_BYTES = 2 * (8 + 4 * 4)
#: Use at most this share of the available memory for the step table and one block.
MEMORY_SHARE = 0.5


def available_memory() -> int:
    """Bytes of memory available to a new allocation (Linux: MemAvailable)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def free_disk(path: str | Path) -> int:
    """Free bytes on the file system that will hold ``path`` (its nearest existing parent)."""
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def run_sizes(config: RunConfig) -> tuple[int, int]:
    """(memory, store) bytes a run needs, from the config alone (activations not counted).

    Examples
    --------
    >>> from reawaken.config import load_config
    >>> memory, store = run_sizes(load_config(overrides=["schedule.steps_per_doc=1000000000"]))
    >>> f"{memory:.2e} {store:.2e}"
    '2.45e+12 2.60e+12'
    """
    docs, steps_per_doc = config.data.num_docs, config.schedule.steps_per_doc
    steps = config.total_steps + 1
    heldout = docs if config.data.heldout_field else 0
    per_step = 4 * (docs + heldout + 3)  # loss, heldout_loss, train_loss, lr, grad_norm
    memory = steps * STEP_TABLE_BYTES + steps_per_doc * per_step  # step table + one block
    snapshots = {
        "doc": config.total_steps // steps_per_doc + 1,
        "epoch": config.schedule.num_epochs + 1,
    }
    sketch = config.probes.sketch_size * (1 + docs * config.probes.grad_sketch)
    store = (
        steps * per_step
        + docs * config.data.context_length * 4
        + snapshots.get(config.probes.snapshot_every, 0) * sketch * 4
    )
    return memory, store


def _refuse(config: RunConfig, needs: str) -> ConfigError:
    schedule = config.schedule
    steps = config.total_steps + 1
    return ConfigError(
        f"the run is too large: E*T*M = {schedule.num_epochs}*{config.data.num_docs}*"
        f"{schedule.steps_per_doc} updates make {steps:,} steps, which {needs}; lower "
        "schedule.steps_per_doc, schedule.num_epochs or data.num_docs"
    )


def check_resources(config: RunConfig, store_path: str | Path) -> None:
    """Refuse a run whose step table cannot fit in memory or whose store cannot fit on disk."""
    memory, store = run_sizes(config)
    available, free = available_memory(), free_disk(store_path)
    if memory > MEMORY_SHARE * available:
        raise _refuse(
            config,
            f"need {_size(memory)} of memory for the step table and one block (available: "
            f"{_size(available)})",
        )
    if store > free:
        raise _refuse(
            config,
            f"need a store of {_size(store)} (free at {Path(store_path).parent}: {_size(free)})",
        )


def check_store_size(template: xr.Dataset, store_path: str | Path) -> None:
    """Refuse a store (now with activations and weights counted) larger than the free disk."""
    size = sum(variable.nbytes for variable in template.variables.values())
    free = free_disk(store_path)
    if size > free:
        raise ConfigError(
            f"the run's store would take up to {_size(size)} but {Path(store_path).parent} has "
            f"{_size(free)} free; lower probes.sketch_size, probes.snapshot_every or the run's "
            "size, or choose another --out"
        )
