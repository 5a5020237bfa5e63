"""Client-side pacing so large jobs stay under an account's quota instead of riding 429s.

DashScope limits each model per account in requests per minute (RPM) and tokens per minute (TPM) ("Rate limits",
https://help.aliyun.com/en/model-studio/rate-limit). The limiter is a generic cell-rate algorithm: each request
reserves its slot under a lock and is told how long to sleep, so it serves threads and coroutines alike (the
caller sleeps with ``time.sleep`` or ``asyncio.sleep``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .errors import InvalidInputError

__all__ = ["RateLimiter"]


class RateLimiter:
    """Pace requests to at most ``requests_per_minute`` and ``tokens_per_minute``, with a one-second burst.

    Args:
        requests_per_minute: request budget per minute, or ``None`` for no request limit.
        tokens_per_minute: token budget per minute, or ``None`` for no token limit.
        clock: monotonic clock in seconds (injectable for tests).

    Raises:
        InvalidInputError: a limit that is not a positive number (NaN, which would pace nothing, included).
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("requests_per_minute", requests_per_minute), ("tokens_per_minute", tokens_per_minute)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise InvalidInputError(f"{name} must be a number > 0, got {value!r}")
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._request_tat = 0.0  # theoretical arrival time of the next request
        self._token_tat = 0.0

    @property
    def enabled(self) -> bool:
        """Whether any limit is set (``reserve`` always returns 0 otherwise)."""
        return self.requests_per_minute is not None or self.tokens_per_minute is not None

    def reserve(self, tokens: int = 0) -> float:
        """Reserve one request of ``tokens`` tokens; return the seconds to wait before sending it (>= 0)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            wait = 0.0
            if self.requests_per_minute is not None:
                interval = 60.0 / self.requests_per_minute
                burst = max(1.0, self.requests_per_minute / 60.0)
                tat = max(self._request_tat, now)
                wait = max(wait, tat - (burst - 1.0) * interval - now)
                self._request_tat = tat + interval
            if self.tokens_per_minute is not None and tokens > 0:
                per_token = 60.0 / self.tokens_per_minute
                burst_seconds = 1.0
                tat = max(self._token_tat, now)
                wait = max(wait, tat - burst_seconds - now)
                self._token_tat = tat + tokens * per_token
            return wait
