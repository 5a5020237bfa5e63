"""What the LlamaIndex classes share: batch size, usage events, and the shapes LlamaIndex's stores expect."""

from __future__ import annotations

from typing import Any

from llama_index.core.instrumentation import get_dispatcher

from dashscope_embed import EmbeddingResult, validate_texts
from dashscope_embed.base import BaseEmbedder

from .events import DashScopeEmbeddingUsageEvent

dispatcher = get_dispatcher("llama_index_dashscope_embed")

# The engine splits any framework batch into requests within the model's row limit (catalog ``max_rows``) and
# sends up to max_concurrency of them at once, but LlamaIndex's sync path hands over one framework batch at a
# time and waits for its slowest request before the next. 640 rows is 64 requests for a 10-row model: several
# rounds of 8 (or 16) concurrent slots, so that tail wait is paid rarely, while progress bars and instrumentation
# events still come every 640 rows.
DEFAULT_EMBED_BATCH_SIZE = 640


def framework_payload(model: Any, cls: type) -> dict[str, Any]:
    """``to_payload()`` as the LlamaIndex base of ``cls`` builds it: ``{"class_name", "model_name",
    "embed_batch_size"}``, never a key.

    ``BaseEmbedding.to_payload`` and ``BaseSparseEmbedding.to_payload`` arrived in llama-index-core 0.14.23 (older
    releases put ``to_dict()`` in their events); there the same keys are built here.
    """
    base = getattr(super(cls, model), "to_payload", None)
    if base is not None:
        return base()
    return {
        "class_name": model.class_name(),
        "model_name": model.model_name,
        "embed_batch_size": model.embed_batch_size,
    }


def emit_usage(engine: BaseEmbedder, result: EmbeddingResult, text_type: str, output_type: str) -> None:
    """Dispatch a ``DashScopeEmbeddingUsageEvent`` for one call."""
    dispatcher.event(
        DashScopeEmbeddingUsageEvent(
            model_name=engine.model,
            text_type=text_type,
            output_type=output_type,
            rows=len(result),
            total_tokens=result.usage.total_tokens,
            requests=result.usage.requests,
            request_ids=list(result.request_ids),
        )
    )


def sparse_pairs(result: EmbeddingResult) -> tuple[list[list[int]], list[list[float]]]:
    """``(indices, values)`` lists, the shape ``QdrantVectorStore``'s sparse functions return."""
    vectors = result.sparse or []
    return [list(v.indices) for v in vectors], [list(v.values) for v in vectors]


def reject_bare_string(texts: Any) -> None:
    """Raise ``InvalidInputError`` for a ``str``/``bytes`` where a list of texts belongs.

    LlamaIndex's batch methods iterate their argument, so a bare string would otherwise reach the engine as one
    "document" per character.
    """
    if isinstance(texts, (str, bytes)):
        validate_texts(texts)
