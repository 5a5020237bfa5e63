"""The error every file-to-Parquet job raises when it cannot start or stops (bulk and Batch File API alike)."""

from __future__ import annotations

__all__ = ["BulkJobError"]


class BulkJobError(RuntimeError):
    """The job cannot start (work of a different job in the way, bad options) or stopped on a failed request.

    Work already written is kept; the message says whether rerunning the same command resumes.
    """
