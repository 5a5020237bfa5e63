"""dashscope-embed core: Alibaba Cloud Model Studio (DashScope) embeddings, framework-free.

The public surface::

    from dashscope_embed import DashScopeEmbedder
    with DashScopeEmbedder("text-embedding-v4", dimensions=256) as embedder:
        result = embedder.embed(["first document", "second document"])   # result.dense: (2, 256) float32
        query = embedder.embed_query("what is in the first document?")

    from dashscope_embed import DashScopeReranker
    with DashScopeReranker("qwen3-rerank") as reranker:                  # text rerank, the second stage
        ranking = reranker.rerank("what is in the first document?", documents, top_n=5)   # RerankResult

Adapters for LlamaIndex (``llama_index_dashscope_embed``) and LangChain (``langchain_dashscope_embed``) wrap
this engine; every DashScope-specific behaviour lives here. ``except DashScopeError`` catches every error the
three packages raise (the tree is drawn in ``dashscope_embed.errors``).
"""

from .catalog import (
    CATALOG,
    OUTPUT_TYPES,
    REGIONS,
    TEXT_TYPES,
    ModelSpec,
    UnknownModelWarning,
    get_model_spec,
    register_model,
)
from .engine import DashScopeEmbedder, validate_texts
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BatchJobError,
    BatchSizeError,
    BulkJobError,
    ContentInspectionError,
    DashScopeError,
    InvalidInputError,
    InvalidOptionsError,
    InvalidRequestError,
    LocalServiceError,
    MissingDependencyError,
    NoCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    SourceError,
    UploadError,
    UsageError,
)
from .multimodal import MultimodalEmbedder, MultimodalInput, MultimodalResult
from .ratelimit import RateLimiter
from .rerank import DashScopeReranker, RerankItem, RerankModelSpec, RerankResult
from .results import EmbeddingResult, SparseEmbedding, Usage
from .routing import EmbeddingRouter
from .settings import REGION_IDS, REGION_ROOTS, ConnectionSettings, normalize_base_url, workspace_root
from .uploads import Upload
from .version import __version__

__all__ = [
    "__version__",
    "DashScopeEmbedder",
    "DashScopeReranker",
    "RerankResult",
    "RerankItem",
    "RerankModelSpec",
    "EmbeddingRouter",
    "MultimodalEmbedder",
    "MultimodalInput",
    "MultimodalResult",
    "EmbeddingResult",
    "SparseEmbedding",
    "Usage",
    "ModelSpec",
    "CATALOG",
    "get_model_spec",
    "register_model",
    "UnknownModelWarning",
    "Upload",
    "UploadError",
    "TEXT_TYPES",
    "OUTPUT_TYPES",
    "REGIONS",
    "REGION_ROOTS",
    "REGION_IDS",
    "ConnectionSettings",
    "normalize_base_url",
    "workspace_root",
    "RateLimiter",
    "validate_texts",
    "DashScopeError",
    "InvalidInputError",
    "APIError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "InvalidRequestError",
    "BatchSizeError",
    "ContentInspectionError",
    "RateLimitError",
    "ServerError",
    "APITimeoutError",
    "APIConnectionError",
    "ResponseFormatError",
    "InvalidOptionsError",
    "SourceError",
    "UsageError",
    "NoCredentialsError",
    "MissingDependencyError",
    "BulkJobError",
    "BatchJobError",
    "LocalServiceError",
]
