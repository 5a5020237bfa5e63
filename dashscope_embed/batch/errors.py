"""The error of the remote embedding jobs (Batch File API jobs and async task jobs).

Defined in ``dashscope_embed.errors`` (the one tree) and importable here, where the jobs raise it.
"""

from __future__ import annotations

from ..errors import BatchJobError

__all__ = ["BatchJobError"]
