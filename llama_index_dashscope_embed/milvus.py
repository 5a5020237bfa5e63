"""A Milvus sparse-embedding function backed by ``DashScopeSparseEmbedding``.

``MilvusVectorStore(enable_sparse=True, sparse_embedding_function=...)`` calls ``encode_documents([node.text])``
once per node and ``encode_queries([query])`` per search (llama-index-vector-stores-milvus); the sparse cache makes
the per-node calls free when a ``"dense&sparse"`` dense model embedded the same texts first.
"""

from __future__ import annotations

from typing import Any

from dashscope_embed.optional import register_virtual_subclass

__all__ = ["DashScopeMilvusSparseFunction"]

# llama-index-vector-stores-milvus imports pymilvus (seconds): its interface is registered when the first instance is
# made, not subclassed here (see dashscope_embed.optional).
_INTERFACE = ("llama_index.vector_stores.milvus.utils", "BaseSparseEmbeddingFunction")


class DashScopeMilvusSparseFunction:
    """Milvus's sparse-embedding-function interface over a ``DashScopeSparseEmbedding``.

    Every method returns ``{token_id: weight}`` dicts, one per input, in input order. An instance of
    ``llama_index.vector_stores.milvus.utils.BaseSparseEmbeddingFunction`` when that package is installed (the
    first instance registers the class, importing it then), a plain object with the same methods otherwise.

    Raises:
        InvalidInputError: empty or non-string texts. APIError: a request failed after its retries.
    """

    def __init__(self, model: Any) -> None:
        # ``model`` is a DashScopeSparseEmbedding; typed loosely so this module does not import sparse.py (which
        # imports this one lazily), keeping the package free of import cycles.
        register_virtual_subclass(DashScopeMilvusSparseFunction, *_INTERFACE)
        self.model = model

    def encode_queries(self, queries: list[str]) -> list[dict[int, float]]:
        """Sparse vectors of queries (``text_type="query"``)."""
        return [v.as_dict() for v in self.model._sparse(queries, "query").sparse or []]

    def encode_documents(self, documents: list[str]) -> list[dict[int, float]]:
        """Sparse vectors of documents (``text_type="document"``)."""
        return [v.as_dict() for v in self.model._sparse(documents, "document").sparse or []]

    async def async_encode_queries(self, queries: list[str]) -> list[dict[int, float]]:
        """Async ``encode_queries``."""
        return [v.as_dict() for v in (await self.model._asparse(queries, "query")).sparse or []]

    async def async_encode_documents(self, documents: list[str]) -> list[dict[int, float]]:
        """Async ``encode_documents``."""
        return [v.as_dict() for v in (await self.model._asparse(documents, "document")).sparse or []]


# Free when the caller imported the store's package first: issubclass() then holds before any instance exists.
register_virtual_subclass(DashScopeMilvusSparseFunction, *_INTERFACE, import_module=False)
