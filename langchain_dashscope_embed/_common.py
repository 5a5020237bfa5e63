"""What the LangChain classes share: the core's connection fields, LangChain's model config, pickling."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dashscope_embed.options import ConnectionOptions, picklable_state


class ConnectionFields(ConnectionOptions):
    """``dashscope_embed.options.ConnectionOptions`` with LangChain's ``model`` field (LlamaIndex names it
    ``model_name``)."""

    model: str = Field(default="text-embedding-v4", description="DashScope embedding model id.")

    def __getstate__(self) -> dict[str, Any]:
        return picklable_state(super().__getstate__())

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Validate again so the engine and its clients are rebuilt in the new process.
        self.__init__(**state["__dict__"])  # type: ignore[misc]  # validated again on unpickling: rebuilds the engine and its clients
