"""``DashScopeEmbeddings``: DashScope text embeddings as a LangChain ``Embeddings``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Optional

from langchain_core.embeddings import Embeddings
from pydantic import Field, PrivateAttr, model_validator
from typing_extensions import Self

from dashscope_embed import DashScopeEmbedder, EmbeddingResult
from dashscope_embed.hybrid import HybridEmbedder

from ._common import ConnectionFields

if TYPE_CHECKING:
    from .sparse import DashScopeSparseEmbeddings

__all__ = ["DashScopeEmbeddings"]


class DashScopeEmbeddings(ConnectionFields, Embeddings):
    """Dense text embeddings from Alibaba Cloud Model Studio (DashScope) for LangChain.

    ``embed_query``/``aembed_query`` send ``parameters.text_type="query"`` (+ ``instruct`` when set);
    ``embed_documents``/``aembed_documents`` send ``"document"``. Any number of texts becomes as few requests as
    the model's row limit allows (10 for text-embedding-v3/v4, 25 for v1/v2), up to ``max_concurrency`` in flight at
    once; the async methods are natively async. Each request is retried on its own.

    Args:
        model: DashScope model id (default ``"text-embedding-v4"``).
        dimensions: output dimension ``d`` (``None``: the model's default, 1024 for v3/v4); checked at construction.
        api_key: ``SecretStr`` or ``str`` (field ``dashscope_api_key``); default ``DASHSCOPE_API_KEY``. Excluded
            from ``model_dump``, hidden in repr. May be omitted for a loopback ``base_url`` (the local service).
        base_url / region / workspace: where to send requests; defaults ``DASHSCOPE_BASE_URL`` (or
            ``DASHSCOPE_HTTP_BASE_URL``), ``DASHSCOPE_REGION``, ``DASHSCOPE_WORKSPACE``.
        protocol: ``"dashscope"`` (native, default) or ``"openai"`` (compatible mode: dense only, no text_type or
            instruct).
        instruct: query-side task instruction (text-embedding-v4).
        output_type: ``"dense"`` (default) or ``"dense&sparse"``: every call also fetches sparse vectors into the
            shared sparse cache, where ``DashScopeSparseEmbeddings`` finds them (hybrid search at one request per
            batch).
        max_concurrency, max_retries, timeout (seconds), oversize: see ``dashscope_embed.DashScopeEmbedder``.

    Attributes:
        usage: ``Usage(total_tokens, requests)`` billed by this object since it was built.

    Raises:
        pydantic.ValidationError: (construction) unknown model, disallowed dimension, or a parameter the model or
            protocol does not accept (the message names it). InvalidInputError: (calls) empty or non-string texts.
        APIError: a request failed after its retries.
    """

    dimensions: Optional[int] = Field(default=None, description="Output dimension (None: the model's default).")
    protocol: Optional[Literal["dashscope", "openai"]] = Field(
        default=None, description="'dashscope' (native, default) or 'openai' (compatible mode, dense only)."
    )
    output_type: Literal["dense", "dense&sparse"] = Field(
        default="dense", description="'dense&sparse' also fetches sparse vectors (same request) for hybrid search."
    )

    _engine: DashScopeEmbedder = PrivateAttr()
    _hybrid: Optional[HybridEmbedder] = PrivateAttr(default=None)

    @model_validator(mode="after")
    def validate_environment(self) -> Self:
        """Build the engine from the configuration; no network call."""
        self._engine = DashScopeEmbedder(
            self.model, dimensions=self.dimensions, protocol=self.protocol, **self._engine_kwargs()
        )
        self._hybrid = HybridEmbedder(self._engine) if self.output_type == "dense&sparse" else None
        return self

    def _embed(self, texts: list[str], text_type: Literal["query", "document"]) -> EmbeddingResult:
        if self._hybrid is not None:
            return self._hybrid.dense(texts, text_type=text_type)
        return self._engine.embed(texts, text_type=text_type)

    async def _aembed(self, texts: list[str], text_type: Literal["query", "document"]) -> EmbeddingResult:
        if self._hybrid is not None:
            return await self._hybrid.adense(texts, text_type=text_type)
        return await self._engine.aembed(texts, text_type=text_type)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Document vectors: ``len(texts)`` lists of ``d`` floats, in input order (``text_type="document"``).

        Raises:
            InvalidInputError: ``texts`` is a bare string, or some text is empty or not a string (positions named).
            APIError: a request failed after its retries.
        """
        return self._embed(texts, "document").dense_lists()

    def embed_query(self, text: str) -> list[float]:
        """One query vector, ``d`` floats (``text_type="query"``, + ``instruct``).

        Raises:
            InvalidInputError: the text is empty or not a string. APIError: the request failed.
        """
        return self._embed([text], "query").dense_lists()[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async ``embed_documents`` (native: requests share a per-event-loop concurrency bound)."""
        return (await self._aembed(texts, "document")).dense_lists()

    async def aembed_query(self, text: str) -> list[float]:
        """Async ``embed_query``."""
        return (await self._aembed([text], "query")).dense_lists()[0]

    def sparse_embeddings(self, **overrides: Any) -> "DashScopeSparseEmbeddings":
        """A ``DashScopeSparseEmbeddings`` with this object's model, key and service, sharing the sparse cache."""
        from .sparse import DashScopeSparseEmbeddings

        fields = self._connection_fields()
        fields.update(overrides)
        return DashScopeSparseEmbeddings(**fields)
