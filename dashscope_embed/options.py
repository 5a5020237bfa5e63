"""The adapters' configuration fields, declared once in the core.

LlamaIndex and LangChain models are both pydantic v2, so each adapter class inherits these fields: defaults,
bounds, descriptions, environment defaults, the refusal of unknown arguments and what may be pickled cannot drift
apart between the two frameworks. Each field has the meaning of the ``DashScopeEmbedder`` argument of the same name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import ConfigDict, Field, SecretStr, model_validator

from .base import BaseEmbedder
from .errors import InvalidInputError
from .hybrid import HybridEmbedder, SparseCache
from .keys import clean_api_key
from .results import Usage
from .routing import EmbeddingRouter
from .settings import MAX_TIMEOUT, CheckedModel, environment_defaults

__all__ = ["EngineOptions", "ConnectionOptions", "DenseOptions", "SparseOptions", "picklable_state"]

# Private attributes an adapter rebuilds from its fields after unpickling, and fields that cannot be pickled.
REBUILT_PRIVATE = ("_engine", "_hybrid", "_router")
UNPICKLED_FIELDS = ("transport", "async_transport")


class EngineOptions(CheckedModel):
    """How the engine sends requests.

    Attributes:
        instruct: query-side task instruction (models whose catalog entry has ``instruct``; qwen3-vl-embedding sends
            it with every request).
        max_concurrency: requests in flight at once per object (>= 1).
        max_retries: retries per request after the first attempt (429, 5xx, timeouts, connection errors; >= 0).
        timeout: seconds per HTTP request (> 0).
        oversize: texts over the model's token limit per row (``ModelSpec.max_tokens_per_row``):
            ``"chunk_average"``, ``"truncate"`` or ``"error"``.
        requests_per_minute / tokens_per_minute: client-side pacing of this object's requests (``RateLimiter``;
            tokens are Qwen tokens), ``None`` for none.
        transport / async_transport: custom httpx transports (tests, proxies); never dumped, shown or pickled.
        allow_insecure_http: send the key over plain ``http://`` to a non-loopback host (a trusted gateway only;
            refused by default; default ``DASHSCOPE_ALLOW_INSECURE_HTTP``).
    """

    instruct: str | None = Field(
        default=None, description="Task instruction sent with query-side calls (models that accept instruct)."
    )
    max_concurrency: int = Field(default=8, ge=1, description="Requests in flight at once per object.")
    max_retries: int = Field(
        default=4,
        ge=0,
        description="Retries per request after the first attempt (429, 5xx, timeouts, connection errors).",
    )
    timeout: float = Field(default=60.0, gt=0, le=MAX_TIMEOUT, description="Seconds per HTTP request.")
    oversize: Literal["chunk_average", "truncate", "error"] = Field(
        default="chunk_average",
        description="Texts over the model's token limit per row: split and average, truncate, or raise.",
    )
    requests_per_minute: float | None = Field(
        default=None, gt=0, description="Client-side pacing: requests per minute for this object (None: none)."
    )
    tokens_per_minute: float | None = Field(
        default=None, gt=0, description="Client-side pacing: Qwen tokens per minute for this object (None: none)."
    )
    transport: Any | None = Field(
        default=None, exclude=True, repr=False, description="Custom httpx.BaseTransport (tests, proxies)."
    )
    async_transport: Any | None = Field(
        default=None, exclude=True, repr=False, description="Custom httpx.AsyncBaseTransport (tests, proxies)."
    )

    allow_insecure_http: bool = Field(
        default=False,
        description="Send the API key over plain http:// to a non-loopback host (a trusted gateway only).",
    )

    def engine_options(self) -> dict[str, Any]:
        """These fields as keyword arguments for ``DashScopeEmbedder`` / ``EmbeddingRouter``."""
        return {name: getattr(self, name) for name in EngineOptions.model_fields}


class _Engine(Protocol):
    """What every adapter's engine has, an embedder's or a reranker's."""

    usage: Usage


