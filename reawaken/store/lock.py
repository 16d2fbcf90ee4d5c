"""One writer per store: an exclusive lock file beside it that names the writing process.

``runs/NAME.lock`` holds the writer's pid and host as JSON. It is created atomically
(``O_CREAT | O_EXCL``) before the store is created, overwritten or resumed, and removed when
the run stops; a process killed with SIGKILL leaves it behind, and a lock whose process no
longer runs on this host is *stale*: the run shows as ``interrupted (owner died)`` and the
next ``--resume`` or ``--overwrite`` takes the lock over, saying so.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reawaken.errors import StoreError

__all__ = [
    "OWNER_DIED",
    "Owner",
    "attrs_owner",
    "check_run_name",
    "display_status",
    "lock_path",
    "read_owner",
    "store_lock",
    "store_owner",
]

#: How ``ls``, ``show``, ``check`` and the app show a ``running`` store whose writer is gone.
OWNER_DIED = "interrupted (owner died)"
#: A lock file younger than this that cannot be read yet is being written by its owner.
CREATING_SECONDS = 10.0


def check_run_name(name: str) -> str:
    """Refuse a run name that is not a single path component (``a/b``, ``..``, ``/x``).

    Examples
    --------
    >>> check_run_name("m20")
    'm20'
    >>> check_run_name("../escaped")
    Traceback (most recent call last):
    ...
    reawaken.errors.StoreError: --name '../escaped' must be a single name (no '/', '\\' or leading '.'): the store is OUT/NAME.zarr
    """  # noqa: E501
    if not name or name.startswith(".") or any(sep in name for sep in "/\\\0"):
        raise StoreError(
            f"--name {name!r} must be a single name (no '/', '\\' or leading '.'): "
            "the store is OUT/NAME.zarr"
        )
    return name


def lock_path(store_path: str | Path) -> Path:
    """``runs/NAME.lock`` for the store ``runs/NAME.zarr``."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.stem + ".lock")


@dataclass(frozen=True)
class Owner:
    """The process named by a lock (or, for stores older than locks, by the run's attrs)."""

    pid: int
    host: str

    def alive(self) -> bool | None:
        """True or False on this host; None for another host (its processes cannot be seen)."""
        if self.host != socket.gethostname():
            return None
        if self.pid <= 0:  # kill(0 or -1) would signal a whole process group
            return False
        if self.pid == os.getpid():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # it exists, under another user
            return True
        return True

    def __str__(self) -> str:
        return f"process {self.pid} on {self.host}"


def read_owner(path: str | Path) -> Owner | None:
    """The owner written in the lock file ``path``; None where there is no lock.

    A lock that cannot be read is treated as held by a live process while it is young (its
    owner is still writing it) and as stale (owner pid -1) once it is older.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        return Owner(int(record["pid"]), str(record["host"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        try:
            young = time.time() - path.stat().st_mtime < CREATING_SECONDS
        except FileNotFoundError:
            return None
        return Owner(os.getpid() if young else -1, socket.gethostname())


def attrs_owner(attrs: Mapping[str, Any]) -> Owner | None:
    """The writer a run's attrs name (``pid``, ``host``): all that stores older than locks have."""
    pid, host = attrs.get("pid"), attrs.get("host")
    return Owner(pid, str(host)) if isinstance(pid, int) and host else None


def store_owner(store_path: str | Path, attrs: Mapping[str, Any]) -> Owner | None:
    """Who writes the store: its lock's owner, else (stores older than locks) its attrs'."""
    owner = read_owner(lock_path(store_path))
    return owner if owner is not None else attrs_owner(attrs)


def display_status(store_path: str | Path, attrs: Mapping[str, Any]) -> str:
    """The run's status as users see it: a ``running`` store whose writer died is
    ``interrupted (owner died)``; a store written on another host stays ``running``.

    Examples
    --------
    >>> display_status("runs/x.zarr", {"status": "completed"})
    'completed'
    >>> here = socket.gethostname()
    >>> display_status("runs/x.zarr", {"status": "running", "pid": -1, "host": here})
    'interrupted (owner died)'
    """
    status = str(attrs.get("status"))
    if status != "running":
        return status
    owner = store_owner(store_path, attrs)
    return OWNER_DIED if owner is not None and owner.alive() is False else status


def _refuse(store_path: Path, lock: Path, owner: Owner) -> StoreError:
    if owner.alive() is None:
        return StoreError(
            f"{store_path} is being written by {owner}, which this host cannot check (lock "
            f"{lock}); if that run is gone, delete the lock file"
        )
    return StoreError(
        f"{store_path} is being written by {owner} (lock {lock}); wait for it to finish or "
        "stop it first"
    )


def _take_over(lock: Path, stale: Owner) -> None:
    """Remove a stale lock, unless another process has replaced it meanwhile."""
    aside = lock.with_name(f"{lock.name}.stale-{uuid.uuid4().hex[:8]}")
    try:
        lock.rename(aside)
    except FileNotFoundError:
        return  # another process took it over first; O_EXCL decides between us
    if read_owner(aside) not in (stale, Owner(-1, stale.host)) and not lock.exists():
        aside.rename(lock)  # we moved a fresh lock: put it back
        return
    aside.unlink(missing_ok=True)


def _acquire(store_path: Path, warn: Callable[[str], Any]) -> Path:
    lock = lock_path(store_path)
    record = json.dumps(
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = read_owner(lock)
                if owner is None:
                    continue  # released meanwhile
                if owner.alive() is not False:
                    raise _refuse(store_path, lock, owner) from None
                warn(
                    f"reawaken: taking over the stale lock {lock}: {owner} no longer runs "
                    "(it was killed or its machine restarted)"
                )
                _take_over(lock, owner)
                continue
            with os.fdopen(handle, "w") as stream:
                stream.write(record)
            return lock
    except OSError as error:
        raise StoreError(
            f"cannot write the run store {store_path}: {error.strerror or error} "
            f"({error.filename or lock.parent}); choose another --out"
        ) from None
    raise StoreError(f"cannot take the lock {lock}: other processes keep taking it")


def _release(lock: Path) -> None:
    if read_owner(lock) == Owner(os.getpid(), socket.gethostname()):
        lock.unlink(missing_ok=True)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


@contextmanager
def store_lock(store_path: str | Path, warn: Callable[[str], Any] = _stderr) -> Iterator[Path]:
    """Hold the store's lock for the block: refused (:class:`StoreError`) while another live
    process holds it; a stale lock is reported through ``warn`` and taken over.

    Examples
    --------
    >>> import tempfile
    >>> store = Path(tempfile.mkdtemp()) / "x.zarr"
    >>> with store_lock(store) as lock:
    ...     lock.name, lock.exists()
    ('x.lock', True)
    >>> lock.exists()
    False
    """
    lock = _acquire(Path(store_path), warn)
    try:
        yield lock
    finally:
        _release(lock)
