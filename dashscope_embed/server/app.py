"""The ASGI application: routes, authentication, fault injection and statistics around the three endpoints.

``create_app`` returns a ``ServiceApp``, an ASGI callable usable with any ASGI server, that also exposes the
service's ``stats`` and lets faults change while it runs (``set_faults``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..wire.compat_rerank import COMPAT_RERANK_PATH
from ..wire.native_rerank import NATIVE_RERANK_PATH
from . import compat, multimodal, rerank, text
from .backends import Backend, get_backend
from .batches import BatchAPI
from .dropping import ABORT_SCOPE_KEY, DroppedResponse, abort_hook, install_log_filter
from .endpoint import EndpointResult
from .faults import FaultConfig, FaultDecision, FaultInjector
from .replies import ServiceError, compat_error_body, json_response, native_error_body
from .stats import RequestRecord, ServiceStats
from .tasks import TaskAPI
from .uploads import UploadService
from .validation import COMPAT_PATH, MULTIMODAL_PATH, TEXT_PATH, parse_body

__all__ = ["EmbeddingService", "ServiceApp", "create_app"]

logger = logging.getLogger("dashscope_embed.server")

Handler = Callable[[dict[str, Any], Backend, str], Awaitable[EndpointResult]]
Describer = Callable[[dict[str, Any]], RequestRecord]

_THROTTLED = "Requests rate limit exceeded, please try again later."
# The real service's wording, spelling included.
_INTERNAL = "An internal error has occured, please try again later or contact service support."
_UNAVAILABLE = "The service is temporarily unavailable, please try again later."


class EmbeddingService:
    """The request pipeline shared by the endpoints.

    For each embedding request: authenticate, draw the fault decision, wait the injected latency, answer an injected
    drop/429/500/503, parse and validate the body, embed, then apply reply faults (HTTP 200 with an error code,
    fewer vectors, shuffled order) and count the outcome.

    Args:
        backend: the embedding backend (a name or an instance).
        faults: the initial faults.
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``.
        stats: counters to update (a new ``ServiceStats`` by default).
    """

    def __init__(
        self,
        backend: str | Backend = "hash",
        faults: FaultConfig | None = None,
        api_key: str | None = None,
        stats: ServiceStats | None = None,
    ) -> None:
        self.backend = get_backend(backend)
        self.faults = FaultInjector(faults)
        # stripped as the clients strip theirs: `serve --api-key` with a pasted key must accept that same key
        api_key = api_key.strip() if api_key else api_key
        self.api_key = api_key
        self.stats = stats or ServiceStats()
        self._expected_auth = f"Bearer {api_key}".encode() if api_key else None

    # -- endpoints --
    async def text(self, request: Request) -> Response:
        """Native text embedding (``text.handle``)."""
        return await self._run(request, "native", text.handle, text.describe)

    async def multimodal(self, request: Request) -> Response:
        """Native multimodal embedding (``multimodal.handle``)."""
        return await self._run(request, "native", multimodal.handle, multimodal.describe)

    async def compatible(self, request: Request) -> Response:
        """OpenAI-compatible embeddings (``compat.handle``)."""
        return await self._run(request, "compat", compat.handle, compat.describe)

    async def rerank(self, request: Request) -> Response:
        """Native text rerank (``rerank.handle_native``)."""
        return await self._run(request, "native", rerank.handle_native, rerank.describe_native)

    async def compatible_rerank(self, request: Request) -> Response:
        """Compatible text rerank (``rerank.handle_compat``)."""
        return await self._run(request, "compat", rerank.handle_compat, rerank.describe_compat)

    # -- pipeline --
    def error_response(self, error: ServiceError, protocol: str, request_id: str) -> Response:
        """Count and render an error reply in the protocol's shape."""
        self.stats.reply(error.status)
        body = compat_error_body(error, request_id) if protocol == "compat" else native_error_body(error, request_id)
        return json_response(body, error.status, request_id, error.headers)

    def _authorize(self, request: Request) -> None:
        if self._expected_auth is None:
            return
        given = request.headers.get("authorization", "").strip().encode()
        if not hmac.compare_digest(given, self._expected_auth):
            raise ServiceError(401, "InvalidApiKey", "Invalid API-key provided.")

    async def _run(self, request: Request, protocol: str, handler: Handler, describe: Describer) -> Response:
        request_id = str(uuid.uuid4())
        try:
            self._authorize(request)
            raw = await request.body()
            decision = self.faults.decide()
            if decision.delay:
                await asyncio.sleep(decision.delay)
            early = self._early_fault(decision)
            if early is not None:
                return early
            body = parse_body(raw)
            self.stats.embedding_request(describe(body))
            result = await handler(body, self.backend, request_id)
            return self._reply(result, decision, protocol, request_id)
        except ServiceError as error:
            return self.error_response(error, protocol, request_id)
        except Exception:
            logger.exception("embedding request %s failed", request_id)
            return self.error_response(ServiceError(500, "InternalError", _INTERNAL), protocol, request_id)

    def _early_fault(self, decision: FaultDecision) -> Response | None:
        fault = decision.fault
        if fault is None or fault in ("error_200", "short"):
            return None
        self.stats.fault(fault)
        if fault == "drop":
            return DroppedResponse()  # type: ignore[return-value]  # an ASGI app: starlette runs whatever is returned
        if fault in ("429", "rpm"):
            raise ServiceError(
                429, "Throttling.RateQuota", _THROTTLED, headers={"Retry-After": f"{decision.retry_after:g}"}
            )
        if fault == "500":
            raise ServiceError(500, "InternalError", _INTERNAL)
        raise ServiceError(503, "ServiceUnavailable", _UNAVAILABLE)

    def _reply(self, result: EndpointResult, decision: FaultDecision, protocol: str, request_id: str) -> Response:
        items = result.items
        complete = True
        if decision.fault == "error_200":
            self.stats.fault("error_200")
            error = ServiceError(200, "InternalError", _INTERNAL)
            body = (
                compat_error_body(error, request_id) if protocol == "compat" else native_error_body(error, request_id)
            )
            self.stats.reply(200)
            return json_response(body, 200, request_id)
        rng = random.Random(decision.rng_seed)
        if decision.fault == "short":
            self.stats.fault("short")
            del items[rng.randrange(len(items))]
            complete = False
        if decision.shuffle and len(items) > 1:
            self.stats.fault("shuffle")
            rng.shuffle(items)
        self.stats.reply(200, ok_rows=result.rows if complete else None)
        return json_response(result.body, 200, request_id)


