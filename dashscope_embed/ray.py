"""Ray Data: embed a text column of a ``ray.data.Dataset`` on a pool of actors, under one account-wide quota.

``embed_dataset`` maps batches of rows through ``Dataset.map_batches`` with a callable class; each actor holds one
``DashScopeEmbedder`` (its own pooled HTTP client, up to ``max_concurrency`` requests in flight, retries per
request). Everything DashScope-specific (batching into requests, retries, ordering, typed errors) is the core's:
this module only places engines on actors and lays their results out as columns.

DashScope limits requests and tokens per minute per account and model ("Rate limits",
https://help.aliyun.com/en/model-studio/rate-limit), not per process. Frameworks that pace each worker on its
own let N workers send N times the quota and ride into HTTP 429s. Here ``requests_per_minute`` /
``tokens_per_minute`` are the account's totals, held by one ``RateLimiter`` (the core's) in a zero-CPU actor that
every request of every actor reserves its slot from.

Requires the ``ray`` extra: ``pip install "dashscope-embed[ray]"``.
"""

from __future__ import annotations

from typing import Any, Literal

from .errors import MissingDependencyError

try:
    import pyarrow as pa
    import ray
    import ray.data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        'dashscope_embed.ray needs Ray Data: pip install "dashscope-embed[ray]" (ray[data])'
    ) from exc

import numpy as np

from .engine import DashScopeEmbedder, validate_texts
from .errors import InvalidInputError
from .ratelimit import RateLimiter
from .results import EmbeddingResult

__all__ = ["embed_dataset"]

#: Rows per ``map_batches`` batch: 100 requests of text-embedding-v4, several rounds of the engine's default 8
#: requests in flight, so the wait for a batch's slowest request is paid rarely.
DEFAULT_BATCH_SIZE = 1000

_SPARSE_TYPE = pa.struct([("indices", pa.list_(pa.int32())), ("values", pa.list_(pa.float32()))])


class _SharedLimiter:
    """Stands in for an engine's own ``RateLimiter``: every reservation goes to the one limiter actor.

    The actor answers how long to wait, measured on its clock at the moment of the reservation; the caller then
    sleeps that long on its own, so a reply that comes back late only makes the request later, never early.
    """

    def __init__(self, actor: Any, requests_per_minute: float | None, tokens_per_minute: float | None):
        self._actor = actor
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute

    @property
    def enabled(self) -> bool:
        """Always true: the shared limiter exists only when a limit was set."""
        return True

    def reserve(self, tokens: int = 0) -> float:
        """Reserve one request of ``tokens`` tokens on the shared limiter; seconds to wait before sending it."""
        return float(ray.get(self._actor.reserve.remote(tokens)))


def _use_limiter(engine: DashScopeEmbedder, limiter: Any) -> None:
    # The runner reserves before every attempt (retries included); the engine reads the limiter to decide
    # whether to count tokens for it.
    engine.runner.rate_limiter = limiter
    if hasattr(engine, "rate_limiter"):
        engine.rate_limiter = limiter


