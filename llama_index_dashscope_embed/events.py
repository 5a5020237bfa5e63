"""An instrumentation event that carries what DashScope billed for each embedding call.

LlamaIndex's own ``EmbeddingEndEvent`` has only ``chunks`` and ``embeddings`` fields, and the ``CBEventType.EMBEDDING``
callback payload is assembled by ``BaseEmbedding`` itself (``CHUNKS`` and ``EMBEDDINGS`` only), so neither can hold the
service's token count without patching the framework. Instead, the adapters dispatch this event (a ``BaseEvent``,
the instrumentation module's extension point) on their own dispatcher, inside the framework's embedding span, so
any event handler attached to the root dispatcher sees it next to ``EmbeddingEndEvent``.
"""

from __future__ import annotations

from llama_index.core.bridge.pydantic import ConfigDict, Field
from llama_index.core.instrumentation.events.base import BaseEvent

__all__ = ["DashScopeEmbeddingUsageEvent"]


class DashScopeEmbeddingUsageEvent(BaseEvent):
    """Billing facts of one adapter call (one framework batch, query or sparse lookup).

    Attributes:
        model_name: the DashScope model that produced the vectors.
        text_type: ``"query"`` or ``"document"``, as sent in ``parameters.text_type`` (text models); for multimodal
            models, which take no text_type, the kind of input: ``"text"``, ``"image"`` or ``"video"``.
        output_type: ``"dense"``, ``"sparse"`` or ``"dense&sparse"``.
        rows: inputs (texts, images or videos) in the call.
        total_tokens: tokens billed, the sum of the replies' ``usage.total_tokens`` (0 when served from a cache).
        requests: HTTP requests that succeeded for this call (0 when served from a cache).
        request_ids: the service's ``request_id`` of each of those requests, for support tickets.
    """

    model_config = ConfigDict(protected_namespaces=())
    model_name: str
    text_type: str
    output_type: str
    rows: int
    total_tokens: int
    requests: int
    request_ids: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        """Class name."""
        return "DashScopeEmbeddingUsageEvent"
