"""Which engine a model needs, and where each kind of call goes: the one entry point the framework adapters use.

A text model (text-embedding-v1..v4) is served by ``DashScopeEmbedder``; with ``output_type="dense&sparse"`` its
calls go through a ``HybridEmbedder`` so the sparse halves land in the shared sparse cache. A multimodal model is
served by ``MultimodalEmbedder``: texts go to the multimodal endpoint (same vector space as images and videos,
no ``text_type``). Keeping this decision here means both frameworks behave alike by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from .catalog import CATALOG, guess_kind
from .engine import DashScopeEmbedder, OversizePolicy
from .errors import InvalidInputError
from .hybrid import HybridEmbedder
from .multimodal import MultimodalEmbedder, MultimodalResult
from .pipelining import BatchStream
from .results import EmbeddingResult, Usage

__all__ = ["EmbeddingRouter", "is_multimodal_model", "sparse_embedder"]

TextType = Literal["query", "document"]


def is_multimodal_model(model: str) -> bool:
    """Whether ``model`` is multimodal: the catalog's kind, or for a model it does not know, what its id says
    (``catalog.guess_kind``: ``multimodal``, ``vision``, ``vl``, ``omni`` in the name)."""
    return isinstance(model, str) and guess_kind(model) == "multimodal"


def sparse_embedder(model: str, **options: Any) -> HybridEmbedder:
    """The sparse side of hybrid search for ``model``, as both frameworks' sparse classes use it.

    Sparse vectors exist only on the native protocol (the compatible mode returns dense vectors only), so the engine
    is always built with ``protocol="dashscope"``, whatever the base URL's spelling; the returned
    ``HybridEmbedder`` reads the process-wide sparse cache a ``"dense&sparse"`` dense model fills.

    Args:
        model: a text model whose catalog entry has ``sparse``.
        **options: ``DashScopeEmbedder`` keyword arguments (connection, instruct, concurrency, retries, pacing).

    Raises:
        InvalidInputError: a model without sparse output, or whatever ``DashScopeEmbedder`` refuses.
    """
    return HybridEmbedder(DashScopeEmbedder(model, protocol="dashscope", **options))


class EmbeddingRouter:
    """Dense vectors for texts, and for images and videos when the model is multimodal, from any catalog model.

    Args:
        model: catalog model id.
        dimensions: output dimension ``d`` (``None``: the model's default); checked before any request.
        protocol: ``"dashscope"`` or ``"openai"`` (text models only; the multimodal endpoint is native).
        output_type: ``"dense"`` or ``"dense&sparse"`` (text-embedding-v3/v4: every call also fills the shared
            sparse cache, so hybrid indexing costs one request per framework batch).
        oversize: the text engine's policy for texts over the token limit; multimodal models refuse such texts
            before sending them instead.
        **connection: ``api_key``, ``base_url``, ``region``, ``workspace``, ``instruct``, ``max_concurrency``,
            ``max_retries``, ``timeout`` (seconds), ``transport``, ``async_transport``.

    Raises:
        InvalidInputError: ``output_type="dense&sparse"`` with a multimodal model, and whatever the engines refuse
            (unknown model, disallowed dimension or parameter).
    """

    def __init__(
        self,
        model: str,
        *,
        dimensions: int | None = None,
        protocol: Literal["dashscope", "openai"] | None = None,
        output_type: Literal["dense", "dense&sparse"] = "dense",
        oversize: OversizePolicy = "chunk_average",
        **connection: Any,
    ) -> None:
        self.model = model
        self.output_type = output_type
        self.hybrid: HybridEmbedder | None = None
        self.engine: DashScopeEmbedder | MultimodalEmbedder
        if is_multimodal_model(model):
            if output_type != "dense":
                raise InvalidInputError(
                    f"output_type {output_type!r} is not available for {model}: multimodal models return dense "
                    "vectors only"
                )
            self.engine = MultimodalEmbedder(model, dimensions=dimensions, protocol=protocol, **connection)
        else:
            self.engine = DashScopeEmbedder(
                model,
                dimensions=dimensions,
                protocol=protocol,
                oversize=oversize,
                **connection,
            )
            if output_type == "dense&sparse":
                self.hybrid = HybridEmbedder(self.engine)

    @property
    def is_multimodal(self) -> bool:
        """Whether images and videos can be embedded (a multimodal model)."""
        return isinstance(self.engine, MultimodalEmbedder)

    @property
    def usage(self) -> Usage:
        """Tokens and requests billed through this router's engine so far."""
        return self.engine.usage

    @property
    def dimension(self) -> int:
        """The length ``d`` of every vector."""
        return self.engine.dimension

    @property
    def protocol(self) -> str:
        """The wire protocol in use (``"dashscope"`` for multimodal models, whose endpoint is native only)."""
        return getattr(self.engine, "protocol", "dashscope")

    def texts(self, texts: Sequence[str], text_type: TextType, *, as_lists: bool = False) -> EmbeddingResult:
        """Dense vectors of ``texts``: ``result.dense`` is ``(n, d)`` float32 in input order.

        ``text_type`` is sent for text models and has no counterpart on the multimodal endpoint. ``as_lists``:
        keep the decoded lists too, so ``result.dense_lists()`` is free (text models without the hybrid cache).

        Raises:
            InvalidInputError: bad texts (positions named), before any request.
            APIError: a request failed after its retries.
        """
        if isinstance(self.engine, MultimodalEmbedder):
            return self.engine.embed_texts(texts)
        if self.hybrid is not None:
            return self.hybrid.dense(texts, text_type=text_type)
        return self.engine.embed(texts, text_type=text_type, as_lists=as_lists)

    async def atexts(self, texts: Sequence[str], text_type: TextType, *, as_lists: bool = False) -> EmbeddingResult:
        """Async ``texts``. Same contract."""
        if isinstance(self.engine, MultimodalEmbedder):
            return await self.engine.aembed_texts(texts)
        if self.hybrid is not None:
            return await self.hybrid.adense(texts, text_type=text_type)
        return await self.engine.aembed(texts, text_type=text_type, as_lists=as_lists)

    def stream(self, batches: Sequence[Sequence[str]], text_type: TextType) -> BatchStream | None:
        """A ``BatchStream`` of dense results (lists kept) for a text model, to take batch by batch while the
        requests of later batches are already in flight; ``None`` for multimodal models and the hybrid cache,
        whose calls are made one batch at a time.

        Raises:
            InvalidInputError: a bad text in any batch, before any request.
        """
        if isinstance(self.engine, MultimodalEmbedder) or self.hybrid is not None:
            return None
        return BatchStream(self.engine, batches, text_type=text_type, as_lists=True)

    def multimodal(self, what: str) -> MultimodalEmbedder:
        """The multimodal engine, for image and video calls.

        Raises:
            InvalidInputError: a text model; the message names ``what`` was asked for and the multimodal models.
        """
        if isinstance(self.engine, MultimodalEmbedder):
            return self.engine
        models = ", ".join(name for name, spec in CATALOG.items() if spec.kind == "multimodal")
        raise InvalidInputError(
            f"{self.model} is a text embedding model and cannot embed {what}; use a multimodal model ({models})"
        )

    def images(self, images: Sequence[Any]) -> MultimodalResult:
        """Image vectors (``(n, d)`` float32); see ``MultimodalEmbedder.embed_images``."""
        return self.multimodal("images").embed_images(images)

    async def aimages(self, images: Sequence[Any]) -> MultimodalResult:
        """Async ``images``."""
        return await self.multimodal("images").aembed_images(images)

    def videos(self, urls: Sequence[str]) -> MultimodalResult:
        """Video vectors (``(n, d)`` float32) for http(s)/``oss://`` URLs; see ``MultimodalEmbedder.embed_videos``."""
        return self.multimodal("videos").embed_videos(urls)

    async def avideos(self, urls: Sequence[str]) -> MultimodalResult:
        """Async ``videos``."""
        return await self.multimodal("videos").aembed_videos(urls)