class _EmbedBatches:
    """The ``map_batches`` callable: one engine per actor, one ``embed`` call per batch (a ``pyarrow.Table``)."""

    def __init__(
        self,
        engine: DashScopeEmbedder,
        limiter: _SharedLimiter | None,
        text_column: str,
        output_column: str,
        sparse_column: str,
        text_type: Literal["query", "document"],
    ) -> None:
        self.engine = engine  # unpickled here: this actor's own clients and thread pool
        if limiter is not None:
            _use_limiter(engine, limiter)
        self.text_column = text_column
        self.output_column = output_column
        self.sparse_column = sparse_column
        self.text_type = text_type
        self.output_type = engine.output_type

    def _new_columns(self) -> list[str]:
        if self.output_type == "dense&sparse":
            return [self.output_column, self.sparse_column]
        return [self.output_column]

    def __call__(self, batch: pa.Table) -> pa.Table:
        names = batch.column_names
        if self.text_column not in names:
            raise InvalidInputError(f"the dataset has no column {self.text_column!r}; its columns: {names}")
        taken = [c for c in self._new_columns() if c in names]
        if taken:
            raise InvalidInputError(
                f"the dataset already has column(s) {taken}; pass other output_column/sparse_column names"
            )
        texts = validate_texts(batch.column(self.text_column).to_pylist(), what=f"values of {self.text_column!r}")
        result = self.engine.embed(texts, text_type=self.text_type)  # raises the core's typed errors
        for name, column in zip(self._new_columns(), self._columns(result), strict=True):
            batch = batch.append_column(name, column)
        return batch

    def _columns(self, result: EmbeddingResult) -> list[pa.Array]:
        columns = []
        if result.dense is not None:
            dense = np.ascontiguousarray(result.dense, dtype=np.float32)
            columns.append(pa.FixedSizeListArray.from_arrays(pa.array(dense.reshape(-1)), self.engine.dimension))
        if result.sparse is not None:
            columns.append(
                pa.array(
                    [{"indices": list(v.indices), "values": list(v.values)} for v in result.sparse],
                    type=_SPARSE_TYPE,
                )
            )
        return columns


