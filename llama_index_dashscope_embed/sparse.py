"""``DashScopeSparseEmbedding``: DashScope sparse vectors for LlamaIndex, plus ready-made vector-store functions."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from llama_index.core.base.embeddings.base_sparse import BaseSparseEmbedding, SparseEmbedding
from llama_index.core.bridge.pydantic import BaseModel, Field, PrivateAttr, model_validator

from dashscope_embed import DashScopeEmbedder, EmbeddingResult
from dashscope_embed.hybrid import HybridEmbedder
from dashscope_embed.options import SparseOptions, picklable_state
from dashscope_embed.routing import sparse_embedder

from ._common import DEFAULT_EMBED_BATCH_SIZE, emit_usage, framework_payload, reject_bare_string, sparse_pairs
from .milvus import DashScopeMilvusSparseFunction

__all__ = ["DashScopeSparseEmbedding"]

TextType = Literal["query", "document"]


def _only(result: EmbeddingResult) -> SparseEmbedding:
    """The one ``{token_id: weight}`` of a one-text call (a sparse call's result always holds its vectors)."""
    (vector,) = result.sparse or []
    return vector.as_dict()


class _DenseModel(Protocol):
    """What ``from_dense`` reads of a ``DashScopeEmbedding`` (whose module imports this one)."""

    model_name: str

    def connection_fields(self) -> dict[str, Any]: ...


class DashScopeSparseEmbedding(SparseOptions, BaseSparseEmbedding):
    """Sparse (lexical) vectors from the models with sparse output (catalog ``sparse``) as ``{token_id: weight}`` dicts
    for LlamaIndex.

    Token ids are Qwen tokenizer ids; weights are the service's non-negative floats. Vectors a
    ``DashScopeEmbedding(output_type="dense&sparse")`` with the same model and service already fetched come from the
    shared sparse cache (``dashscope_embed.hybrid``) without a request; only the rest are sent, with
    ``output_type="sparse"``. Query-side calls send ``text_type="query"`` (+ ``instruct``), document-side calls
    ``"document"``.

    For ``QdrantVectorStore(enable_hybrid=True, ...)`` pass ``sparse_doc_fn=model.sparse_doc_fn`` and
    ``sparse_query_fn=model.sparse_query_fn``; for Milvus, ``model.milvus_function()``.

    Args:
        model_name: a model with sparse output (default ``"text-embedding-v4"``).
        api_key, base_url, region, workspace, instruct, max_concurrency, max_retries, timeout, oversize,
            requests_per_minute, tokens_per_minute: as for ``DashScopeEmbedding`` (``ConnectionOptions``). There
            is no ``dimensions`` (it shapes dense vectors only) and no ``protocol`` (the compatible mode has no
            sparse output).
        embed_batch_size: texts per framework batch (default 640).

    Attributes:
        usage: ``Usage(total_tokens, requests)`` this object's own requests were billed (cache hits cost nothing).

    Raises:
        pydantic.ValidationError: (construction) a model without sparse output, or an unknown argument.
        InvalidInputError: (calls) a bare string, empty or non-string texts.
        APIError: (calls) a request failed after its retries.
    """

    model_name: str = Field(default="text-embedding-v4", description="DashScope model id with sparse output.")
    embed_batch_size: int = Field(default=DEFAULT_EMBED_BATCH_SIZE, gt=0, le=2048)

    _engine: DashScopeEmbedder = PrivateAttr()
    _hybrid: HybridEmbedder = PrivateAttr()

    @model_validator(mode="after")
    def _build_engine(self) -> DashScopeSparseEmbedding:
        self._hybrid = sparse_embedder(self.model_name, **self.engine_kwargs())
        self._engine = self._hybrid.engine
        return self

    @classmethod
    def class_name(cls) -> str:
        """Class name."""
        return "DashScopeSparseEmbedding"

    def to_payload(self) -> dict[str, Any]:
        """What instrumentation shows about this model: ``{"class_name", "model_name", "embed_batch_size"}``, no key;
        on every supported llama-index-core (the framework's own ``to_payload`` arrived in 0.14.23)."""
        return framework_payload(self, DashScopeSparseEmbedding)

    @classmethod
    def from_dense(cls, dense: _DenseModel, **overrides: Any) -> DashScopeSparseEmbedding:
        """The sparse twin of a dense model (a ``DashScopeEmbedding``): same model, key, service and options.

        Raises:
            pydantic.ValidationError: the dense model's model has no sparse output, or an unknown override.
        """
        fields = dict(dense.connection_fields(), model_name=dense.model_name)
        fields.update(overrides)
        return cls(**fields)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        return picklable_state(BaseModel.__getstate__(self))

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Re-run validation so the engine (and its clients) are rebuilt in the new process.
        self.__init__(**state["__dict__"])  # type: ignore[misc]  # validated again on unpickling: rebuilds the engine and its clients

    # ------------------------------------------------------------------ calls

    def get_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[SparseEmbedding]:
        """Sparse vectors of ``texts`` in framework batches of ``embed_batch_size``.

        Raises:
            InvalidInputError: ``texts`` is a bare string (the framework would embed each character) or holds
                empty or non-string items.
        """
        reject_bare_string(texts)
        return super().get_text_embedding_batch(texts, show_progress, **kwargs)

    async def aget_text_embedding_batch(self, texts: list[str], show_progress: bool = False) -> list[SparseEmbedding]:
        """Async ``get_text_embedding_batch``."""
        reject_bare_string(texts)
        return await super().aget_text_embedding_batch(texts, show_progress)

    def _sparse(self, texts: list[str], text_type: TextType) -> EmbeddingResult:
        result = self._hybrid.sparse(texts, text_type=text_type)
        emit_usage(self._engine, result, text_type, "sparse")
        return result

    async def _asparse(self, texts: list[str], text_type: TextType) -> EmbeddingResult:
        result = await self._hybrid.asparse(texts, text_type=text_type)
        emit_usage(self._engine, result, text_type, "sparse")
        return result

    def _get_query_embedding(self, query: str) -> SparseEmbedding:
        """``{token_id: weight}`` of one query (``text_type="query"``)."""
        return _only(self._sparse([query], "query"))

    async def _aget_query_embedding(self, query: str) -> SparseEmbedding:
        """Async ``_get_query_embedding``."""
        return _only(await self._asparse([query], "query"))

    def _get_text_embedding(self, text: str) -> SparseEmbedding:
        """``{token_id: weight}`` of one document (``text_type="document"``)."""
        return _only(self._sparse([text], "document"))

    async def _aget_text_embedding(self, text: str) -> SparseEmbedding:
        """Async ``_get_text_embedding``."""
        return _only(await self._asparse([text], "document"))

    def _get_text_embeddings(self, texts: list[str]) -> list[SparseEmbedding]:
        """``{token_id: weight}`` of each document, in input order, in as few requests as the row limit allows."""
        return [v.as_dict() for v in self._sparse(texts, "document").sparse or []]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[SparseEmbedding]:
        """Async ``_get_text_embeddings``."""
        return [v.as_dict() for v in (await self._asparse(texts, "document")).sparse or []]

    # ------------------------------------------------------------------ vector-store functions

    def sparse_doc_fn(self, texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
        """``QdrantVectorStore(sparse_doc_fn=...)``: ``(indices, values)``, one pair of lists per document.

        Called synchronously by Qdrant (also from its async paths) with the nodes' embed-mode content, the same
        strings the dense model embedded, so a ``"dense&sparse"`` dense model's batches are read from the cache.
        """
        return sparse_pairs(self._sparse(texts, "document"))

    def sparse_query_fn(self, texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
        """``QdrantVectorStore(sparse_query_fn=...)``: ``(indices, values)`` for each query (``text_type="query"``)."""
        return sparse_pairs(self._sparse(texts, "query"))

    def milvus_function(self) -> DashScopeMilvusSparseFunction:
        """A Milvus ``BaseSparseEmbeddingFunction`` (``encode_queries``/``encode_documents``) backed by this model.

        It is an instance of ``llama_index.vector_stores.milvus.utils.BaseSparseEmbeddingFunction`` when that
        package is installed (which is imported now, not with this package) and a plain object with the same methods
        otherwise.
        """
        return DashScopeMilvusSparseFunction(self)
