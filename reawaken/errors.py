"""Errors that reach the user, and the exit status of each: the one place exit codes live.

Each error says what is wrong and what to do about it. The CLI prints a
:class:`ReawakenError`'s message and exits with its ``exit_code``; any other exception keeps
its traceback.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ConfigError",
    "ExitCode",
    "ReawakenError",
    "RunFailed",
    "RunInterrupted",
    "StoreError",
]


class ExitCode(IntEnum):
    """Exit statuses of the ``reawaken`` command."""

    OK = 0
    FAILED = 1  #: a run (or a check, or a sweep's run) failed; its store keeps what was written
    BAD_INPUT = 2  #: bad configuration, arguments or store; nothing was written
    INTERRUPTED = 130  #: stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)


class ReawakenError(Exception):
    """Base class of errors whose message is meant for the user.

    Examples
    --------
    >>> StoreError("no run store at runs/x.zarr").exit_code
    <ExitCode.BAD_INPUT: 2>
    >>> RunInterrupted("interrupted (SIGINT) after 4 of 12 steps").exit_code
    <ExitCode.INTERRUPTED: 130>
    """

    exit_code: ExitCode = ExitCode.BAD_INPUT
    #: How the CLI introduces the message ("reawaken: error: ...").
    heading: str = "error: "


class ConfigError(ReawakenError, ValueError):
    """A run configuration, preset or override is invalid; nothing has been written."""


class StoreError(ReawakenError):
    """A run store is missing, of another schema, or damaged."""


class RunFailed(ReawakenError):
    """A run stopped (NaN loss, out of memory, ...); the store is marked and keeps its data."""

    exit_code = ExitCode.FAILED
    heading = ""


class RunInterrupted(RunFailed):
    """A run was stopped by Ctrl-C or SIGTERM; the store is marked and can be resumed."""

    exit_code = ExitCode.INTERRUPTED
