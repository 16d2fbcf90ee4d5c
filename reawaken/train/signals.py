"""Signals during a run: SIGTERM stops it like Ctrl-C, and neither splits a block write."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["signals_held", "sigterm_as_interrupt"]


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


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block is written, then stop as they asked.

    Without this, a signal between writing a block's arrays and its ``completed_steps`` left
    an interrupted store with data past ``completed_steps``, which readers refuse.
    """
    received: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        received.append(signum)

    with _handling((signal.SIGINT, signal.SIGTERM), hold):
        yield
    if received:
        raise KeyboardInterrupt(f"signal {signal.Signals(received[0]).name}")
