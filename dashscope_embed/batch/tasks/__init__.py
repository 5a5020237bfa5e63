"""Asynchronous batch tasks of text-embedding-async-v1/v2 (``X-DashScope-Async``), the task kind of the remote
jobs: ``AsyncTaskJob`` / ``TaskJobOptions`` (``job``), ``TaskRemote`` (``remote``), the wire client ``TaskClient``
(``client``), the result reader (``results``), one-line texts (``lines``) and the documented limits (``limits``).
Source: https://help.aliyun.com/en/model-studio/text-embedding-batch-api
"""

from .client import TaskClient
from .job import AsyncTaskJob, TaskJobOptions, TaskSummary, task_models
from .limits import TASK_LIMITS, TASKS_DOC, TaskLimits
from .remote import TaskRemote
from .results import ResultLine, read_result

__all__ = [
    "TASKS_DOC",
    "TASK_LIMITS",
    "AsyncTaskJob",
    "ResultLine",
    "TaskClient",
    "TaskJobOptions",
    "TaskLimits",
    "TaskRemote",
    "TaskSummary",
    "read_result",
    "task_models",
]
