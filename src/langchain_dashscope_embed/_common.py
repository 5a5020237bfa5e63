"""Configuration fields shared by the LangChain classes, and their mapping onto the core engine."""

from __future__ import annotations

from typing import Any, Literal, Optional

from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from dashscope_embed import DashScopeEmbedder, Usage

# Private attributes rebuilt from the configuration after unpickling, and fields that cannot be pickled.
_REBUILT_PRIVATE = ("_engine", "_hybrid", "_router")
_UNPICKLED_FIELDS = ("transport", "async_transport")


class ConnectionFields(BaseModel):
    """Where and how to reach DashScope; the same meaning as ``dashscope_embed.DashScopeEmbedder``'s arguments."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())

    model: str = Field(default="text-embedding-v4", description="DashScope embedding model id.")
    dashscope_api_key: Optional[SecretStr] = Field(
        alias="api_key",
        default_factory=secret_from_env("DASHSCOPE_API_KEY", default=None),
        exclude=True,
        description="DashScope API key (default: DASHSCOPE_API_KEY). Never dumped, shown or logged.",
    )
    base_url: Optional[str] = Field(
        default_factory=from_env(["DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"], default=None),
        description="Host root, '.../api/v1' or '.../compatible-mode/v1' (default: DASHSCOPE_BASE_URL).",
    )
    region: Optional[str] = Field(
        default_factory=from_env("DASHSCOPE_REGION", default=None),
        description="'beijing' (default), 'singapore' or 'hongkong' (default: DASHSCOPE_REGION).",
    )
    workspace: Optional[str] = Field(
        default_factory=from_env("DASHSCOPE_WORKSPACE", default=None),
        description="Model Studio workspace id, sent as X-DashScope-WorkSpace (default: DASHSCOPE_WORKSPACE).",
    )
    instruct: Optional[str] = Field(
        default=None, description="Task instruction sent with query-side calls (text-embedding-v4 only)."
    )
    max_concurrency: int = Field(default=8, ge=1, description="Requests in flight at once per object.")
    max_retries: int = Field(
        default=4,
        ge=0,
        description="Retries per request after the first attempt (429, 5xx, timeouts, connection errors).",
    )
    timeout: float = Field(default=60.0, gt=0, description="Seconds per HTTP request.")
    oversize: Literal["chunk_average", "truncate", "error"] = Field(
        default="chunk_average",
        description="Texts over the model's token limit per row: split and average, truncate, or raise.",
    )
    transport: Optional[Any] = Field(
        default=None, exclude=True, repr=False, description="Custom httpx.BaseTransport (tests, proxies)."
    )
    async_transport: Optional[Any] = Field(
        default=None, exclude=True, repr=False, description="Custom httpx.AsyncBaseTransport (tests, proxies)."
    )

    def _engine_kwargs(self) -> dict[str, Any]:
        return dict(
            api_key=self.dashscope_api_key,
            base_url=self.base_url,
            region=self.region,
            workspace=self.workspace,
            instruct=self.instruct,
            max_concurrency=self.max_concurrency,
            max_retries=self.max_retries,
            timeout=self.timeout,
            oversize=self.oversize,
            transport=self.transport,
            async_transport=self.async_transport,
        )

    def _connection_fields(self) -> dict[str, Any]:
        """The shared fields by name (the key included), to build a sibling object with the same settings."""
        return {name: getattr(self, name) for name in ConnectionFields.model_fields}

    @property
    def engine(self) -> DashScopeEmbedder:
        """The core engine doing the work."""
        return self._engine  # type: ignore[attr-defined]

    @property
    def usage(self) -> Usage:
        """Tokens (``total_tokens``) and requests (``requests``) billed by this object since it was built."""
        return self._engine.usage  # type: ignore[attr-defined]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["__dict__"] = {k: v for k, v in state["__dict__"].items() if k not in _UNPICKLED_FIELDS}
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {k: v for k, v in private.items() if k not in _REBUILT_PRIVATE}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Validate again so the engine and its clients are rebuilt in the new process.
        self.__init__(**state["__dict__"])  # type: ignore[misc]
