"""What the text and multimodal engines share: options, connection, runner, re-splitting, totals, pickling.

``DashScopeEmbedder`` (text) and ``MultimodalEmbedder`` differ in how they turn inputs into request bodies and
how they pack them into requests; everything else lives here once: resolving the model spec and the connection,
checking the dimension and the region, building the ``RequestRunner``, sending one group of inputs with a re-split
when the service names a smaller number of request rows (remembered for later calls), adding up usage, and
pickling (an engine travels to ``IngestionPipeline(num_workers>1)`` and Ray workers as its configuration, and
rebuilds its clients there).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

import httpx
import numpy as np
from pydantic import SecretStr

from .catalog import Kind, ModelSpec, get_model_spec
from .errors import BatchSizeError, InvalidInputError, InvalidRequestError
from .lifecycle import RunnerLifecycle
from .results import Usage
from .transport import ParseReply

__all__ = ["BaseEmbedder", "Call", "validate_texts"]

logger = logging.getLogger("dashscope_embed")

#: One group of inputs that travels as one request (a slice of texts, or a list of multimodal units).
G = TypeVar("G", bound=Sequence[Any])
#: A parsed reply of one request.
R = TypeVar("R")
#: ``(path, body, parse, send keyword arguments)`` for one request.
Call = tuple[str, dict, ParseReply, dict]


def validate_texts(texts: Any, *, what: str = "texts", purpose: str = "embedded") -> list[str]:
    """Check that ``texts`` is a list of non-empty strings; return it as a list.

    ``what`` names the list in the message (``"texts"``, ``"documents"``), ``purpose`` what the service would
    have done with it (``"embedded"``, ``"reranked"``).

    Raises:
        InvalidInputError: ``texts`` is a bare string or not a sequence, or some items are ``None``, not ``str``,
            empty/whitespace-only, or not encodable as UTF-8 (a lone surrogate such as ``"\\ud800"``, which JSON
            cannot carry); the message names every offending index (the first 20) and why. Checked for every text
            before the first request, so a bad text late in the list sends nothing.
    """
    if isinstance(texts, (str, bytes)):
        raise InvalidInputError(f"{what} must be a list of strings, got a single {type(texts).__name__}")
    try:
        items = list(texts)
    except TypeError:
        raise InvalidInputError(f"{what} must be a list of strings, got {type(texts).__name__}") from None
    bad: list[str] = []
    count = 0
    for i, text in enumerate(items):
        reason = None
        if text is None:
            reason = "None"
        elif not isinstance(text, str):
            reason = f"not a string ({type(text).__name__})"
        elif not text.strip():
            reason = "empty" if not text else "whitespace only"
        else:
            reason = encoding_problem(text)
        if reason:
            count += 1
            if len(bad) < 20:
                bad.append(f"[{i}] {reason}")
    if bad:
        more = f" and {count - len(bad)} more" if count > len(bad) else ""
        raise InvalidInputError(
            f"{count} of {len(items)} {what} cannot be {purpose} (DashScope rejects empty input and JSON cannot carry "
            "lone surrogates): " + ", ".join(bad) + more
        )
    return items


def check_instruct_text(instruct: object) -> None:
    """Refuse an ``instruct`` that is not a string or that JSON cannot carry (a lone surrogate), before anything is
    sent.

    Raises:
        InvalidInputError: names the problem (and the position of a lone surrogate).
    """
    if not isinstance(instruct, str):
        raise InvalidInputError(f"instruct must be a string, got {type(instruct).__name__}")
    problem = encoding_problem(instruct)
    if problem:
        raise InvalidInputError(f"instruct holds a {problem}")


def encoding_problem(text: str) -> str | None:
    """Why ``text`` cannot be sent (a lone surrogate UTF-8 cannot encode, and where), or ``None``; shared by the
    engines, the reranker and the remote jobs' row checks."""
    # On every text of every call. ASCII text (the common case) cannot hold a lone surrogate, and str.isascii is
    # about 6x cheaper than encoding; other text is encoded, which measured faster than a regex scan for CJK.
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        return f"lone surrogate {bad!r} at character {exc.start} (not valid Unicode; UTF-8 cannot encode it)"
    return None


