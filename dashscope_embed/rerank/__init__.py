"""Text rerank: the second stage of a retrieval pipeline, over the same connection, retries and errors.

::

    from dashscope_embed import DashScopeReranker
    with DashScopeReranker("qwen3-rerank") as reranker:
        result = reranker.rerank("how do I read a file?", documents, top_n=5)
        for item in result:                       # RerankItem(index, relevance_score, document)
            print(item.index, item.relevance_score)
"""

from .catalog import (
    DEFAULT_RERANK_MODEL,
    RERANK_CATALOG,
    RETIRED_RERANK_MODELS,
    RerankModelSpec,
    format_rerank_catalog,
    get_rerank_spec,
    rerank_records,
)
from .engine import DashScopeReranker, validate_documents
from .planning import request_tokens
from .results import RerankItem, RerankResult

__all__ = [
    "DashScopeReranker",
    "RerankItem",
    "RerankResult",
    "RerankModelSpec",
    "RERANK_CATALOG",
    "RETIRED_RERANK_MODELS",
    "DEFAULT_RERANK_MODEL",
    "get_rerank_spec",
    "rerank_records",
    "format_rerank_catalog",
    "request_tokens",
    "validate_documents",
]
