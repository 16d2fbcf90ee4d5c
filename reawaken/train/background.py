"""A writer thread: store writes and checkpoints leave the training thread, in order.

Jobs run one at a time in the order they were submitted, so the store's ``completed_steps``
still never runs ahead of its data, and a checkpoint lands after the block it follows. The
queue is bounded: training runs at most ``depth`` jobs ahead of the disk, and host memory
holds at most that many pending copies. The first error a job raises is raised again on the
training thread at the next :meth:`~BackgroundWriter.submit` or :meth:`~BackgroundWriter.flush`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["BackgroundWriter"]

_STOP = object()


class BackgroundWriter:
    """Run submitted jobs on one daemon thread, in order; ``depth=0`` runs them inline.

    Examples
    --------
    >>> done = []
    >>> with BackgroundWriter(depth=2) as writer:
    ...     for i in range(3):
    ...         writer.submit(done.append, i)
    >>> done
    [0, 1, 2]
    """

    def __init__(self, depth: int = 2) -> None:
        self.depth = depth
        self._error: BaseException | None = None
        self._failed = False  # stays set once the training thread has taken the error
        self._jobs: queue.Queue[Any] = queue.Queue(maxsize=max(depth, 1))
        self._thread: threading.Thread | None = None
        if depth > 0:
            self._thread = threading.Thread(target=self._work, name="reawaken-writer", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is _STOP:
                    return
                if not self._failed:  # after a failure, later jobs would write past it
                    function, args, kwargs = job
                    function(*args, **kwargs)
            except BaseException as error:  # handed to the training thread
                self._error = error
                self._failed = True
            finally:
                self._jobs.task_done()

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, function: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Queue ``function(*args, **kwargs)``; blocks while ``depth`` jobs are pending."""
        self._raise_pending()
        if self._thread is None:
            function(*args, **kwargs)
            return
        self._jobs.put((function, args, kwargs))

    def flush(self) -> None:
        """Wait until every submitted job has run; raise the first error one raised."""
        if self._thread is not None:
            self._jobs.join()
        self._raise_pending()

    def close(self) -> None:
        """Finish the pending jobs and stop the thread (errors are raised by :meth:`flush`)."""
        if self._thread is not None and self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.flush()
        finally:
            self.close()
