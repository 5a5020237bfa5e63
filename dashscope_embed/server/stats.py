"""Counters the local service keeps about the traffic it saw, readable from any thread, resettable."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestRecord", "ServiceStats", "StatsSnapshot"]


@dataclass(frozen=True)
class RequestRecord:
    """What one embedding request carried (kept for the most recent requests only).

    Attributes:
        endpoint: ``"text"``, ``"multimodal"`` or ``"compatible"``.
        model: the ``model`` field as sent.
        rows: how many texts / content elements the request held.
        parameters: the ``parameters`` object as sent (native), or the body's fields other than ``model`` and
            ``input`` (compatible mode). Unknown fields are kept: real DashScope ignores them, and seeing what a
            client really sends is how wrapper bugs (parameters nested under ``kwargs``) show.
    """

    endpoint: str
    model: Any
    rows: int
    parameters: dict[str, Any]


@dataclass(frozen=True)
class StatsSnapshot:
    """A consistent copy of the counters.

    Attributes:
        requests: HTTP requests received (any path, any outcome).
        by_status: replies by HTTP status (dropped connections are not replies and are not here).
        ok: complete, successful embedding replies: HTTP 200 with one vector per input. An HTTP 200 carrying an
            error code or too few vectors is counted in ``by_status[200]`` but not here.
        rows: inputs embedded in ``ok`` replies (texts or content elements).
        dropped: connections closed without a reply.
        faults: injected faults by kind (``drop``, ``429``, ``rpm``, ``500``, ``503``, ``error_200``, ``short``,
            ``shuffle``).
        by_endpoint: embedding requests by endpoint (``text``, ``multimodal``, ``compatible``).
    """

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    ok: int = 0
    rows: int = 0
    dropped: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, int] = field(default_factory=dict)

    @property
    def replies_200(self) -> int:
        """Replies with HTTP status 200 (including those that carry an error code)."""
        return self.by_status.get(200, 0)


class ServiceStats:
    """Thread-safe counters of one service (see ``StatsSnapshot`` for their meaning).

    Attribute reads (``stats.ok``, ``stats.by_status`` ...) return current values; ``snapshot()`` returns them all
    at one instant. ``recent`` holds the last ``keep`` ``RequestRecord`` s.
    """

    def __init__(self, keep: int = 256) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self.reset()

    def reset(self) -> None:
        """Zero every counter and forget the recent requests."""
        with self._lock:
            self._requests = 0
            self._by_status: Counter[int] = Counter()
            self._ok = 0
            self._rows = 0
            self._dropped = 0
            self._faults: Counter[str] = Counter()
            self._by_endpoint: Counter[str] = Counter()
            self._recent: deque[RequestRecord] = deque(maxlen=self._keep)
            self._batch_names: Counter[str] = Counter()
            self._billed_lines = 0
            self._billed_texts: Counter[str] = Counter()

    # -- recording (called by the service) --
    def request(self) -> None:
        """Count a received request."""
        with self._lock:
            self._requests += 1

    def embedding_request(self, record: RequestRecord) -> None:
        """Remember what an embedding request carried."""
        with self._lock:
            self._by_endpoint[record.endpoint] += 1
            self._recent.append(record)

    def reply(self, status: int, *, ok_rows: int | None = None) -> None:
        """Count a reply; ``ok_rows`` is given for complete successful embedding replies."""
        with self._lock:
            self._by_status[status] += 1
            if ok_rows is not None:
                self._ok += 1
                self._rows += ok_rows

    def fault(self, kind: str) -> None:
        """Count an injected fault."""
        with self._lock:
            self._faults[kind] += 1
            if kind == "drop":
                self._dropped += 1

    def batch_created(self, name: str) -> None:
        """Count a created batch under its ``metadata.ds_name`` (``""`` when it has none)."""
        with self._lock:
            self._batch_names[name] += 1

    def batch_line_billed(self, text_digests: list[str]) -> None:
        """Count a Batch File API line that succeeded (and is billed), by the sha256 of each of its texts."""
        with self._lock:
            self._billed_lines += 1
            self._billed_texts.update(text_digests)

    # -- reading --
    @property
    def batches_created(self) -> int:
        """Batches created through ``POST /compatible-mode/v1/batches``."""
        with self._lock:
            return sum(self._batch_names.values())

    @property
    def batch_names(self) -> dict[str, int]:
        """Batches created per ``metadata.ds_name`` (a copy): more than 1 means a second batch of the same name."""
        with self._lock:
            return dict(self._batch_names)

    @property
    def batch_lines_billed(self) -> int:
        """Batch File API lines that succeeded (billed)."""
        with self._lock:
            return self._billed_lines

    @property
    def batch_texts_billed(self) -> dict[str, int]:
        """Billed Batch File API texts by sha256 hex of their UTF-8 (a copy): a count above 1 is a text billed
        twice."""
        with self._lock:
            return dict(self._billed_texts)

    def snapshot(self) -> StatsSnapshot:
        """All counters at one instant."""
        with self._lock:
            return StatsSnapshot(
                requests=self._requests,
                by_status=dict(self._by_status),
                ok=self._ok,
                rows=self._rows,
                dropped=self._dropped,
                faults=dict(self._faults),
                by_endpoint=dict(self._by_endpoint),
            )

    @property
    def requests(self) -> int:
        """HTTP requests received."""
        with self._lock:
            return self._requests

    @property
    def by_status(self) -> dict[int, int]:
        """Replies by HTTP status (a copy)."""
        with self._lock:
            return dict(self._by_status)

    @property
    def replies_200(self) -> int:
        """Replies with HTTP status 200."""
        with self._lock:
            return self._by_status.get(200, 0)

    @property
    def ok(self) -> int:
        """Complete successful embedding replies."""
        with self._lock:
            return self._ok

    @property
    def rows(self) -> int:
        """Inputs embedded in successful replies."""
        with self._lock:
            return self._rows

    @property
    def dropped(self) -> int:
        """Connections closed without a reply."""
        with self._lock:
            return self._dropped

    @property
    def faults(self) -> dict[str, int]:
        """Injected faults by kind (a copy)."""
        with self._lock:
            return dict(self._faults)

    @property
    def recent(self) -> list[RequestRecord]:
        """The most recent embedding requests, oldest first (a copy)."""
        with self._lock:
            return list(self._recent)

    def __repr__(self) -> str:
        s = self.snapshot()
        return (
            f"ServiceStats(requests={s.requests}, ok={s.ok}, rows={s.rows}, by_status={s.by_status}, faults={s.faults})"
        )
