"""Engine options as pydantic fields, declared once for every framework adapter.

The adapters' configuration classes inherit these fields (LlamaIndex and LangChain models are both pydantic v2),
so defaults, bounds and descriptions cannot drift apart. Connection fields (key, base URL, region, workspace) stay
in each adapter, because each framework reads the environment its own way.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, Field

__all__ = ["EngineOptions"]


class EngineOptions(BaseModel):
    """Fields with the meaning of ``DashScopeEmbedder``'s arguments of the same names.

    Attributes:
        instruct: query-side task instruction (text-embedding-v4; qwen3-vl-embedding sends it with every request).
        max_concurrency: requests in flight at once per object (>= 1).
        max_retries: retries per request after the first attempt (429, 5xx, timeouts, connection errors; >= 0).
        timeout: seconds per HTTP request (> 0).
        oversize: texts over the model's token limit per row (8,192 for text-embedding-v3/v4): ``"chunk_average"``,
            ``"truncate"`` or ``"error"``.
        transport / async_transport: custom httpx transports (tests, proxies); never dumped or shown.
    """

    instruct: Optional[str] = Field(
        default=None, description="Task instruction sent with query-side calls (text-embedding-v4 only)."
    )
    max_concurrency: int = Field(default=8, ge=1, description="Requests in flight at once per object.")
    max_retries: int = Field(
        default=4,
        ge=0,
        description="Retries per request after the first attempt (429, 5xx, timeouts, connection errors).",
    )
    timeout: float = Field(default=60.0, gt=0, description="Seconds per HTTP request.")
    oversize: Literal["chunk_average", "truncate", "error"] = Field(
        default="chunk_average",
        description="Texts over the model's token limit per row: split and average, truncate, or raise.",
    )
    transport: Optional[Any] = Field(
        default=None, exclude=True, repr=False, description="Custom httpx.BaseTransport (tests, proxies)."
    )
    async_transport: Optional[Any] = Field(
        default=None, exclude=True, repr=False, description="Custom httpx.AsyncBaseTransport (tests, proxies)."
    )

    def engine_options(self) -> dict[str, Any]:
        """These fields as keyword arguments for ``DashScopeEmbedder`` / ``EmbeddingRouter``."""
        return {name: getattr(self, name) for name in EngineOptions.model_fields}
