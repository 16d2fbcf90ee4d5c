"""Errors that reach the user: each says what is wrong and what to do about it.

The CLI prints a :class:`ReawakenError`'s message and exits with status 2; any other exception
keeps its traceback.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ReawakenError", "RunFailed", "StoreError"]


class ReawakenError(Exception):
    """Base class of errors whose message is meant for the user."""


class ConfigError(ReawakenError, ValueError):
    """A run configuration, preset or override is invalid; nothing has been written."""


class StoreError(ReawakenError):
    """A run store is missing, of another schema, or damaged."""


class RunFailed(ReawakenError):
    """A run stopped (NaN loss, out of memory, ...); the store is marked and keeps its data."""
