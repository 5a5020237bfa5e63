"""Remote embedding jobs: corpora embedded by the service from files of lines, resumable, billed once.

Three things are called "batch" in this field; the code names them apart:

- **request rows**: the rows of one real-time request (the engine's planning, ``planning.plan_requests``);
- **Batch File API job** (``BatchEmbeddingJob``, ``embed --batch-api``): JSONL files of embedding requests run by
  the service at half the real-time price (China (Beijing) only; source:
  https://help.aliyun.com/en/model-studio/batch-interfaces-compatible-with-openai);
- **async task job**: text files submitted as asynchronous tasks (``X-DashScope-Async``) for the models that run
  only that way (text-embedding-async-v1/v2), polled at ``/api/v1/tasks/{id}``.

Both job kinds run on one coordinator over the same parts; each part has one job:

==================  ==========================================================================================
part                what it does
==================  ==========================================================================================
``options``         ``RemoteJobOptions`` (shared knobs) and ``BatchJobOptions`` (the Batch File API's): one
                    small options object per job instead of a long constructor
``source``          ``RowSource`` (rows read afresh per pass, ids of row numbers), ``scan_rows`` (checks before
                    any upload; the job key)
``sharding``        ``plan_shards`` (rows -> lines by the kind's ``Packer`` -> shard files within line and byte
                    limits, resumable at ``state.planned_until``), ``attempt_path``, ``groups``
``state``           ``JobState`` / ``Shard`` / ``Attempt`` and the atomic state file ``OUTPUT.batch-state.json``
                    (``kind`` names the job kind; ``Attempt.remote_id`` is a batch id or a task id)
``remote``          the ``Remote`` protocol (submit, refresh, terminal, failed, fetch, cancel, delete_input,
                    delete_all, remote_names, close) and ``BatchFileRemote`` over ``client.BatchAPIClient``
``collect``         ``done_mask`` (rows already journaled), ``journal_rows`` (one line's vectors into its chunk's
                    journal, any kind); the Batch File API's result files into journals and the sorting of
                    failed lines (``journal_results``, ``read_errors``, ``plan_resubmission``)
``output``          failed rows listed (``failure_listing``) or embedded in real time
                    (``embed_failures_realtime``); the journals into Parquet in input order (``write_output``)
``summary``         ``BatchSummary``: rows, tokens and cost at the remote price beside the real-time price
``cleanup``         ``delete_collected`` (remote files of collected attempts), ``discard`` (``restart``)
``progress``        ``Progress``: the tqdm bar of rows collected
``runlock``         ``job_lock``: one run of a job at a time (``flock`` on ``OUTPUT.batch-state.json.lock``)
``coordinator``     ``RemoteJob``: the steps in order over the parts (plan, submit within ``max_running``, poll
                    with backoff, collect, resubmit, fall back, write, clean up) and ``Collected``
``job``             ``BatchEmbeddingJob``: the Batch File API kind of ``RemoteJob``
``control``         ``batch_status`` / ``cancel_batches``: ``batch status|cancel OUTPUT`` from the state file
``limits``          ``BatchLimits`` / ``LIMITS`` and statuses of the Batch File API, shared with the local service
``errors``          ``BatchJobError``
==================  ==========================================================================================

How a new job kind plugs in (the async task job): subclass ``RemoteJobOptions`` with its knobs
(``rows_per_task``, ``text_type``); implement ``Remote`` over its API (``submit`` uploads the text file and submits
the task, recording ``file_id`` (the ``oss://`` URL), ``creating`` and ``remote_id`` (the task id) through
``save()``; ``refresh`` reads ``GET /api/v1/tasks/{id}``, ``terminal`` / ``failed`` read its statuses, ``fetch``
downloads the gzipped result, ``cancel`` / ``delete_*`` as the API allows) and register it in
``control.REMOTES`` under the kind's name; subclass ``RemoteJob`` with ``api = "task"``, a ``pack`` of one text
per line, ``collect_results`` that parses the result lines into the journals (``Collected``), and ``on_failed``
that ``requeue`` s a failed task (``next_round=True``) within ``max_resubmits`` and otherwise records its lines
with ``record_failures``. Keep the local attempt files as JSONL lines that carry a ``custom_id``
(``lines.custom_id``: the rows a line holds) beside the text, and let the ``Remote`` write the plain text file it
uploads from them: result line ``text_index`` i is then line i of the attempt file, ``line_rows`` and
resubmitted attempts work from the ``custom_id`` as they do for batch lines, and failures name rows and ids.
State file, sharding, polling and resubmission, collection into Parquet, the summary, cleanup and
``batch status|cancel`` are then shared, not copied. ``tests/service/batch/test_remote_job_kind.py`` builds a
complete small kind (an in-memory task API) this way.
"""

from .control import batch_status, cancel_batches
from .coordinator import Collected, RemoteJob
from .errors import BatchJobError
from .job import BatchEmbeddingJob, batch_models
from .limits import BATCH_DOC, LIMITS, BatchLimits, parse_completion_window
from .options import DEFAULT_POLL_INTERVAL, BatchJobOptions, RemoteJobOptions
from .remote import BatchFileRemote, Remote
from .state import state_path_for
from .summary import BatchSummary
from .tasks import AsyncTaskJob, TaskJobOptions  # the task kind, on the same parts

__all__ = [
    "AsyncTaskJob",
    "BATCH_DOC",
    "DEFAULT_POLL_INTERVAL",
    "LIMITS",
    "BatchEmbeddingJob",
    "BatchFileRemote",
    "BatchJobError",
    "BatchJobOptions",
    "BatchLimits",
    "BatchSummary",
    "Collected",
    "Remote",
    "TaskJobOptions",
    "RemoteJob",
    "RemoteJobOptions",
    "batch_models",
    "batch_status",
    "cancel_batches",
    "parse_completion_window",
    "state_path_for",
]
