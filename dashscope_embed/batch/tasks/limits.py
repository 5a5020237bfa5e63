"""The asynchronous batch task API's documented limits, statuses and paths, shared by the job and the local service.

Source: Model Studio "Batch processing API reference" (text-embedding-async-v1/v2),
https://help.aliyun.com/en/model-studio/text-embedding-batch-api; replies recorded from the live service in the
open-source .NET SDK's test data (cnblogs/dashscope-sdk, ``batch-text-embedding-nosse.*``, ``get-task-*``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "TASKS_DOC",
    "TASKS_PATH",
    "ASYNC_HEADER",
    "RESOLVE_HEADER",
    "TASK_STATUSES",
    "TERMINAL_TASK_STATUSES",
    "TaskLimits",
    "TASK_LIMITS",
]

TASKS_DOC = "https://help.aliyun.com/en/model-studio/text-embedding-batch-api"
#: ``GET {root}/api/v1/tasks/{task_id}``, ``POST {root}/api/v1/tasks/{task_id}/cancel``
TASKS_PATH = "/api/v1/tasks"
#: the header that turns a text-embedding POST into a task submission
ASYNC_HEADER = "X-DashScope-Async"
#: the header that lets the service read ``oss://`` URLs of the temporary upload
RESOLVE_HEADER = "X-DashScope-OssResourceResolve"
TASK_STATUSES: tuple[str, ...] = ("PENDING", "SUSPENDED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")
#: statuses after which a task changes no more (UNKNOWN: the service does not know the id, or forgot it)
TERMINAL_TASK_STATUSES: tuple[str, ...] = ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")


@dataclass(frozen=True)
class TaskLimits:
    """Limits of one account's asynchronous embedding tasks (defaults: the documented values; smaller for tests).

    Attributes:
        max_lines: lines (texts) in one task's input file.
        max_tokens_per_line: Qwen tokens one line may hold.
        submit_interval: seconds between task submissions (the documented 1 request per second).
        max_queued: tasks queued or running at once per account.
        max_running: tasks running at once per account (the rest wait as PENDING).
        keep_hours: how long the service keeps a task and its result (about 24 h).
        upload_valid_hours: how long a temporary upload's ``oss://`` URL can be read (48 h; the Model Studio
            "Upload a local file to obtain a temporary URL" page).
    """

    max_lines: int = 100_000
    max_tokens_per_line: int = 2048
    submit_interval: float = 1.0
    max_queued: int = 50
    max_running: int = 3
    keep_hours: int = 24
    upload_valid_hours: float = 48.0


TASK_LIMITS = TaskLimits()
