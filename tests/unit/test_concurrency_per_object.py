"""``max_concurrency`` holds per object: across threads, event loops, and sync and async calls mixed."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from dashscope_embed.slots import Slots

from support.fakes import FakeDashScope, make_embedder

TEXTS = [f"text {i}" for i in range(60)]  # 6 requests of 10 rows


def _threads(target, n: int = 12) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_twelve_threads_each_running_aembed_share_one_bound():
    fake = FakeDashScope(delay=0.03)
    engine = make_embedder(fake, model="text-embedding-v4", dimensions=64, max_concurrency=4)
    _threads(lambda: asyncio.run(engine.aembed(TEXTS)))
    assert fake.calls == 12 * 6
    assert fake.max_in_flight == 4  # reached, never passed


def test_threads_calling_embed_and_aembed_at_once_share_one_bound():
    fake = FakeDashScope(delay=0.03)
    engine = make_embedder(fake, model="text-embedding-v4", dimensions=64, max_concurrency=3)
    flip = iter(range(1000))

    def call() -> None:
        if next(flip) % 2:
            asyncio.run(engine.aembed(TEXTS[:10]))  # one request: the calling loop sends it itself
        else:
            engine.embed(TEXTS[:10])  # one request: runs in the calling thread, outside the pool
    _threads(call, n=10)
    assert fake.max_in_flight == 3


def test_one_loop_keeps_its_bound_and_two_engines_do_not_share():
    fake = FakeDashScope(delay=0.03)
    a = make_embedder(fake, model="text-embedding-v4", dimensions=64, max_concurrency=2)
    b = make_embedder(fake, model="text-embedding-v4", dimensions=64, max_concurrency=2)

    async def main() -> None:
        await asyncio.gather(a.aembed(TEXTS), b.aembed(TEXTS))

    asyncio.run(main())
    assert fake.max_in_flight == 4  # each object's own 2


def test_cancelled_async_waiter_gives_its_slot_on():
    slots = Slots(1)

    async def main() -> None:
        await slots.aacquire()
        waiter = asyncio.ensure_future(slots.aacquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        slots.release()
        assert slots.in_use == 0
        await asyncio.wait_for(slots.aacquire(), 1)
        slots.release()

    asyncio.run(main())
    assert slots.in_use == 0


def _acquire_within(slots: Slots, seconds: float) -> bool:
    """Whether another thread gets a slot within ``seconds`` (it keeps it)."""
    got = threading.Event()
    threading.Thread(target=lambda: (slots.acquire(), got.set()), daemon=True).start()
    return got.wait(seconds)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_ctrl_c_while_waiting_for_a_slot_leaves_no_waiter_behind():
    slots = Slots(1)
    slots.acquire()
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        slots.acquire()  # blocks until the interrupt
    slots.release()
    assert slots.in_use == 0
    assert _acquire_within(slots, 2.0)


def test_an_interrupt_after_the_slot_was_handed_over_gives_it_on(monkeypatch):
    class LateInterrupt(threading.Event):
        def wait(self, timeout=None):
            super().wait(timeout)  # the slot is ours now
            raise KeyboardInterrupt

    slots = Slots(1)
    slots.acquire()
    monkeypatch.setattr("dashscope_embed.slots.threading", SimpleNamespace(Lock=threading.Lock, Event=LateInterrupt))
    interrupted = []

    def waiter() -> None:
        try:
            slots.acquire()
        except KeyboardInterrupt:
            interrupted.append(True)

    thread = threading.Thread(target=waiter)
    thread.start()
    while not slots._waiters:
        time.sleep(0.001)
    slots.release()
    thread.join(2.0)
    assert interrupted and slots.in_use == 0
    monkeypatch.undo()
    assert _acquire_within(slots, 2.0)
