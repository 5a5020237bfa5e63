"""The Batch File API's documented limits and statuses, shared by the client job and the local service.

Source: Model Studio "OpenAI compatible - Batch (file input)",
https://help.aliyun.com/en/model-studio/batch-interfaces-compatible-with-openai
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidInputError

__all__ = [
    "BATCH_DOC",
    "BatchLimits",
    "LIMITS",
    "ENDPOINT",
    "STATUSES",
    "TERMINAL_STATUSES",
    "parse_completion_window",
]

#: The Model Studio page every Batch File API limit and status here comes from.
BATCH_DOC = "https://help.aliyun.com/en/model-studio/batch-interfaces-compatible-with-openai"
#: the only ``endpoint`` (and line ``url``) embedding batches use
ENDPOINT = "/v1/embeddings"
STATUSES: tuple[str, ...] = (
    "validating",
    "in_progress",
    "finalizing",
    "completed",
    "failed",
    "expired",
    "cancelling",
    "cancelled",
)
#: statuses after which a batch changes no more
TERMINAL_STATUSES: tuple[str, ...] = ("completed", "failed", "expired", "cancelled")
_WINDOW = re.compile(r"^([0-9]+)([hd])$")


@dataclass(frozen=True)
class BatchLimits:
    """Limits of one account and one input file (defaults: the documented values; smaller ones for tests).

    Attributes:
        max_lines: requests (lines) per input file.
        max_file_bytes: bytes per input file.
        max_line_bytes: bytes per line (UTF-8, without the newline).
        max_name_chars / max_description_chars: ``metadata.ds_name`` / ``metadata.ds_description`` length.
        min_window_hours / max_window_hours: allowed ``completion_window``.
        max_files / max_storage_bytes: files, and bytes, an account may store.
        max_creations_per_minute / max_concurrent_batches: account limits on batches.
        list_days: how far back ``GET /batches`` reaches.
    """

    max_lines: int = 50_000
    max_file_bytes: int = 500 * 1024 * 1024
    max_line_bytes: int = 6 * 1024 * 1024
    max_name_chars: int = 100
    max_description_chars: int = 200
    min_window_hours: int = 24
    max_window_hours: int = 336
    max_files: int = 10_000
    max_storage_bytes: int = 100 * 1024**3
    max_creations_per_minute: int = 1_000
    max_concurrent_batches: int = 1_000
    list_days: int = 30


LIMITS = BatchLimits()


def parse_completion_window(window: object, limits: BatchLimits = LIMITS) -> int:
    """Hours of a ``completion_window`` such as ``"24h"`` or ``"7d"``.

    Raises:
        InvalidInputError: not an integer with unit ``h`` or ``d``, or outside 24h-336h (source: ``BATCH_DOC``).
    """
    match = _WINDOW.match(window) if isinstance(window, str) else None
    if match is None:
        raise InvalidInputError(
            f"completion_window {window!r} must be an integer with unit h or d, from "
            f"{limits.min_window_hours}h to {limits.max_window_hours}h (e.g. '24h', '7d'; source: {BATCH_DOC})"
        )
    hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
    if not limits.min_window_hours <= hours <= limits.max_window_hours:
        raise InvalidInputError(
            f"completion_window {window!r} is {hours}h; allowed: {limits.min_window_hours}h to "
            f"{limits.max_window_hours}h (source: {BATCH_DOC})"
        )
    return hours
