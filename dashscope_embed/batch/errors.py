"""The error of the remote embedding jobs (Batch File API jobs and async task jobs)."""

from __future__ import annotations

from typing import Optional

from ..jobs.errors import BulkJobError

__all__ = ["BatchJobError"]


class BatchJobError(BulkJobError):
    """A remote embedding job (Batch File API or async task) cannot start, or ended with rows it could not embed.

    Attributes:
        failures: ``(row number, id, code)`` of every row that could not be embedded (empty when the job
            stopped for another reason).
    """

    def __init__(self, message: str, failures: Optional[list[tuple[int, Optional[str], str]]] = None) -> None:
        super().__init__(message)
        self.failures = failures or []
