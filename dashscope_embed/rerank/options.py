"""The rerank adapters' configuration fields, declared once in the core (as ``options.py`` does for embeddings).

Both ``llama_index_dashscope_embed.DashScopeRerank`` and ``langchain_dashscope_embed.DashScopeRerank`` inherit
these: the connection fields of the embedding adapters (``ConnectionOptions``: ``api_key``/``dashscope_api_key``,
``base_url``, ``region``, ``workspace``, ``max_concurrency``, ``max_retries``, ``timeout``, pacing, transports,
``instruct``), plus ``protocol``, ``top_n`` and ``return_documents``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from ..options import ConnectionOptions
from ..results import Usage
from .engine import DashScopeReranker

__all__ = ["RerankOptions"]


class RerankOptions(ConnectionOptions):
    """``ConnectionOptions`` plus what shapes a ranking.

    Attributes:
        protocol: ``"dashscope"`` (native, default) or ``"openai"`` (the compatible rerank endpoint; qwen3-rerank).
        top_n: results to keep after the merge (default 3, as LlamaIndex's and LangChain's rerankers; ``None``:
            every document, reordered).
        return_documents: ask the service to echo each document's text (the adapters hold the text anyway).
        instruct: task instruction sent with every rerank request (models whose spec has ``instruct``).
        oversize: a document over the model's tokens per document: ``"truncate"`` (default; the service cuts it)
            or ``"error"`` (refused before any request).
    """

    protocol: Literal["dashscope", "openai"] | None = Field(
        default=None, description="'dashscope' (native, default) or 'openai' (compatible rerank endpoint)."
    )
    top_n: int | None = Field(default=3, ge=1, description="Results to keep (None: all, reordered).")
    return_documents: bool = Field(default=False, description="Ask the service to echo each document's text.")
    oversize: Literal["truncate", "error"] = Field(
        default="truncate",
        description="Documents over the model's token limit: truncated by the service, or refused.",
    )

    if TYPE_CHECKING:  # set by each adapter class (a pydantic PrivateAttr); declared for type checkers only
        _engine: DashScopeReranker

    @property
    def reranker(self) -> DashScopeReranker:
        """The core ``DashScopeReranker`` doing the work."""
        return self._engine

    @property
    def usage(self) -> Usage:
        """Tokens (``total_tokens``) and requests billed by this object since it was built."""
        return self._engine.usage

    def build_reranker(self, model: str) -> DashScopeReranker:
        """The ``DashScopeReranker`` these fields describe for ``model`` (no connection is made).

        Raises:
            InvalidInputError: a retired or embedding model, ``instruct`` or ``protocol="openai"`` for a model
                without them, a region the model is not offered in.
        """
        return DashScopeReranker(
            model,
            protocol=self.protocol,
            top_n=self.top_n,
            return_documents=self.return_documents,
            **self.engine_kwargs(),
        )
