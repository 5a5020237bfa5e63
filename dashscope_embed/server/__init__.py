"""A local DashScope-compatible embedding service, for tests, demos and benchmarks with no network.

It speaks the three wire protocols of Model Studio's embedding APIs:

- native text: ``POST /api/v1/services/embeddings/text-embedding/text-embedding``
- native multimodal: ``POST /api/v1/services/embeddings/multimodal-embedding/multimodal-embedding``
- OpenAI-compatible: ``POST /compatible-mode/v1/embeddings``

and both text rerank endpoints (``server.rerank``: native ``/api/v1/services/rerank/text-rerank/text-rerank`` and
compatible ``/compatible-api/v1/reranks``), scored deterministically (``server.relevance``): with a model backend
by a blend of the model's query/document cosine and lexical overlap, with the hash backend by lexical overlap alone,

and enforces each model's documented limits from ``dashscope_embed.catalog`` with the real service's error codes.
Text vectors come from a pluggable backend (``hash``, ``e5``, ``use``), projected exactly to any dimension the
model allows; sparse vectors use real Qwen tokenizer tokens. Image and video vectors are deterministic hashes of
the bytes or URL: wire-faithful, not semantic. Faults (latency, throttling, errors, dropped connections, bad
replies) can be injected and changed while the service runs. Beside them: the Batch File API's Files and Batches
endpoints, the temporary-upload endpoints, and the asynchronous batch tasks of text-embedding-async-v1/v2
(``X-DashScope-Async`` on the text endpoint, ``/api/v1/tasks/{id}``, a gzipped result; ``tasks``).

Entry points: ``LocalService`` (background thread, context manager), ``create_app`` (the ASGI app), ``serve``
(foreground, the ``dashscope-embed serve`` command).
"""

from .app import EmbeddingService, ServiceApp, create_app
from .backends import Backend, get_backend, register_backend
from .faults import FaultConfig, FaultInjector
from .runner import LocalService, serve
from .stats import RequestRecord, ServiceStats, StatsSnapshot

__all__ = [
    "Backend",
    "EmbeddingService",
    "FaultConfig",
    "FaultInjector",
    "LocalService",
    "RequestRecord",
    "ServiceApp",
    "ServiceStats",
    "StatsSnapshot",
    "create_app",
    "get_backend",
    "register_backend",
    "serve",
]
