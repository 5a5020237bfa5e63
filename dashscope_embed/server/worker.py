"""One background loop per long-running API of the local service (Batch File API batches, asynchronous tasks).

The loop starts on the first submission, steps its jobs, and sleeps when there is nothing to do until the next
submission wakes it: no thread, no polling while idle.
"""

from __future__ import annotations

import asyncio

__all__ = ["BackgroundWorker"]


class BackgroundWorker:
    """A mixin: ``wake()`` after each submission; subclasses implement ``_work`` (the loop, which calls
    ``await self._idle()`` when it has nothing to step)."""

    _wake: asyncio.Event | None = None
    _worker: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Start the loop on the running event loop if it is not running, and wake it if it sleeps."""
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _idle(self) -> None:
        """Sleep until the next ``wake()``."""
        assert self._wake is not None  # _work runs only after wake() made it
        self._wake.clear()
        await self._wake.wait()

    async def _work(self) -> None:
        raise NotImplementedError
