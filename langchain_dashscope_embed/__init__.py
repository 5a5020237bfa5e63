"""LangChain adapters for DashScope embeddings.

::

    from langchain_dashscope_embed import DashScopeEmbeddings, DashScopeSparseEmbeddings

    embeddings = DashScopeEmbeddings(dimensions=512)                 # dense, text-embedding-v4
    hybrid = DashScopeEmbeddings(output_type="dense&sparse")         # dense + cached sparse, one request
    sparse = hybrid.sparse_model()                                    # langchain-qdrant SparseEmbeddings
    QdrantVectorStore.from_texts(texts, embedding=hybrid, sparse_embedding=sparse, location=":memory:",
                                 retrieval_mode=RetrievalMode.HYBRID)
"""

from .embeddings import DashScopeEmbeddings
from .rerank import DashScopeRerank
from .sparse import DashScopeMilvusSparseEmbedding, DashScopeSparseEmbeddings, SparseVector

__all__ = ["DashScopeEmbeddings", "DashScopeSparseEmbeddings", "DashScopeMilvusSparseEmbedding", "SparseVector", "DashScopeRerank"]
