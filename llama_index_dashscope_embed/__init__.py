"""LlamaIndex adapters for DashScope embeddings.

::

    from llama_index_dashscope_embed import DashScopeEmbedding, DashScopeSparseEmbedding

    embed_model = DashScopeEmbedding(dimensions=512)                        # dense, text-embedding-v4
    hybrid = DashScopeEmbedding(output_type="dense&sparse")                 # dense + cached sparse, one request
    sparse = hybrid.sparse_model()                                          # reads the cache; Qdrant functions
    QdrantVectorStore(client=..., collection_name="docs", enable_hybrid=True,
                      sparse_doc_fn=sparse.sparse_doc_fn, sparse_query_fn=sparse.sparse_query_fn)
"""

from .base import DashScopeEmbedding
from .events import DashScopeEmbeddingUsageEvent
from .milvus import DashScopeMilvusSparseFunction
from .rerank import DashScopeRerank
from .sparse import DashScopeSparseEmbedding

__all__ = [
    "DashScopeEmbedding",
    "DashScopeSparseEmbedding",
    "DashScopeEmbeddingUsageEvent",
    "DashScopeMilvusSparseFunction",
    "DashScopeRerank",
]
