"""``DashScopeEmbeddings``: DashScope text and multimodal embeddings as a LangChain ``Embeddings``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from pydantic import PrivateAttr, model_validator
from typing_extensions import Self

from dashscope_embed import DashScopeEmbedder, EmbeddingResult, MultimodalEmbedder
from dashscope_embed.hybrid import HybridEmbedder
from dashscope_embed.options import DenseOptions
from dashscope_embed.routing import EmbeddingRouter

from ._common import ConnectionFields
from .sparse import DashScopeSparseEmbeddings

__all__ = ["DashScopeEmbeddings"]


class DashScopeEmbeddings(ConnectionFields, DenseOptions, Embeddings):
    """Dense text, image and video embeddings from Alibaba Cloud Model Studio (DashScope) for LangChain.

    ``embed_query``/``aembed_query`` send ``parameters.text_type="query"`` (+ ``instruct`` when set);
    ``embed_documents``/``aembed_documents`` send ``"document"``. Any number of texts becomes as few requests as
    the model's row limit allows (the catalog's ``max_rows``, see ``dashscope-embed models``), up to
    ``max_concurrency`` in flight at once; the async methods are natively async. Each request is retried on its own.

    With a multimodal ``model`` (catalog ``kind="multimodal"``) the object wraps ``dashscope_embed.MultimodalEmbedder``:
    the text methods go to the native multimodal endpoint (which has no ``text_type``), and ``embed_image(uris)`` /
    ``embed_video(urls)`` put images and videos into the same vector space. ``embed_image`` follows the convention of
    langchain-chroma's ``Chroma.add_images`` and ``similarity_search_by_image``, which call ``embed_image(uris=[...])``
    with local file paths.

    Args:
        model: DashScope model id (default ``"text-embedding-v4"``): a text model or a multimodal model.
        dimensions: output dimension ``d`` (``None``: the model's default); checked at construction.
        api_key: ``SecretStr`` or ``str`` (field ``dashscope_api_key``); default ``DASHSCOPE_API_KEY``. Excluded
            from ``model_dump``, hidden in repr. May be omitted for a loopback ``base_url`` (the local service).
        base_url / region / workspace: where to send requests; defaults ``DASHSCOPE_BASE_URL`` (or
            ``DASHSCOPE_HTTP_BASE_URL``), ``DASHSCOPE_REGION``, ``DASHSCOPE_WORKSPACE``.
        protocol: ``"dashscope"`` (native, default) or ``"openai"`` (compatible mode: dense only, no text_type or
            instruct).
        instruct: query-side task instruction (models whose catalog entry has ``instruct``); with a multimodal model
            that accepts it it is sent with every request.
        output_type: ``"dense"`` (default) or ``"dense&sparse"``: every call also fetches sparse vectors into the
            shared sparse cache, where ``DashScopeSparseEmbeddings`` finds them (hybrid search at one request per
            batch). Text models only.
        max_concurrency, max_retries, timeout (seconds), oversize, requests_per_minute, tokens_per_minute: see
            ``dashscope_embed.DashScopeEmbedder`` (``oversize`` applies to text models; multimodal models refuse an
            over-long text before sending it).

    Attributes:
        usage: ``Usage(total_tokens, requests)`` billed by this object since it was built.

    Raises:
        pydantic.ValidationError: (construction) an unknown argument (e.g. ``dimension`` for ``dimensions``),
            unknown model, disallowed dimension, or a parameter the model or
            protocol does not accept, e.g. ``protocol="openai"`` or ``output_type="dense&sparse"`` with a
            multimodal model (the message names it).
        InvalidInputError: (calls) empty or non-string texts; a missing, oversize or unsupported image, a video
            that is not a URL (before any request); image and video methods of a text model.
        APIError: a request failed after its retries.
    """

    _engine: DashScopeEmbedder | MultimodalEmbedder = PrivateAttr()
    _hybrid: HybridEmbedder | None = PrivateAttr(default=None)
    _router: EmbeddingRouter = PrivateAttr()

    @model_validator(mode="after")
    def validate_environment(self) -> Self:
        """Build the engine from the configuration; no network call."""
        self._router = self.build_router(self.model)
        self._engine, self._hybrid = self._router.engine, self._router.hybrid
        return self

    def _embed(self, texts: list[str], text_type: Literal["query", "document"]) -> EmbeddingResult:
        return self._router.texts(texts, text_type, as_lists=True)  # LangChain returns lists: keep the decoded ones

    async def _aembed(self, texts: list[str], text_type: Literal["query", "document"]) -> EmbeddingResult:
        return await self._router.atexts(texts, text_type, as_lists=True)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Document vectors: ``len(texts)`` lists of ``d`` floats, in input order (``text_type="document"``).

        Raises:
            InvalidInputError: ``texts`` is a bare string, or some text is empty or not a string (positions named).
            APIError: a request failed after its retries.
        """
        return self._embed(texts, "document").dense_lists()

    def embed_query(self, text: str) -> list[float]:
        """One query vector, ``d`` floats (``text_type="query"``, + ``instruct``).

        Raises:
            InvalidInputError: the text is empty or not a string. APIError: the request failed.
        """
        return self._embed([text], "query").dense_lists()[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async ``embed_documents`` (native: requests share a per-event-loop concurrency bound)."""
        return (await self._aembed(texts, "document")).dense_lists()

    async def aembed_query(self, text: str) -> list[float]:
        """Async ``embed_query``."""
        return (await self._aembed([text], "query")).dense_lists()[0]

    # ------------------------------------------------------------------ images and videos (multimodal models)

    def embed_image(self, uris: Sequence[Any]) -> list[list[float]]:
        """Image vectors in the same space as this model's text vectors: ``len(uris)`` lists of ``d`` floats.

        Args:
            uris: local paths (``str``/``Path``/``file://``), http(s) URLs, ``data:`` URIs, ``bytes`` or ``BytesIO``.
                Local data is inlined as base64 after its size and format are checked against the model's catalog
                limits (``image_max_bytes``, ``image_formats``).

        Raises:
            InvalidInputError: a text model, a bare string instead of a list, a missing file, an unrecognised or
                unsupported format, an oversize image; all before any request.
            APIError: a request failed after its retries.
        """
        return self._router.images(uris).dense_lists()

    async def aembed_image(self, uris: Sequence[Any]) -> list[list[float]]:
        """Async ``embed_image`` (files are read in the calling thread)."""
        return (await self._router.aimages(uris)).dense_lists()

    def embed_video(self, urls: Sequence[str]) -> list[list[float]]:
        """Video vectors for public http(s) or ``oss://`` URLs, or local video files (sent through DashScope's
        temporary upload by the core): ``len(urls)`` lists of ``d`` floats.

        A local file is checked against the model's video size limit before any request; for a URL the service
        checks it.

        Raises:
            InvalidInputError: a text model; bytes or a ``data:`` URI (wrap bytes in ``Upload(data, filename=...)``);
                a local file over the limit.
            APIError: a request or an upload failed after its retries.
        """
        return self._router.videos(urls).dense_lists()

    async def aembed_video(self, urls: Sequence[str]) -> list[list[float]]:
        """Async ``embed_video``."""
        return (await self._router.avideos(urls)).dense_lists()

    def sparse_model(self, **overrides: Any) -> DashScopeSparseEmbeddings:
        """A ``DashScopeSparseEmbeddings`` with this object's model, key, service and options, sharing the sparse
        cache (with ``output_type="dense&sparse"`` here, the texts this object embedded cost no second request).

        Raises:
            pydantic.ValidationError: the model has no sparse output, or an unknown override.
        """
        fields = dict(self.connection_fields(), model=self.model)
        fields.update(overrides)
        return DashScopeSparseEmbeddings(**fields)

    def sparse_embeddings(self, **overrides: Any) -> DashScopeSparseEmbeddings:
        """Deprecated name of ``sparse_model`` (the same in both frameworks' adapters)."""
        warnings.warn("sparse_embeddings() is now sparse_model()", DeprecationWarning, stacklevel=2)
        return self.sparse_model(**overrides)
