"""Fault injection for the local service: latency, throttling, server errors, dropped connections, bad replies.

Every decision is a function of ``(FaultConfig.seed, request number)``, where requests are numbered from 0 in the
order they reach the fault stage since the faults were last set: a sequential client sees the same faults on every
run, and a concurrent one sees the same number of each fault over the same number of requests.

Faults change at run time (``FaultInjector.set``), without restarting the service.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError

__all__ = ["FAULT_KINDS", "FaultConfig", "FaultDecision", "FaultInjector"]

#: Names accepted in ``FaultConfig.schedule``.
FAULT_KINDS: tuple[str, ...] = ("drop", "429", "500", "503", "error_200", "short", "shuffle")


@dataclass(frozen=True)
class FaultConfig:
    """What can go wrong, and how often. All rates are probabilities per request in ``[0, 1]``.

    Attributes:
        seed: makes every random decision reproducible.
        latency: seconds added to every embedding request before it is answered.
        jitter: extra seconds, uniform in ``[0, jitter)``, added on top of ``latency``.
        rpm: requests per minute accepted (sliding 60 s window); the rest get HTTP 429 ``Throttling.RateQuota``
            with a ``Retry-After`` header (whole seconds until the window frees a slot). ``None``: no limit.
        drop_rate: the connection is closed without a reply (the client sees a transport error).
        rate_429: HTTP 429 ``Throttling.RateQuota`` with ``Retry-After: retry_after``.
        rate_500: HTTP 500 ``InternalError``.
        rate_503: HTTP 503 ``ServiceUnavailable``.
        error_200_rate: HTTP 200 whose body carries an error ``code`` and no vectors.
        short_reply_rate: HTTP 200 with one vector fewer than the inputs (when there are any).
        shuffle_rate: HTTP 200 with the vectors listed in a shuffled order (indices stay right).
        retry_after: seconds sent in ``Retry-After`` with ``rate_429`` replies.
        schedule: request number -> fault name (one of ``FAULT_KINDS``), forced regardless of the rates; for tests
            that need a fault on exactly the n-th request.
        batch_line_failure_rate: Batch File API: a line fails (HTTP 500 ``InternalError`` or 429
            ``Throttling.RateQuota``, alternately) and lands in the error file.
        batch_expire_rate: a batch expires part-way, after ``batch_expire_fraction`` of its lines; the rest are in
            neither result file (and not billed), as on the real service.
        batch_validation_failure_rate: a batch fails validation (status ``failed``, ``errors.data`` naming a line).
        batch_step_delay: seconds between steps of ``batch_lines_per_step`` lines (slow progress).
        task_line_failure_rate: asynchronous tasks: a line of the result carries ``code``/``message`` (alternately
            ``InternalError`` and ``Throttling.RateQuota``) instead of an embedding, and is not billed.
        task_failure_rate: a task ends ``FAILED`` as a whole (``output.code`` ``InternalError``), nothing billed.
        task_queue_delay: seconds a task stays ``PENDING`` before it may run (a slow queue).
        task_step_delay / task_lines_per_step: a running task embeds ``task_lines_per_step`` lines a step, with
            ``task_step_delay`` seconds between steps (slow progress).
        task_line_shape: result lines as ``"nested"`` (``{"output": {"text_index", "embedding"}}``) or ``"flat"``
            (``{"text_index", "embedding"}``); failed lines carry ``code``/``message`` beside them.

    ``drop_rate + rate_429 + rate_500 + rate_503 + error_200_rate + short_reply_rate`` must be at most 1: a request
    gets at most one of these. ``shuffle_rate`` is drawn independently.

    Raises:
        ValueError: a rate is outside ``[0, 1]``, the exclusive rates sum above 1, a duration is negative, or the
            schedule names an unknown fault.
    """

    seed: int = 0
    latency: float = 0.0
    jitter: float = 0.0
    rpm: int | None = None
    drop_rate: float = 0.0
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    error_200_rate: float = 0.0
    short_reply_rate: float = 0.0
    shuffle_rate: float = 0.0
    retry_after: float = 1.0
    schedule: Mapping[int, str] = field(default_factory=dict)
    batch_line_failure_rate: float = 0.0
    batch_expire_rate: float = 0.0
    batch_expire_fraction: float = 0.5
    batch_validation_failure_rate: float = 0.0
    batch_step_delay: float = 0.0
    batch_lines_per_step: int = 50
    task_line_failure_rate: float = 0.0
    task_failure_rate: float = 0.0
    task_queue_delay: float = 0.0
    task_step_delay: float = 0.0
    task_lines_per_step: int = 2000
    task_line_shape: str = "nested"

    def __post_init__(self) -> None:
        rates = {f: getattr(self, f) for f in (*_EXCLUSIVE, "shuffle_rate", *_BATCH_RATES)}
        for name, value in rates.items():
            if not 0.0 <= float(value) <= 1.0:
                raise InvalidInputError(f"{name} must be within [0, 1], got {value!r}")
        total = sum(getattr(self, f) for f in _EXCLUSIVE)
        if total > 1.0 + 1e-9:
            raise InvalidInputError(f"{' + '.join(_EXCLUSIVE)} must be at most 1, got {total:g}")
        for name in ("batch_lines_per_step", "task_lines_per_step"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.task_line_shape not in ("nested", "flat"):
            raise InvalidInputError(f"task_line_shape must be 'nested' or 'flat', got {self.task_line_shape!r}")
        for name in ("latency", "jitter", "retry_after", "batch_step_delay", "task_queue_delay", "task_step_delay"):
            if getattr(self, name) < 0:
                raise InvalidInputError(f"{name} must be >= 0 seconds, got {getattr(self, name)!r}")
        if self.rpm is not None and self.rpm < 1:
            raise InvalidInputError(f"rpm must be >= 1 or None, got {self.rpm!r}")
        bad = {k: v for k, v in self.schedule.items() if v not in FAULT_KINDS}
        if bad:
            raise InvalidInputError(f"unknown fault(s) in schedule {bad}; known: {', '.join(FAULT_KINDS)}")

    def replace(self, **changes: Any) -> FaultConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def active(self) -> bool:
        """Whether any fault or delay is configured."""
        return bool(
            self.latency
            or self.jitter
            or self.rpm is not None
            or self.schedule
            or self.shuffle_rate
            or any(getattr(self, name) for name in _EXCLUSIVE)
        )


_BATCH_RATES = (
    "batch_line_failure_rate",
    "batch_expire_rate",
    "batch_expire_fraction",
    "batch_validation_failure_rate",
    "task_line_failure_rate",
    "task_failure_rate",
)
_EXCLUSIVE = ("drop_rate", "rate_429", "rate_500", "rate_503", "error_200_rate", "short_reply_rate")
_EXCLUSIVE_KIND = dict(zip(_EXCLUSIVE, ("drop", "429", "500", "503", "error_200", "short"), strict=True))


@dataclass(frozen=True)
class FaultDecision:
    """What happens to one request.

    Attributes:
        number: the request's number since the faults were set.
        delay: seconds to wait before answering.
        fault: ``None`` or one of ``drop``, ``429``, ``500``, ``503``, ``error_200``, ``short``.
        shuffle: list the reply's vectors in a shuffled order.
        retry_after: seconds for the ``Retry-After`` header of a 429.
        rng_seed: seed for the randomness the fault itself needs (which order, which vector to leave out).
    """

    number: int
    delay: float = 0.0
    fault: str | None = None
    shuffle: bool = False
    retry_after: float = 0.0
    rng_seed: int = 0


class FaultInjector:
    """Holds the current ``FaultConfig`` and decides, thread-safely, what happens to each request.

    Args:
        config: the initial faults (``None``: no faults).
        clock: seconds, monotonic; replaceable in tests of the RPM window.
    """

    def __init__(self, config: FaultConfig | None = None, clock=time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._config = config or FaultConfig()
        self._count = 0
        self._window: deque[float] = deque()

    @property
    def config(self) -> FaultConfig:
        """The faults in force."""
        return self._config

    def set(self, config: FaultConfig | None = None, **changes: object) -> FaultConfig:
        """Replace the faults (``config``), or change some fields of the current ones (``changes``), or both.

        Request numbering and the RPM window restart, so a run after ``set`` is reproducible.
        """
        with self._lock:
            base = config if config is not None else (self._config if changes else FaultConfig())
            self._config = base.replace(**changes) if changes else base
            self._count = 0
            self._window.clear()
            return self._config

    def decide(self) -> FaultDecision:
        """Draw the fate of the next request (and count it against the RPM window unless it is refused)."""
        with self._lock:
            cfg = self._config
            number = self._count
            self._count += 1
            if not cfg.active:
                return FaultDecision(number=number)
            rng = random.Random(f"{cfg.seed}:{number}")
            delay = cfg.latency + (rng.random() * cfg.jitter if cfg.jitter else 0.0)
            u_fault, u_shuffle, rng_seed = rng.random(), rng.random(), rng.getrandbits(32)
            fault = cfg.schedule.get(number)
            shuffle = False
            if fault == "shuffle":
                fault, shuffle = None, True
            elif fault is None:
                edge = 0.0
                for name in _EXCLUSIVE:
                    edge += getattr(cfg, name)
                    if u_fault < edge:
                        fault = _EXCLUSIVE_KIND[name]
                        break
                shuffle = u_shuffle < cfg.shuffle_rate
            retry_after = cfg.retry_after
            if cfg.rpm is not None and fault is None:
                now = self._clock()
                while self._window and now - self._window[0] >= 60.0:
                    self._window.popleft()
                if len(self._window) >= cfg.rpm:
                    fault = "rpm"
                    retry_after = float(max(1, math.ceil(60.0 - (now - self._window[0]))))
                else:
                    self._window.append(now)
            return FaultDecision(
                number=number, delay=delay, fault=fault, shuffle=shuffle, retry_after=retry_after, rng_seed=rng_seed
            )
