"""Signals during a run: SIGTERM stops it like Ctrl-C.

Neither splits a block write: blocks are written on the writer thread
(:mod:`reawaken.train.background`), which Python never interrupts with a signal, and the run
lets the queued writes finish before it marks the store.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["sigterm_as_interrupt"]


@contextmanager
def _handling(signals: tuple[int, ...], handler: Callable[[int, Any], None]) -> Iterator[None]:
    """Install ``handler`` for ``signals`` and restore the previous ones on exit.

    Outside the main thread Python allows no handlers; signals are then left alone.
    """
    try:
        previous = {sig: signal.signal(sig, handler) for sig in signals}
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Let SIGTERM (cluster schedulers, ``kill``) stop a run like Ctrl-C does."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    with _handling((signal.SIGTERM,), interrupt):
        yield
