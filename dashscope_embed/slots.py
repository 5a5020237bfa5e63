"""Request slots shared by threads and event loops: what makes ``max_concurrency`` hold per object.

An ``asyncio.Semaphore`` binds to one event loop and a thread pool bounds only the calls that go through it: with
twelve threads each running ``asyncio.run(engine.aembed(...))``, per-loop semaphores let twelve times the limit
through. ``Slots`` is one counter per ``RequestRunner`` that sync callers wait on with a ``threading.Event`` and
async callers with a future of their own loop; a released slot goes to the longest waiter, whichever kind it is.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Union

__all__ = ["Slots"]

_Waiter = Union[threading.Event, "tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]"]


class Slots:
    """At most ``size`` holders at once, across threads and event loops; first come, first served.

    Args:
        size: slots (>= 1).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    @property
    def in_use(self) -> int:
        """Slots held now."""
        with self._lock:
            return self.size - self._free

    def acquire(self) -> None:
        """Take a slot, blocking the calling thread until one is free.

        Raises:
            KeyboardInterrupt: (or any exception raised in the thread while it waits) no slot is held then.
        """
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            event = threading.Event()
            self._waiters.append(event)
        try:
            event.wait()  # the releaser hands its slot over before setting the event
        except BaseException:
            with self._lock:
                if event in self._waiters:
                    self._waiters.remove(event)
                    raise
            self.release()  # the slot was handed over already: pass it on
            raise

    async def aacquire(self) -> None:
        """Take a slot, waiting on the running event loop (other loops and threads keep running).

        Raises:
            asyncio.CancelledError: cancelled while waiting; no slot is held then.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            future: asyncio.Future[None] = loop.create_future()
            waiter = (loop, future)
            self._waiters.append(waiter)
        try:
            await future
        except asyncio.CancelledError:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    raise
            # The slot was handed over already (or is on its way, and ``_hand`` gives it back): keep no slot.
            if future.done() and not future.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back: to the longest waiter, else to the pool."""
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if isinstance(waiter, threading.Event):
                    waiter.set()
                    return
                loop, future = waiter
                try:
                    loop.call_soon_threadsafe(self._hand, future)
                except RuntimeError:  # the loop closed meanwhile: its waiter is gone
                    continue
                return
            self._free += 1

    def _hand(self, future: asyncio.Future[None]) -> None:
        # Runs on the waiter's loop: a waiter cancelled meanwhile passes the slot on.
        if future.cancelled():
            self.release()
        else:
            future.set_result(None)
