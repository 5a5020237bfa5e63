"""Configuration fields shared by the LlamaIndex classes, and the mapping of those fields onto the core engine."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from llama_index.core.bridge.pydantic import Field, SecretStr
from llama_index.core.instrumentation import get_dispatcher

from dashscope_embed import DashScopeEmbedder, EmbeddingResult, MultimodalEmbedder, validate_texts
from dashscope_embed.options import EngineOptions

from .events import DashScopeEmbeddingUsageEvent

dispatcher = get_dispatcher("llama_index_dashscope_embed")

# The API takes at most 10 texts per request for text-embedding-v3/v4 (25 for v1/v2; catalog.py). The engine splits
# any framework batch into requests of that size and sends up to max_concurrency of them at once, but LlamaIndex's
# sync path hands over one framework batch at a time, so a framework batch of 10 would never have more than one
# request in flight, and every framework batch ends with a wait for its slowest request. 640 rows is 64 requests for
# v3/v4: several rounds of the default 8 (or 16) concurrent slots, so the tail wait is paid rarely (measured in
# benchmarks/: at 100 rows the sync adapter reached about 0.65 of the core's throughput at 16 slots), while
# progress bars and instrumentation events still come every 640 rows.
DEFAULT_EMBED_BATCH_SIZE = 640


class ConnectionFields(EngineOptions):
    """Where and how to reach DashScope; the same names and meaning as ``dashscope_embed.DashScopeEmbedder``."""

    api_key: Optional[SecretStr] = Field(
        default=None,
        exclude=True,
        description="DashScope API key (default: DASHSCOPE_API_KEY). Never serialised, shown or logged.",
    )
    base_url: Optional[str] = Field(
        default=None,
        description="Host root, '.../api/v1' or '.../compatible-mode/v1' (default: DASHSCOPE_BASE_URL, else region).",
    )
    region: Optional[str] = Field(
        default=None, description="'beijing' (default), 'singapore' or 'hongkong' (default: DASHSCOPE_REGION)."
    )
    workspace: Optional[str] = Field(
        default=None,
        description="Model Studio workspace id, sent as X-DashScope-WorkSpace (default: DASHSCOPE_WORKSPACE).",
    )

    def _fill_key_from_env(self) -> None:
        # Held in the field (excluded from every dump) so the key in use survives pickling into worker processes.
        if self.api_key is None:
            value = os.environ.get("DASHSCOPE_API_KEY")
            if value:
                self.api_key = SecretStr(value)

    def _engine_kwargs(self) -> Dict[str, Any]:
        return dict(
            api_key=self.api_key,
            base_url=self.base_url,
            region=self.region,
            workspace=self.workspace,
            **self.engine_options(),
        )


# Fields rebuilt from the configuration when a pickled object is restored, so never pickled themselves.
UNPICKLED_PRIVATE = ("_engine", "_hybrid", "_router")


def drop_unpicklable(state: Dict[str, Any]) -> Dict[str, Any]:
    """Remove the engine and transports from a pickled state: ``__init__`` rebuilds them on unpickling."""
    state = dict(state)
    fields = dict(state.get("__dict__", {}))
    fields.pop("transport", None)
    fields.pop("async_transport", None)
    state["__dict__"] = fields
    private = state.get("__pydantic_private__")
    if private:
        state["__pydantic_private__"] = {k: v for k, v in private.items() if k not in UNPICKLED_PRIVATE}
    return state


def emit_usage(
    engine: DashScopeEmbedder | MultimodalEmbedder, result: EmbeddingResult, text_type: str, output_type: str
) -> None:
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


def sparse_pairs(result: EmbeddingResult) -> tuple[List[List[int]], List[List[float]]]:
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
