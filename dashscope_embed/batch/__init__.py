"""The Model Studio Batch File API for embeddings: corpora at half the real-time price, outside the real-time quota.

- ``BatchEmbeddingJob``: shard, upload, create, poll, collect, resubmit, delete, resume (``job``).
- ``batch_status`` / ``cancel_batches``: read or cancel a job's batches from its state file (``control``).
- ``BatchLimits`` / ``LIMITS``: the documented limits (``limits``), shared with the local service.

China (Beijing) only; source: https://help.aliyun.com/en/model-studio/batch-interfaces-compatible-with-openai
"""

from .control import batch_status, cancel_batches
from .job import BatchEmbeddingJob, BatchJobError, BatchSummary, batch_models
from .limits import BATCH_DOC, LIMITS, BatchLimits, parse_completion_window
from .state import state_path_for

__all__ = [
    "BATCH_DOC",
    "LIMITS",
    "BatchEmbeddingJob",
    "BatchJobError",
    "BatchLimits",
    "BatchSummary",
    "batch_models",
    "batch_status",
    "cancel_batches",
    "parse_completion_window",
    "state_path_for",
]