class BaseEmbedder(RunnerLifecycle, Generic[G, R]):
    """The part of an engine that does not depend on the kind of input.

    Subclasses set ``_KIND`` (the catalog ``kind`` they serve), implement ``_check_kind`` (a clear error for a
    model of the other kind), ``_group_size`` (what a group counts against ``max_rows``), ``_split`` (a group cut
    into parts within a limit, in order) and ``_call`` (the request for one group).

    Args (shared by both engines, keyword-only after ``model``):
        model: catalog model id; ``model_spec`` replaces the catalog entry, ``catalog_overrides`` adjusts it.
        dimensions: output dimension, checked against the spec before anything is sent (``None``: the default).
        api_key, base_url, region, workspace, protocol, timeout (seconds): the connection (``settings``).
        instruct: task instruction (see each engine).
        max_concurrency: requests in flight at once (>= 1); max_retries: retries per request (>= 0).
        requests_per_minute / tokens_per_minute: client-side pacing (``RateLimiter``), or ``None``.
        retry_base_delay / retry_max_delay: backoff seconds (the formula is ``RequestRunner``'s).
        transport / async_transport: custom httpx transports (tests, proxies); not pickled.
        allow_insecure_http: send the key over plain ``http://`` to a non-loopback host (a trusted gateway).

    Raises:
        InvalidInputError: a model of the other kind, disallowed dimension, a region the model is not offered in,
            Frankfurt/Tokyo without a workspace, a key bound for plain ``http://`` to a remote host, bad
            concurrency/retry/pacing values (an unknown model id gets a generic spec and one warning).
    """

    #: The catalog ``kind`` this engine serves (a model id the catalog does not know gets a generic spec of it).
    _KIND: Kind | None = None
    #: Keyword arguments a subclass accepts on top of the shared ones (anything else is refused by name).
    _OPTIONS: tuple[str, ...] = ()
    #: Limits learned from the service that a pickled copy keeps (``RunnerLifecycle`` pickling).
    _LEARNED: tuple[str, ...] = ("_max_rows",)

    def __init__(
        self,
        model: str,
        *,
        dimensions: int | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        protocol: str | None = None,
        instruct: str | None = None,
        max_concurrency: int = 8,
        max_retries: int = 4,
        timeout: float = 60.0,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        model_spec: ModelSpec | None = None,
        catalog_overrides: Mapping[str, Any] | None = None,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        allow_insecure_http: bool = False,
        **options: Any,
    ) -> None:
        unknown = sorted(set(options) - set(self._OPTIONS))
        if unknown:
            raise InvalidInputError(unknown_arguments(type(self).__name__, unknown, self._known_arguments()))
        # Everything but the key and the transports: what a pickled copy is rebuilt from.
        self._init_args: dict[str, Any] = dict(
            model=model,
            dimensions=dimensions,
            base_url=base_url,
            region=region,
            workspace=workspace,
            protocol=protocol,
            instruct=instruct,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            timeout=timeout,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            model_spec=model_spec,
            catalog_overrides=catalog_overrides,
            retry_base_delay=retry_base_delay,
            retry_max_delay=retry_max_delay,
            allow_insecure_http=allow_insecure_http,
            **options,
        )
        self.spec: ModelSpec = model_spec or get_model_spec(model, catalog_overrides, kind=self._KIND)
        self.model = self.spec.name
        self._check_kind(protocol)
        self._connect(
            api_key,
            base_url=base_url,
            region=region,
            workspace=workspace,
            protocol=protocol,
            timeout=timeout,
            allow_insecure_http=allow_insecure_http,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            retry_base_delay=retry_base_delay,
            retry_max_delay=retry_max_delay,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            transport=transport,
            async_transport=async_transport,
        )
        self._check_region()
        self.dimension = self.spec.check_dimension(dimensions)
        if instruct is not None:
            check_instruct_text(instruct)
        self.instruct = instruct
        self.rate_limiter = self.runner.rate_limiter
        self._max_rows = self.spec.max_rows  # lowered when the service names a smaller limit

    @classmethod
    def _known_arguments(cls) -> list[str]:
        shared = [
            name for name in inspect.signature(BaseEmbedder.__init__).parameters if name not in ("self", "options")
        ]
        return sorted(set(shared) | set(cls._OPTIONS))

    # ------------------------------------------------------------------ hooks for the subclasses

    def _check_kind(self, protocol: str | None) -> None:
        raise NotImplementedError

    def _group_size(self, group: G) -> int:
        raise NotImplementedError

    def _split(self, group: G, limit: int) -> list[G]:
        raise NotImplementedError

    def _call(self, context: Any, group: G) -> Call:
        raise NotImplementedError

    # ------------------------------------------------------------------ configuration

    def _check_region(self) -> None:
        # The region comes from region= or from a root that names one (shared or workspace domain); custom roots
        # such as the local service name none and are not checked.
        self.spec.check_region(self.settings.region)

    @property
    def max_rows(self) -> int:
        """Rows (text models) or content elements (multimodal models) per request now in force: the catalog's,
        or less once the service named a smaller limit."""
        return self._max_rows

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, dimension={self.dimension}, "
            f"protocol={self.settings.protocol!r}, root={self.settings.root!r}, "
            f"max_concurrency={self.max_concurrency}, max_retries={self.max_retries})"
        )

    # ------------------------------------------------------------------ sending groups

    def _resplit(self, exc: BatchSizeError, group: G) -> list[G]:
        """Parts of at most the limit the service named, remembered for later plans.

        Raises:
            BatchSizeError: ``exc`` again when the group cannot be cut smaller.
        """
        if exc.limit < 1:
            raise exc
        parts = self._split(group, exc.limit)
        if len(parts) < 2:
            raise exc
        with self._lock:
            self._max_rows = min(self._max_rows, exc.limit)
        logger.warning("%s accepts at most %d rows per request; re-splitting", self.model, exc.limit)
        return parts

    def _parts_after(self, exc: InvalidRequestError, group: G) -> list[G] | None:
        """The parts to send instead of ``group`` after the service refused it with ``exc``, or ``None`` when the
        refusal names no limit a smaller request would meet (then ``exc`` stands)."""
        if isinstance(exc, BatchSizeError):
            return self._resplit(exc, group)
        return self._learn_limit(exc, group)

    def _learn_limit(self, exc: InvalidRequestError, group: G) -> list[G] | None:
        """Hook: learn a per-request limit other than rows from ``exc`` (the multimodal engine's images and
        videos) and return ``group`` cut to meet it; ``None`` when ``exc`` names none."""
        return None

    def _learned_parts(self, group: G) -> list[G] | None:
        # A limit learned after this group was planned: cut it now rather than be refused again.
        if self._group_size(group) > self._max_rows:
            parts = self._split(group, self._max_rows)
            if len(parts) > 1:
                return parts
        return None

    def _run_group(self, context: Any, group: G) -> list[R]:
        parts = self._learned_parts(group)
        if parts is not None:
            return [r for part in parts for r in self._run_group(context, part)]
        path, body, parse, kwargs = self._call(context, group)
        try:
            reply = self.runner.send(path, body, parse, **kwargs)
        except InvalidRequestError as exc:
            parts = self._parts_after(exc, group)
            if parts is None:
                raise
            return [r for part in parts for r in self._run_group(context, part)]
        self._log_reply(group, reply)
        return [reply]

    async def _arun_group(self, context: Any, group: G) -> list[R]:
        parts = self._learned_parts(group)
        if parts is not None:
            return [r for part in parts for r in await self._arun_group(context, part)]
        path, body, parse, kwargs = self._call(context, group)
        try:
            reply = await self.runner.asend(path, body, parse, **kwargs)
        except InvalidRequestError as exc:
            parts = self._parts_after(exc, group)
            if parts is None:
                raise
            return [r for part in parts for r in await self._arun_group(context, part)]
        self._log_reply(group, reply)
        return [reply]

    def _log_reply(self, group: G, reply: Any) -> None:
        logger.debug(
            "%s embedded %d inputs, request_id=%s, tokens=%d",
            self.model,
            len(group),
            reply.request_id,
            reply.total_tokens,
        )

    def _run_groups(self, context: Any, groups: Sequence[G]) -> list[R]:
        """Every group's replies, in group order; up to ``max_concurrency`` requests at once (threads)."""
        jobs = [functools.partial(self._run_group, context, g) for g in groups]
        return [r for replies in self.runner.run_all(jobs) for r in replies]

    async def _arun_groups(self, context: Any, groups: Sequence[G]) -> list[R]:
        """Async ``_run_groups`` (``max_concurrency`` requests in flight per engine, across loops and threads)."""
        jobs = [functools.partial(self._arun_group, context, g) for g in groups]
        return [r for replies in await self.runner.arun_all(jobs) for r in replies]

    # ------------------------------------------------------------------ totals

    def _totals(self, replies: Sequence[Any]) -> tuple[Usage, list[str], np.ndarray]:
        """Usage and request ids of ``replies`` (added to the engine's running ``usage``) and their dense rows
        stacked in reply order: ``(n, d)`` float32 (``(0, d)`` for no replies; rows of replies without dense
        vectors are left out)."""
        usage = Usage()
        request_ids: list[str] = []
        for reply in replies:
            usage.add(reply.total_tokens, 1)
            if reply.request_id:
                request_ids.append(reply.request_id)
        with self._lock:
            self.usage.add(usage.total_tokens, usage.requests)
        blocks = [r.dense for r in replies if r.dense is not None]
        dense = np.concatenate(blocks) if blocks else np.empty((0, self.dimension), np.float32)
        return usage, request_ids, dense


# Names other libraries use for an argument of the engines, where the closest spelling would mislead (difflib
# offers ``model_spec``, a ``ModelSpec``, for LlamaIndex's ``model_name``).
_ALIASES = {"model_name": "model", "dimension": "dimensions", "dashscope_api_key": "api_key"}


def unknown_arguments(owner: str, unknown: list[str], known: list[str]) -> str:
    """The message refusing ``unknown`` constructor arguments of ``owner``, each with the closest of ``known``."""
    hints = []
    for name in unknown:
        alias = _ALIASES.get(name)
        close = [alias] if alias in known else difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"{owner} got unknown argument(s) {', '.join(hints)}; it accepts: {', '.join(known)}"


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """``items`` cut into consecutive slices of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
