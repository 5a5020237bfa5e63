"""``DashScopeSparseEmbeddings``: DashScope sparse vectors for LangChain vector stores (Qdrant, Milvus)."""

from __future__ import annotations

import warnings
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, PrivateAttr, model_validator
from typing_extensions import Self

from dashscope_embed import DashScopeEmbedder, EmbeddingResult
from dashscope_embed.hybrid import HybridEmbedder
from dashscope_embed.optional import optional_attr, register_virtual_subclass
from dashscope_embed.options import SparseOptions
from dashscope_embed.routing import sparse_embedder

from ._common import ConnectionFields

if TYPE_CHECKING:
    from langchain_qdrant import SparseVector

# langchain-qdrant and langchain-milvus import their store clients (seconds): their interfaces are registered when
# the first instance is made, not subclassed here (see dashscope_embed.optional).
_QDRANT_INTERFACE = ("langchain_qdrant", "SparseEmbeddings")
_MILVUS_INTERFACE = ("langchain_milvus.utils.sparse", "BaseSparseEmbedding")


class _LocalSparseVector(BaseModel, extra="forbid"):
    """A sparse vector: unique ``indices`` (token ids) and their ``values`` (weights), same length."""

    indices: list[int]
    values: list[float]


# Pickles and prints under its public name, which module ``__getattr__`` resolves to it when langchain-qdrant is absent.
_LocalSparseVector.__name__ = _LocalSparseVector.__qualname__ = "SparseVector"


@cache
def _sparse_vector_type() -> type:
    return optional_attr("langchain_qdrant", "SparseVector") or _LocalSparseVector


def __getattr__(name: str) -> Any:
    # PEP 562: ``SparseVector`` is langchain-qdrant's class when it is installed, imported on first access.
    if name == "SparseVector":
        return _sparse_vector_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DashScopeSparseEmbeddings", "DashScopeMilvusSparseEmbedding", "SparseVector"]


def _vectors(result: EmbeddingResult) -> list[SparseVector]:
    vector = _sparse_vector_type()
    return [vector(indices=list(v.indices), values=list(v.values)) for v in result.sparse or []]


def _dicts(result: EmbeddingResult) -> list[dict[int, float]]:
    return [v.as_dict() for v in result.sparse or []]