def embed_dataset(
    dataset: ray.data.Dataset,
    *,
    text_column: str = "text",
    output_column: str = "embedding",
    concurrency: int | tuple[int, int] = 2,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    text_type: Literal["query", "document"] = "document",
    sparse_column: str = "sparse_embedding",
    batch_size: int = DEFAULT_BATCH_SIZE,
    ray_remote_args: dict[str, Any] | None = None,
    **embedder_kwargs: Any,
) -> ray.data.Dataset:
    """Add embedding columns to ``dataset`` (lazily, like every Ray Data transform), one engine per actor.

    Each row's ``text_column`` value is embedded once. The result keeps every input column and adds:

    - ``output_type="dense"`` (default): ``output_column``, ``fixed_size_list<float32>[d]`` (``d`` = the model's
      dimension, e.g. 1024 for text-embedding-v4), i.e. ``(n, d)`` float32;
    - ``output_type="sparse"``: ``output_column``, ``struct<indices: list<int32>, values: list<float32>>`` (Qwen
      token ids and their weights);
    - ``output_type="dense&sparse"``: both, dense in ``output_column`` and sparse in ``sparse_column``, from one
      request per group of rows.

    Quota sharing: ``requests_per_minute`` / ``tokens_per_minute`` are the **account's totals** for the model
    (Model Studio limits per account and model: https://help.aliyun.com/en/model-studio/rate-limit), shared by
    all actors through one limiter actor (zero CPUs) holding the core's ``RateLimiter``; every request attempt
    of every actor, retries included, reserves its slot there (one actor call, about a millisecond, next to a
    request of 100 ms or more) and then sleeps the returned wait locally. Chosen over splitting the quota
    ``1/N`` per actor because a split wastes the share of an idle actor (the last batches, uneven blocks) and is
    wrong as soon as the pool size changes (``concurrency=(min, max)`` autoscales); the shared limiter keeps the
    whole job under the quota whatever the pool does. Pace a little below the quota (e.g. 95%): requests from
    other jobs on the same account count too.

    Args:
        dataset: the rows to embed; ``text_column`` must hold non-empty strings.
        text_column: the column with the texts.
        output_column: the column to add (dense vectors, or sparse ones for ``output_type="sparse"``).
        concurrency: actors in the pool: an int, or ``(min, max)`` for an autoscaling pool.
        requests_per_minute / tokens_per_minute: the account's quota for this model, shared by all actors
            (``None``: no client-side pacing; 429s are still retried per request).
        text_type: ``"document"`` (default) or ``"query"``; sent as ``parameters.text_type``.
        sparse_column: where sparse vectors go with ``output_type="dense&sparse"``.
        batch_size: rows per ``map_batches`` batch, i.e. per engine call (default 1000); not the API's row
            limit per request (10 for text-embedding-v3/v4), which the engine applies itself.
        ray_remote_args: extra Ray options for the embedding actors (e.g. ``{"num_cpus": 0.5}``; default one CPU
            each, Ray Data's default).
        **embedder_kwargs: ``DashScopeEmbedder`` arguments: ``model``, ``dimensions``, ``output_type``,
            ``api_key``, ``base_url``, ``region``, ``max_concurrency`` (per actor), ``max_retries``, ``timeout``,
            ``oversize``, ... Checked here, before any actor starts.

    Returns:
        The lazy ``ray.data.Dataset`` with the added column(s); nothing runs until it is consumed
        (``take_all``, ``write_parquet``, ``iter_batches``, ...).

    Raises:
        InvalidInputError: (now) a bad argument: unknown model, disallowed dimension or output_type, empty column
            names, ``concurrency`` < 1, a rate limit <= 0, a missing API key for a non-local service.
        InvalidInputError: (while consuming) the column is missing or an output column exists already; a value is
            empty, ``None`` or not a string (the message names its position in the batch).
        APIError: (while consuming) a request failed after its retries (``RateLimitError``,
            ``AuthenticationError``, ...). It arrives as Ray's ``RayTaskError`` that is also an instance of the
            core's error class, with its ``status_code``, ``code``, ``request_id`` and ``attempts``: this function
            sets ``raise_original_map_exception`` on the dataset's ``DataContext`` (the copy this dataset lineage
            holds, not the global one) so Ray does not replace it with a bare ``UserCodeException``. A failed
            batch fails the job; no row ever gets an empty vector.
    """
    if not isinstance(dataset, ray.data.Dataset):
        raise InvalidInputError(f"dataset must be a ray.data.Dataset, got {type(dataset).__name__}")
    for name, value in (
        ("text_column", text_column),
        ("output_column", output_column),
        ("sparse_column", sparse_column),
    ):
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"{name} must be a non-empty column name, got {value!r}")
    _check_concurrency(concurrency)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be an int >= 1, got {batch_size!r}")
    engine = DashScopeEmbedder(**embedder_kwargs)
    engine.check_parameters(text_type=text_type)  # text_type and its combination with the engine's options
    engine.settings.require_key()
    if engine.output_type == "dense&sparse" and sparse_column == output_column:
        raise InvalidInputError("output_column and sparse_column must differ for output_type='dense&sparse'")

    limiter = None
    if requests_per_minute is not None or tokens_per_minute is not None:
        RateLimiter(requests_per_minute, tokens_per_minute)  # its checks (InvalidInputError), raised here
        actor = ray.remote(num_cpus=0)(RateLimiter).remote(requests_per_minute, tokens_per_minute)
        limiter = _SharedLimiter(actor, requests_per_minute, tokens_per_minute)

    if isinstance(concurrency, int):
        strategy = ray.data.ActorPoolStrategy(size=concurrency)
    else:
        low, high = concurrency
        strategy = ray.data.ActorPoolStrategy(min_size=low, max_size=high)
    out = dataset.map_batches(
        _EmbedBatches,
        fn_constructor_kwargs={
            "engine": engine,
            "limiter": limiter,
            "text_column": text_column,
            "output_column": output_column,
            "sparse_column": sparse_column,
            "text_type": text_type,
        },
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=strategy,
        **(ray_remote_args or {}),
    )
    out.context.raise_original_map_exception = True
    return out


def _check_concurrency(concurrency: Any) -> None:
    def ok(n: Any) -> bool:
        return isinstance(n, int) and not isinstance(n, bool) and n >= 1

    if ok(concurrency):
        return
    pair = isinstance(concurrency, tuple) and len(concurrency) == 2 and all(map(ok, concurrency))
    if pair and concurrency[0] <= concurrency[1]:
        return
    raise InvalidInputError(f"concurrency must be an int >= 1 or a (min, max) pair of them, got {concurrency!r}")
