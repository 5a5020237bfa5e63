"""The error every file-to-Parquet job raises when it cannot start or stops (bulk and remote jobs alike).

Defined in ``dashscope_embed.errors`` (the one tree) and importable here, where the jobs raise it.
"""

from __future__ import annotations

from ..errors import BulkJobError

__all__ = ["BulkJobError"]