class ConnectionOptions(EngineOptions):
    """Where to reach DashScope, plus ``EngineOptions``; unknown constructor arguments are refused.

    Attributes:
        dashscope_api_key: the key (constructor argument ``api_key`` or ``dashscope_api_key``; default
            ``DASHSCOPE_API_KEY``). Excluded from every dump and repr; pickled (as ``SecretStr``) so worker
            processes get the key they need. Also readable as ``api_key``.
        base_url: host root, ``.../api/v1`` or ``.../compatible-mode/v1`` (default ``DASHSCOPE_BASE_URL``, else
            ``DASHSCOPE_HTTP_BASE_URL``, else the region's root).
        region: a region name or id: beijing, singapore, virginia, hongkong, frankfurt, tokyo (see
            ``dashscope_embed.settings``; default ``DASHSCOPE_REGION``, else ``DASHSCOPE_API_REGION``, else Beijing).
            Frankfurt and Tokyo need ``workspace``.
        workspace: Model Studio workspace id, sent as ``X-DashScope-WorkSpace`` (default ``DASHSCOPE_WORKSPACE``,
            else ``DASHSCOPE_WORKSPACE_ID``).

    Raises:
        pydantic.ValidationError: an argument no field has (the message names it, e.g. ``dimension``, which is
            ``dimensions`` here), or a value out of bounds.
    """

    # hide_input_in_errors: a validation error would otherwise print the raw arguments, key included.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=(), hide_input_in_errors=True)

    if TYPE_CHECKING:  # set by each adapter class (a pydantic PrivateAttr); declared for type checkers only
        _engine: _Engine

    dashscope_api_key: SecretStr | None = Field(
        default=None,
        alias="api_key",
        exclude=True,
        repr=False,
        description="DashScope API key (default: DASHSCOPE_API_KEY). Never dumped, shown or logged.",
    )
    base_url: str | None = Field(
        default=None,
        description="Host root, '.../api/v1' or '.../compatible-mode/v1' (default: DASHSCOPE_BASE_URL, else region).",
    )
    region: str | None = Field(
        default=None, description="Region name or id, e.g. 'beijing', 'singapore' (default: DASHSCOPE_REGION)."
    )
    workspace: str | None = Field(
        default=None,
        description="Model Studio workspace id, sent as X-DashScope-WorkSpace (default: DASHSCOPE_WORKSPACE).",
    )

    @model_validator(mode="before")
    @classmethod
    def _environment_defaults(cls, data: Any) -> Any:
        # Unknown arguments are refused by ``extra="forbid"`` (pydantic names each one: "Extra inputs are not
        # permitted"); here only the environment fills what the caller left unset.
        if not isinstance(data, dict):
            return data
        _check_model_argument(cls, data)
        data = dict(data)
        for name in ("api_key", "dashscope_api_key"):
            if data.get(name) is not None:  # stripped, checked and masked from here on
                data[name] = clean_api_key(data[name], source=name)
        env = environment_defaults()
        if data.get("api_key") is None and data.get("dashscope_api_key") is None:
            data.pop("api_key", None)
            if "api_key" in env:
                data["dashscope_api_key"] = env["api_key"]
        for name in ("base_url", "region", "workspace", "allow_insecure_http"):
            if data.get(name) is None and name in env:
                data[name] = env[name]
        return data

    @property
    def api_key(self) -> SecretStr | None:
        """The key in use (``SecretStr``), or ``None``."""
        return self.dashscope_api_key

    @property
    def usage(self) -> Usage:
        """Tokens (``total_tokens``) and requests (``requests``) billed by this object since it was built (restarts
        at zero in an unpickled copy, e.g. a worker process)."""
        return self._engine.usage

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the core engine: the connection and every ``EngineOptions`` field."""
        return dict(
            api_key=self.dashscope_api_key,
            base_url=self.base_url,
            region=self.region,
            workspace=self.workspace,
            **self.engine_options(),
        )

    def connection_fields(self) -> dict[str, Any]:
        """The ``ConnectionOptions`` fields by name (the key included), to build a sibling object (the sparse twin
        of a dense model) with the same settings."""
        return {name: getattr(self, name) for name in ConnectionOptions.model_fields}


class DenseOptions(ConnectionOptions):
    """``ConnectionOptions`` plus what shapes dense vectors.

    Attributes:
        dimensions: output dimension ``d`` (``None``: the model's default), checked against the catalog when the
            object is built.
        protocol: ``"dashscope"`` (native, default) or ``"openai"`` (compatible mode: dense only, no text_type,
            instruct or sparse).
        output_type: ``"dense"`` or ``"dense&sparse"`` (models with sparse output: every call also fills the
            shared sparse cache, so hybrid indexing costs one request per framework batch).
    """

    if TYPE_CHECKING:  # set by each adapter class (a pydantic PrivateAttr); declared for type checkers only
        _engine: BaseEmbedder
        _router: EmbeddingRouter

    @property
    def engine(self) -> BaseEmbedder:
        """The core engine doing the work (a ``DashScopeEmbedder``, or a ``MultimodalEmbedder`` for a multimodal
        model)."""
        return self._engine

    dimensions: int | None = Field(default=None, description="Output dimension (None: the model's default).")
    protocol: Literal["dashscope", "openai"] | None = Field(
        default=None, description="'dashscope' (native, default) or 'openai' (compatible mode, dense only)."
    )
    output_type: Literal["dense", "dense&sparse"] = Field(
        default="dense", description="'dense&sparse' also fetches sparse vectors (same request) for hybrid search."
    )

    @property
    def dimension(self) -> int:
        """The length ``d`` of every vector this object returns."""
        return self._router.dimension

    @property
    def is_multimodal(self) -> bool:
        """Whether this object embeds images and videos too (a multimodal model)."""
        return self._router.is_multimodal

    def build_router(self, model: str) -> EmbeddingRouter:
        """The ``EmbeddingRouter`` these fields describe for ``model``: the engine a dense adapter delegates to.

        Builds no connection (clients are created on first use), so construction works offline.

        Raises:
            InvalidInputError: whatever the router and engines refuse (unknown model, dimension, combination).
        """
        return EmbeddingRouter(
            model,
            dimensions=self.dimensions,
            protocol=self.protocol,
            output_type=self.output_type,
            **self.engine_kwargs(),
        )


class SparseOptions(ConnectionOptions):
    """``ConnectionOptions`` of a sparse adapter (no ``dimensions``, no ``protocol``: sparse vectors exist on the
    native protocol only), plus the sparse cache it shares with ``"dense&sparse"`` dense objects."""

    if TYPE_CHECKING:  # set by each adapter class (a pydantic PrivateAttr); declared for type checkers only
        _engine: BaseEmbedder
        _hybrid: HybridEmbedder

    @property
    def engine(self) -> BaseEmbedder:
        """The core engine doing the work (a ``DashScopeEmbedder``)."""
        return self._engine

    @property
    def cache(self) -> SparseCache:
        """The process-wide sparse cache shared with dense objects configured for ``"dense&sparse"``."""
        return self._hybrid.cache


#: How each framework names the model argument (LlamaIndex ``model_name``, LangChain ``model``).
_MODEL_ARGUMENT = {"model_name": "LlamaIndex", "model": "LangChain"}


def _check_model_argument(cls: type, data: dict[str, Any]) -> None:
    """Refuse the other framework's name for the model argument with a message that gives this class's name
    (pydantic alone says only "Extra inputs are not permitted").

    Raises:
        InvalidInputError: e.g. ``model=`` given to a LlamaIndex class, whose field is ``model_name``.
    """
    fields = getattr(cls, "model_fields", {})
    for ours, framework in _MODEL_ARGUMENT.items():
        other = "model" if ours == "model_name" else "model_name"
        if ours in fields and other not in fields and other in data:
            raise InvalidInputError(
                f"{cls.__name__} takes the model as {ours}= ({framework}'s name for it), not {other}=: "
                f"pass {ours}={data[other]!r}"
            )


def picklable_state(state: dict[str, Any]) -> dict[str, Any]:
    """A pydantic ``__getstate__`` dict without the transports and the engine objects an adapter rebuilds from its
    fields on unpickling (clients, pools and locks cannot be pickled; the configuration can)."""
    state = dict(state)
    state["__dict__"] = {k: v for k, v in state.get("__dict__", {}).items() if k not in UNPICKLED_FIELDS}
    private = state.get("__pydantic_private__")
    if private:
        state["__pydantic_private__"] = {k: v for k, v in private.items() if k not in REBUILT_PRIVATE}
    return state
