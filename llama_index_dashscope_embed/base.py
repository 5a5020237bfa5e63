"""``DashScopeEmbedding``: DashScope text and multimodal embeddings as a LlamaIndex embedding model."""

from __future__ import annotations

import logging
import pickle
import warnings
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, Literal

from llama_index.core.base.embeddings.base import Embedding
from llama_index.core.bridge.pydantic import BaseModel, Field, PrivateAttr, model_validator
from llama_index.core.embeddings.multi_modal_base import MultiModalEmbedding
from llama_index.core.schema import ImageType

from dashscope_embed import (
    DashScopeEmbedder,
    EmbeddingResult,
    MultimodalEmbedder,
)
from dashscope_embed.hybrid import HybridEmbedder
from dashscope_embed.options import DenseOptions, picklable_state
from dashscope_embed.pipelining import BatchStream, batches_of
from dashscope_embed.routing import EmbeddingRouter

from ._common import DEFAULT_EMBED_BATCH_SIZE, emit_usage, framework_payload, reject_bare_string
from .sparse import DashScopeSparseEmbedding

__all__ = ["DashScopeEmbedding"]

logger = logging.getLogger(__name__)

#: The batch stream of the ``get_text_embedding_batch`` call running in this thread (or task), and its model.
_STREAM: ContextVar[tuple[Any, BatchStream | None]] = ContextVar("dashscope_embed_stream", default=(None, None))


