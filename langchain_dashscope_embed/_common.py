"""Configuration fields shared by the LangChain classes, and their mapping onto the core engine."""

from __future__ import annotations

from typing import Any, Optional

from langchain_core.utils import from_env, secret_from_env
from pydantic import ConfigDict, Field, SecretStr

from dashscope_embed import DashScopeEmbedder, Usage
from dashscope_embed.options import EngineOptions

# Private attributes rebuilt from the configuration after unpickling, and fields that cannot be pickled.
_REBUILT_PRIVATE = ("_engine", "_hybrid", "_router")
_UNPICKLED_FIELDS = ("transport", "async_transport")


class ConnectionFields(EngineOptions):
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

    def _engine_kwargs(self) -> dict[str, Any]:
        return dict(
            api_key=self.dashscope_api_key,
            base_url=self.base_url,
            region=self.region,
            workspace=self.workspace,
            **self.engine_options(),
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
