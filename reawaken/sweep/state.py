"""Each sweep run's state, read from its store (local folder or fsspec URL), and the progress
table; whether a store is resumed, and a refusal to reuse stores written with another config.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reawaken.config import RunConfig, stored_total_steps
from reawaken.errors import ConfigError, StoreError
from reawaken.store.lock import display_status, lock_path, read_owner
from reawaken.store.reader import read_attrs
from reawaken.sweep.spec import SweepRun, SweepSpec, expand

FSSPEC_DRIVERS = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
}


@dataclass(frozen=True)
class RunState:
    """What a run's store says: ``pending`` (no store), ``running``, ``completed``,
    ``failed``, ``interrupted`` or ``damaged``; progress in 0..1."""

    name: str
    state: str
    progress: float | None = None
    score: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class SweepResult:
    """Final state of every run, and which runs this call started."""

    states: tuple[RunState, ...]
    executed: tuple[str, ...]

    @property
    def failed(self) -> list[RunState]:
        return [s for s in self.states if s.state != "completed"]

    def summary(self) -> str:
        done = len(self.states) - len(self.failed)
        lines = [f"{done} of {len(self.states)} runs completed ({len(self.executed)} run now)"]
        lines += [f"  {s.name}: {s.state} {s.reason}".rstrip() for s in self.failed]
        return "\n".join(lines)


# --- where stores live, and what they say -------------------------------------------------


def _is_remote(out: str) -> bool:
    return "://" in out and not out.startswith("file://")


def _local_folder(out: str) -> Path:
    return Path(out.removeprefix("file://"))


def _filesystem(url: str) -> tuple[Any, str]:
    """An fsspec filesystem and the path inside it, with a message naming a missing driver."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
    except ImportError as error:
        protocol = url.split("://", 1)[0]
        driver = FSSPEC_DRIVERS.get(protocol, f"the fsspec driver for {protocol}://")
        raise ConfigError(
            f"writing runs to {url} needs {driver}: pip install {driver} ({error})"
        ) from None
    return fs, root.rstrip("/")


def _remote_attrs(url: str) -> dict[str, Any] | None:
    fs, root = _filesystem(url)
    try:
        return dict(json.loads(fs.cat_file(f"{root}/zarr.json")).get("attributes", {}))
    except FileNotFoundError:
        return None


def _score(path: Path) -> float | None:
    """The headline RS of a completed run; None where it cannot be computed."""
    try:
        from reawaken.analysis import summary
        from reawaken.analysis.summary import HEADLINE
        from reawaken.store import open_run

        value = float(summary(open_run(path))[HEADLINE])
    except Exception:  # the score only decorates the table; a bad store shows as n/a
        return None
    return None if value != value else value


def _store_attrs(out: str, name: str) -> dict[str, Any] | None:
    """Root attributes of run ``name``'s store under ``out``; None where there is none."""
    if not _is_remote(out):
        path = _local_folder(out) / f"{name}.zarr"
        return read_attrs(path) if path.exists() else None
    url = f"{out}/{name}.zarr"
    try:
        return _remote_attrs(url)
    except (ValueError, OSError) as error:
        raise StoreError(f"{url} is damaged: its zarr.json cannot be read ({error})") from error


def read_state(out: str, name: str) -> RunState:
    """The state of run ``name`` under ``out`` (folder or URL), read from its store."""
    try:
        attrs = _store_attrs(out, name)
    except StoreError as error:
        return RunState(name, "damaged", reason=str(error))
    if attrs is None:
        return RunState(name, "pending", 0.0)
    config = json.loads(attrs.get("config") or "{}")
    total = stored_total_steps(config)
    progress = attrs.get("completed_steps", 0) / total if total else None
    status = str(attrs.get("status"))
    if not _is_remote(out):
        status = display_status(_local_folder(out) / f"{name}.zarr", attrs)
    score = None
    if status == "completed" and not _is_remote(out):
        score = _score(_local_folder(out) / f"{name}.zarr")
    return RunState(name, status, progress, score, str(attrs.get("reason", "")))


def _check_stored_configs(spec: SweepSpec, runs: Iterable[SweepRun]) -> None:
    """Refuse to skip or resume stores that were written with another config."""
    stale = []
    for run in runs:
        try:
            attrs = _store_attrs(spec.out, run.name) or {}
            if "config" in attrs and RunConfig.from_json(str(attrs["config"])) != run.config:
                stale.append(run.name)
        except (StoreError, ConfigError, ValueError):
            continue  # damaged: rewritten by the run
    if stale:
        raise ConfigError(
            f"the stores of {', '.join(stale)} in {spec.out} were written with another config "
            "than the sweep gives them now; delete them, or give the sweep another 'out'"
        )


def _check_no_live_writers(spec: SweepSpec, runs: Iterable[SweepRun]) -> None:
    """Refuse to start runs whose stores another live process holds (one writer per store)."""
    if _is_remote(spec.out):
        return
    held = []
    for run in runs:
        owner = read_owner(lock_path(_local_folder(spec.out) / f"{run.name}.zarr"))
        if owner is not None and owner.alive() is not False:
            held.append(f"{run.name} ({owner})")
    if held:
        raise StoreError(
            f"runs of sweep {spec.name} are being written by other processes: "
            f"{', '.join(held)}; wait for them or stop them first"
        )


def sweep_states(spec: SweepSpec, runs: Iterable[SweepRun] | None = None) -> list[RunState]:
    """The state of each run of the sweep (``reawaken sweep --status``)."""
    return [read_state(spec.out, run.name) for run in (runs or expand(spec))]


def format_table(states: Iterable[RunState]) -> str:
    """A fixed-width table: run, state, progress, RS (the paper's, last epoch), why it stopped."""
    rows = [["run", "state", "progress", "RS", "note"]]
    for s in states:
        progress = "" if s.progress is None else f"{100 * s.progress:.0f}%"
        score = "n/a" if s.score is None else f"{s.score:.3f}"
        note = "" if s.state == "completed" else s.reason[:70]
        rows.append([s.name, s.state, progress, score, note])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _resumable(path: Path) -> bool:
    try:
        return read_attrs(path).get("status") in ("running", "interrupted", "failed")
    except StoreError:
        return False


# what an executor calls as each run stops: (run name, failure line or '')
Notify = Callable[[str, str], None]