class ServiceApp:
    """The ASGI application returned by ``create_app``.

    Attributes:
        service: the ``EmbeddingService`` behind the routes.
        stats: its ``ServiceStats``.
        backend: its backend.
        uploads: the temporary-upload endpoints and their file store (``server.uploads.UploadService``).
        tasks: the asynchronous batch tasks of text-embedding-async-v1/v2 (``server.tasks.TaskAPI``).
    """

    def __init__(self, service: EmbeddingService) -> None:
        self.service = service
        self.stats = service.stats
        self.backend = service.backend
        self.batch_api = BatchAPI(service)  # the Batch File API's Files and Batches endpoints

        async def route_error(request: Request, exc: Exception) -> Response:
            if isinstance(exc, HTTPException) and exc.status_code == 405:
                error = ServiceError(
                    405,
                    "MethodNotAllowed",
                    f"Method {request.method} is not allowed; use POST.",
                    headers={"Allow": "POST"},
                )
            else:
                error = ServiceError(404, "InvalidURL", f"Invalid URL provided in your request: {request.url.path}")
            return service.error_response(error, "native", str(uuid.uuid4()))

        self.uploads = UploadService(service._authorize)
        self.tasks = TaskAPI(service, self.uploads)  # asynchronous batch tasks (text-embedding-async-v1/v2)
        self._app = Starlette(
            routes=[
                Route(TEXT_PATH, self.tasks.dispatching(service.text), methods=["POST"]),
                Route(MULTIMODAL_PATH, self.uploads.resolving(service.multimodal), methods=["POST"]),
                Route(COMPAT_PATH, service.compatible, methods=["POST"]),
                Route(NATIVE_RERANK_PATH, service.rerank, methods=["POST"]),
                Route(COMPAT_RERANK_PATH, service.compatible_rerank, methods=["POST"]),
                *self.batch_api.routes(),
                *self.uploads.routes(),
                *self.tasks.routes(),
            ],
            exception_handlers={404: route_error, 405: route_error},
        )
        install_log_filter()

    @property
    def faults(self) -> FaultConfig:
        """The faults in force."""
        return self.service.faults.config

    def set_faults(self, faults: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Change faults at run time: a new ``FaultConfig``, or field changes (``set_faults(rate_500=0.1)``), or
        ``set_faults()`` / ``set_faults(None)`` for none. Request numbering and the RPM window restart."""
        return self.service.faults.set(faults, **changes)

    def reset_stats(self) -> None:
        """Zero the statistics."""
        self.stats.reset()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            self.stats.request()
            scope[ABORT_SCOPE_KEY] = abort_hook(send)
        await self._app(scope, receive, send)


def create_app(
    backend: str | Backend = "hash", faults: FaultConfig | None = None, api_key: str | None = None
) -> ServiceApp:
    """The local DashScope-compatible service as an ASGI application.

    Args:
        backend: ``"hash"`` (fast, not semantic), ``"e5"`` (semantic), ``"use"`` (faster, weaker), another name
            registered with ``backends.register_backend``, or a ``Backend`` instance.
        faults: faults to inject from the start (``None``: none); change them later with ``app.set_faults``.
        api_key: when set, every request needs ``Authorization: Bearer <api_key>``; others get 401
            ``InvalidApiKey``. ``None`` accepts any request.

    Raises:
        ValueError: unknown backend name.
    """
    return ServiceApp(EmbeddingService(backend, faults, api_key))
