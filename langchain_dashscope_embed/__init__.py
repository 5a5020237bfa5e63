"""LangChain adapters for DashScope embeddings.

::

    from langchain_dashscope_embed import DashScopeEmbeddings, DashScopeSparseEmbeddings

    embeddings = DashScopeEmbeddings(dimensions=512)                 # dense, text-embedding-v4
    hybrid = DashScopeEmbeddings(output_type="dense&sparse")         # dense + cached sparse, one request
    sparse = hybrid.sparse_model()                                    # langchain-qdrant SparseEmbeddings
    QdrantVectorStore.from_texts(texts, embedding=hybrid, sparse_embedding=sparse, location=":memory:",
                                 retrieval_mode=RetrievalMode.HYBRID)
"""

from typing import TYPE_CHECKING, Any

from .embeddings import DashScopeEmbeddings
from .rerank import DashScopeRerank
from .sparse import DashScopeMilvusSparseEmbedding, DashScopeSparseEmbeddings

if TYPE_CHECKING:
    from .sparse import SparseVector

__all__ = [
    "DashScopeEmbeddings",
    "DashScopeSparseEmbeddings",
    "DashScopeMilvusSparseEmbedding",
    "SparseVector",
    "DashScopeRerank",
]


def __getattr__(name: str) -> Any:
    # PEP 562: ``SparseVector`` is langchain-qdrant's class when installed; importing it imports qdrant-client, so
    # it is resolved on first access (see dashscope_embed.optional), not with this package.
    if name == "SparseVector":
        from . import sparse

        return sparse.SparseVector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