class DashScopeSparseEmbeddings(ConnectionFields, SparseOptions):
    """Sparse (lexical) vectors from the models with sparse output (catalog ``sparse``) for LangChain.

    A langchain-qdrant ``SparseEmbeddings`` (``embed_documents -> list[SparseVector]``,
    ``embed_query -> SparseVector``), e.g. ``QdrantVectorStore(retrieval_mode=RetrievalMode.HYBRID,
    sparse_embedding=DashScopeSparseEmbeddings())``; the ``*_as_dicts``/``*_as_dict`` methods and
    ``milvus_function()`` give the
    ``{token_id: weight}`` form Milvus uses. Token ids are Qwen tokenizer ids, weights non-negative floats.

    Vectors that a ``DashScopeEmbeddings(output_type="dense&sparse")`` with the same model and service already fetched
    come from the shared sparse cache with no request; the rest are sent with ``output_type="sparse"``. Query calls
    send ``text_type="query"`` (+ ``instruct``), document calls ``"document"``.

    Args:
        model: a model with sparse output (default ``"text-embedding-v4"``).
        api_key, base_url, region, workspace, instruct, max_concurrency, max_retries, timeout, oversize,
            requests_per_minute, tokens_per_minute: as for ``DashScopeEmbeddings`` (``ConnectionOptions``). No
            ``dimensions`` (dense only) and no ``protocol`` (the compatible mode has no sparse output).

    Attributes:
        usage: ``Usage(total_tokens, requests)`` this object's own requests were billed (cache hits cost nothing).

    Raises:
        pydantic.ValidationError: (construction) a model without sparse output, or an unknown argument.
            InvalidInputError: (calls) empty or
            non-string texts. APIError: a request failed after its retries.
    """

    _engine: DashScopeEmbedder = PrivateAttr()
    _hybrid: HybridEmbedder = PrivateAttr()

    @model_validator(mode="after")
    def validate_environment(self) -> Self:
        """Build the engine from the configuration; no network call.

        The first instance registers the class as langchain-qdrant's ``SparseEmbeddings`` when that is installed
        (importing it then, not with this package).
        """
        register_virtual_subclass(DashScopeSparseEmbeddings, *_QDRANT_INTERFACE)
        self._hybrid = sparse_embedder(self.model, **self.engine_kwargs())
        self._engine = self._hybrid.engine
        return self

    # ------------------------------------------------------------------ langchain-qdrant SparseEmbeddings

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        """One ``SparseVector(indices, values)`` per document, in input order (``text_type="document"``)."""
        return _vectors(self._hybrid.sparse(texts, text_type="document"))

    def embed_query(self, text: str) -> SparseVector:
        """The ``SparseVector`` of one query (``text_type="query"``)."""
        return _vectors(self._hybrid.sparse([text], text_type="query"))[0]

    async def aembed_documents(self, texts: list[str]) -> list[SparseVector]:
        """Async ``embed_documents`` (native)."""
        return _vectors(await self._hybrid.asparse(texts, text_type="document"))

    async def aembed_query(self, text: str) -> SparseVector:
        """Async ``embed_query`` (native)."""
        return _vectors(await self._hybrid.asparse([text], text_type="query"))[0]

    # ------------------------------------------------------------------ {token_id: weight} form (Milvus)

    def embed_documents_as_dicts(self, texts: list[str]) -> list[dict[int, float]]:
        """``{token_id: weight}`` per document, in input order."""
        return _dicts(self._hybrid.sparse(texts, text_type="document"))

    def embed_query_as_dict(self, text: str) -> dict[int, float]:
        """``{token_id: weight}`` of one query."""
        return _dicts(self._hybrid.sparse([text], text_type="query"))[0]

    async def aembed_documents_as_dicts(self, texts: list[str]) -> list[dict[int, float]]:
        """Async ``embed_documents_as_dicts``."""
        return _dicts(await self._hybrid.asparse(texts, text_type="document"))

    async def aembed_query_as_dict(self, text: str) -> dict[int, float]:
        """Async ``embed_query_as_dict``."""
        return _dicts(await self._hybrid.asparse([text], text_type="query"))[0]

    def milvus_function(self) -> DashScopeMilvusSparseEmbedding:
        """This model behind langchain-milvus's ``BaseSparseEmbedding`` interface (dict vectors)."""
        return DashScopeMilvusSparseEmbedding(self)

    def milvus(self) -> DashScopeMilvusSparseEmbedding:
        """Deprecated name of ``milvus_function`` (the same in both frameworks' adapters)."""
        warnings.warn("milvus() is now milvus_function()", DeprecationWarning, stacklevel=2)
        return self.milvus_function()


class DashScopeMilvusSparseEmbedding:
    """langchain-milvus ``BaseSparseEmbedding`` over a ``DashScopeSparseEmbeddings``: ``{token_id: weight}`` dicts.

    An instance of ``langchain_milvus.utils.sparse.BaseSparseEmbedding`` when langchain-milvus is installed (the
    first instance registers the class, importing langchain-milvus then) and a plain object with the same methods
    otherwise.
    """

    def __init__(self, model: DashScopeSparseEmbeddings) -> None:
        register_virtual_subclass(DashScopeMilvusSparseEmbedding, *_MILVUS_INTERFACE)
        self.model = model

    def embed_query(self, query: str) -> dict[int, float]:
        """``{token_id: weight}`` of one query (``text_type="query"``)."""
        return self.model.embed_query_as_dict(query)

    def embed_documents(self, texts: list[str]) -> list[dict[int, float]]:
        """``{token_id: weight}`` per document (``text_type="document"``)."""
        return self.model.embed_documents_as_dicts(texts)

    async def aembed_query(self, query: str) -> dict[int, float]:
        """Async ``embed_query``."""
        return await self.model.aembed_query_as_dict(query)

    async def aembed_documents(self, texts: list[str]) -> list[dict[int, float]]:
        """Async ``embed_documents``."""
        return await self.model.aembed_documents_as_dicts(texts)

    def __repr__(self) -> str:
        return f"DashScopeMilvusSparseEmbedding(model={self.model!r})"


# Free when the caller imported the store's package first: issubclass() then holds before any instance exists.
register_virtual_subclass(DashScopeSparseEmbeddings, *_QDRANT_INTERFACE, import_module=False)
register_virtual_subclass(DashScopeMilvusSparseEmbedding, *_MILVUS_INTERFACE, import_module=False)