class DashScopeEmbedding(DenseOptions, MultiModalEmbedding):
    """Dense text, image and video embeddings from Alibaba Cloud Model Studio (DashScope) for LlamaIndex.

    Query-side calls (``get_query_embedding`` and friends) send ``parameters.text_type="query"`` plus ``instruct``
    when set; document-side calls (``get_text_embedding``, ``get_text_embedding_batch``, node embedding) send
    ``"document"``. A framework batch of any size becomes as few requests as the model's row limit allows (the
    catalog's ``max_rows``, see ``dashscope-embed models``), up to ``max_concurrency`` of them in flight at once,
    sync or async.

    With a multimodal ``model_name`` (catalog ``kind="multimodal"``) the object wraps
    ``dashscope_embed.MultimodalEmbedder``: texts (queries and documents alike, the multimodal endpoint has no
    ``text_type``), images and videos all go to the native multimodal endpoint and land in one vector space, so the same
    object serves as ``image_embed_model`` of a ``MultiModalVectorStoreIndex`` for text-to-image and image-to-image
    retrieval. Images are ``ImageType`` values: a local path, an http(s) URL, a ``data:`` URI or a ``BytesIO`` (what
    ``ImageNode``s holding base64 become); local data is inlined as base64 after its size and format are checked against
    the model's catalog limits. Videos (``get_video_embedding``) are public http(s) URLs.

    Args:
        model_name: DashScope model id (default ``"text-embedding-v4"``): a text model or a multimodal model.
        dimensions: output dimension ``d`` (``None``: the model's default); checked against the catalog at
            construction.
        api_key: ``SecretStr`` (or ``str``); default ``DASHSCOPE_API_KEY``. Excluded from ``to_dict``/``to_json``,
            repr and logs. May be omitted for a loopback ``base_url`` (the local service).
        base_url, region, workspace, protocol: where to send requests (see ``dashscope_embed.DashScopeEmbedder``);
            ``protocol="openai"`` uses the compatible mode (dense only, no ``text_type`` or ``instruct``).
        instruct: query-side task instruction (models whose catalog entry has ``instruct``); for multimodal models
            that accept it it is sent with every request, texts and images alike.
        output_type: ``"dense"`` (default) or ``"dense&sparse"`` (text models): every call also fetches the sparse
            vectors and keeps them in the shared sparse cache, where ``DashScopeSparseEmbedding`` (and its Qdrant
            functions) find them, so hybrid indexing costs one request per batch instead of two.
        max_concurrency: requests in flight at once for this object, across threads and event loops.
        max_retries: retries per request (429, 5xx, timeouts, connection errors).
        timeout: seconds per HTTP request.
        oversize: texts over the model's token limit per row: ``"chunk_average"``, ``"truncate"``, ``"error"``
            (text models; multimodal models refuse an over-long text before sending it).
        requests_per_minute / tokens_per_minute: client-side pacing of this object's requests.
        embed_batch_size: texts per framework batch (default 640; not the API's row limit, see ``_common``).

    Attributes:
        usage: ``Usage(total_tokens, requests)`` billed by this object since it was built (restarts at zero in an
            unpickled copy, e.g. an ``IngestionPipeline`` worker process).

    Every call also dispatches a ``DashScopeEmbeddingUsageEvent`` (tokens, requests, request ids) through LlamaIndex
    instrumentation.

    Raises:
        pydantic.ValidationError: (construction) an unknown argument (e.g. ``dimension`` for ``dimensions``),
            unknown model, disallowed dimension, or a parameter the model or
            protocol does not accept (``protocol="openai"`` or ``output_type="dense&sparse"`` with a multimodal
            model); the message is the core's ``InvalidInputError`` text.
        InvalidInputError: (calls) a bare string, empty or non-string texts; a missing, oversize or unsupported
            image, a video that is not a URL (before any request); image and video methods of a text model.
        APIError: (calls) a request failed after its retries (``AuthenticationError``, ``RateLimitError``, ...).
    """

    model_name: str = Field(default="text-embedding-v4", description="DashScope embedding model id.")
    embed_batch_size: int = Field(default=DEFAULT_EMBED_BATCH_SIZE, gt=0, le=2048)

    _engine: DashScopeEmbedder | MultimodalEmbedder = PrivateAttr()
    _hybrid: HybridEmbedder | None = PrivateAttr(default=None)
    _router: EmbeddingRouter = PrivateAttr()

    @model_validator(mode="after")
    def _build_engine(self) -> DashScopeEmbedding:
        # Builds clients lazily: no network call here, so construction works offline and in unit tests.
        self._router = self.build_router(self.model_name)
        self._engine, self._hybrid = self._router.engine, self._router.hybrid
        return self

    @classmethod
    def class_name(cls) -> str:
        """Class name used by ``to_dict``/``from_dict``."""
        return "DashScopeEmbedding"

    # ------------------------------------------------------------------ introspection

    def to_payload(self) -> dict[str, Any]:
        """What instrumentation and callback events show about this model: no key, no headers.

        Returns:
            ``{"class_name", "model_name", "embed_batch_size", "dimension", "protocol", "output_type"}`` on every
            supported llama-index-core (the framework's own ``to_payload`` arrived in 0.14.23).
        """
        payload = framework_payload(self, DashScopeEmbedding)
        payload.update(dimension=self._router.dimension, protocol=self._router.protocol, output_type=self.output_type)
        return payload

    # ------------------------------------------------------------------ pickling (IngestionPipeline workers)

    def __getstate__(self) -> dict[str, Any]:
        state = picklable_state(BaseModel.__getstate__(self))
        # Like BaseComponent: leave out what cannot travel (e.g. callback handlers holding locks).
        for key, value in list(state["__dict__"].items()):
            try:
                pickle.dumps(value)
            except Exception:
                logger.warning("not pickling attribute %s of %s", key, self.class_name())
                del state["__dict__"][key]
        return state

    # ------------------------------------------------------------------ calls

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        """Document vectors of ``texts`` in framework batches of ``embed_batch_size``.

        The framework still cuts ``texts`` into batches and emits its events and progress for each; the requests
        of every batch are planned up front (``dashscope_embed.pipelining.BatchStream``), so the next batch's
        requests are in flight while the framework waits for the end of the current one.

        Raises:
            InvalidInputError: ``texts`` is a bare string (the framework would embed each character) or holds
                empty or non-string items (checked for all batches before any request).
        """
        reject_bare_string(texts)
        stream = None
        # The framework's cache and rate limiter decide per batch what to send: leave those paths to it.
        if getattr(self, "embeddings_cache", None) is None and getattr(self, "rate_limiter", None) is None:
            stream = self._router.stream(batches_of(texts, self.embed_batch_size), "document")
        token = _STREAM.set((self, stream))
        try:
            return super().get_text_embedding_batch(texts, show_progress, **kwargs)
        finally:
            _STREAM.reset(token)
            if stream is not None:
                stream.close()

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """Async ``get_text_embedding_batch``."""
        reject_bare_string(texts)
        return await super().aget_text_embedding_batch(texts, show_progress, **kwargs)

    def _embed(self, texts: list[str], text_type: Literal["query", "document"]) -> list[Embedding]:
        return self._lists(self._router.texts(texts, text_type, as_lists=True), text_type)

    async def _aembed(self, texts: list[str], text_type: Literal["query", "document"]) -> list[Embedding]:
        return self._lists(await self._router.atexts(texts, text_type, as_lists=True), text_type)

    def _lists(self, result: EmbeddingResult, side: str) -> list[Embedding]:
        # multimodal endpoints take no text_type: their events name the kind of input instead
        kind = "text" if self._router.is_multimodal and side in ("query", "document") else side
        emit_usage(self._engine, result, kind, self.output_type)
        return result.dense_lists()

    def _get_query_embedding(self, query: str) -> Embedding:
        """One query vector (``list[float]`` of length ``d``), sent with ``text_type="query"`` and ``instruct``."""
        return self._embed([query], "query")[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        """Async ``_get_query_embedding``."""
        return (await self._aembed([query], "query"))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        """One document vector (``list[float]`` of length ``d``), sent with ``text_type="document"``."""
        return self._embed([text], "document")[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        """Async ``_get_text_embedding``."""
        return (await self._aembed([text], "document"))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        """Document vectors in input order: ``len(texts)`` lists of ``d`` floats, ``ceil(n / rows)`` requests."""
        owner, stream = _STREAM.get()
        if owner is self and stream is not None:
            result = stream.take(texts)  # None if the framework cut its batches otherwise
            if result is not None:
                return self._lists(result, "document")
        return self._embed(texts, "document")

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        """Async ``_get_text_embeddings``; requests share the object's concurrency bound with every other call."""
        return await self._aembed(texts, "document")

    # ------------------------------------------------------------------ images and videos (multimodal models)

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        """One image vector (``list[float]`` of length ``d``) in the same space as this model's text vectors.

        Args:
            img_file_path: a local path, an http(s) URL, a ``data:`` URI or a ``BytesIO`` (read whole, not moved).

        Raises:
            InvalidInputError: a text model; a missing file, an unrecognised or unsupported format, or an image over
                the model's size limit (catalog ``image_max_bytes``), before any request.
            APIError: the request failed after its retries.
        """
        return self._get_image_embeddings([img_file_path])[0]

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        """Async ``_get_image_embedding``."""
        return (await self._aget_image_embeddings([img_file_path]))[0]

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        """Image vectors in input order: ``len(img_file_paths)`` lists of ``d`` floats.

        The core packs the images into as few requests as the model allows (one image per request for
        multimodal-embedding-v1) and runs up to ``max_concurrency`` of them at once. Every image is checked before
        the first request is sent. Raises as ``_get_image_embedding``.
        """
        return self._lists(self._router.images(list(img_file_paths)), "image")

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        """Async ``_get_image_embeddings`` (files are read in the calling thread)."""
        return self._lists(await self._router.aimages(list(img_file_paths)), "image")

    def get_video_embedding(self, url: str) -> Embedding:
        """One video vector (``list[float]`` of length ``d``) for a public http(s) or ``oss://`` video URL, or a
        local video file, which the core sends through DashScope's temporary upload (``dashscope_embed.uploads``).

        A local file is checked against the model's video size limit (10 MB for multimodal-embedding-v1, 50 MB for
        qwen3-vl-embedding) before any request; for a URL the service checks it.

        Raises:
            InvalidInputError: a text model; bytes or a ``data:`` URI (wrap bytes in ``Upload(data, filename=...)``);
                a local file over the limit.
            APIError: the request or the upload failed after its retries.
        """
        return self.get_video_embeddings([url])[0]

    def get_video_embeddings(self, urls: Sequence[str]) -> list[Embedding]:
        """Video vectors in input order: ``len(urls)`` lists of ``d`` floats. Raises as ``get_video_embedding``."""
        return self._lists(self._router.videos(urls), "video")

    async def aget_video_embedding(self, url: str) -> Embedding:
        """Async ``get_video_embedding``."""
        return (await self.aget_video_embeddings([url]))[0]

    async def aget_video_embeddings(self, urls: Sequence[str]) -> list[Embedding]:
        """Async ``get_video_embeddings``."""
        return self._lists(await self._router.avideos(urls), "video")

    # ------------------------------------------------------------------ hybrid

    def sparse_model(self, **overrides: Any) -> DashScopeSparseEmbedding:
        """A ``DashScopeSparseEmbedding`` with this model's model, key, service and options, sharing the sparse cache.

        With ``output_type="dense&sparse"`` here, its ``sparse_doc_fn``/``sparse_query_fn`` read the vectors this
        model already fetched and send nothing for them. ``overrides`` replace fields of the sparse object.

        Raises:
            pydantic.ValidationError: the model has no sparse output, or an unknown override.
        """
        return DashScopeSparseEmbedding.from_dense(self, **overrides)

    def sparse_embedding(self, **overrides: Any) -> DashScopeSparseEmbedding:
        """Deprecated name of ``sparse_model`` (the same in both frameworks' adapters)."""
        warnings.warn("sparse_embedding() is now sparse_model()", DeprecationWarning, stacklevel=2)
        return self.sparse_model(**overrides)
