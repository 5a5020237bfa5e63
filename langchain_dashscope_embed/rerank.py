"""``DashScopeRerank``: DashScope text rerank as a LangChain document compressor."""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import Field, PrivateAttr, model_validator
from typing_extensions import Self

from dashscope_embed.options import picklable_state
from dashscope_embed.rerank import DEFAULT_RERANK_MODEL, DashScopeReranker, RerankResult
from dashscope_embed.rerank.options import RerankOptions

__all__ = ["DashScopeRerank"]


def _text(document: str | Document | dict) -> Any:
    if isinstance(document, Document):
        return document.page_content
    if isinstance(document, dict):
        return document.get("text", document.get("page_content"))
    return document


class DashScopeRerank(RerankOptions, BaseDocumentCompressor):
    """Rerank documents with an Alibaba Cloud Model Studio (DashScope) rerank model (default qwen3-rerank).

    ``compress_documents`` returns the ``top_n`` most relevant documents, best first, as copies that keep each
    document's metadata and add ``relevance_score``; use it as the ``base_compressor`` of a
    ``ContextualCompressionRetriever``. ``rerank`` returns ``[{"index", "relevance_score"}]`` as LangChain's other
    rerankers do. Any number of documents is split into requests within the model's limits, sent concurrently and
    merged exactly (see ``dashscope_embed.DashScopeReranker``); the async methods are natively async.

    Args:
        model: rerank model id (default ``"qwen3-rerank"``); ``gte-rerank`` (retired) is refused.
        top_n: documents to keep (default 3; ``None``: all, reordered).
        api_key (``dashscope_api_key``), base_url, region, workspace, protocol, instruct, max_concurrency,
            max_retries, timeout (seconds), oversize, requests_per_minute, tokens_per_minute, return_documents:
            as ``dashscope_embed.DashScopeReranker``; the key is a ``SecretStr``, never dumped or shown.

    Raises:
        InvalidOptionsError: (construction; also a ``pydantic.ValidationError``) an unknown argument, a retired
            model, ``instruct`` or ``protocol="openai"`` for a model without them.
        InvalidInputError: (calls) an empty query, a document with no text (position named).
        APIError: a request failed after its retries.
    """

    model: str = Field(default=DEFAULT_RERANK_MODEL, description="DashScope rerank model id.")

    _engine: DashScopeReranker = PrivateAttr()

    @model_validator(mode="after")
    def validate_environment(self) -> Self:
        """Build the core reranker from the configuration; no network call."""
        self._engine = self.build_reranker(self.model)
        return self

    def __getstate__(self) -> dict[str, Any]:
        return picklable_state(super().__getstate__())

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state["__dict__"])  # type: ignore[misc]  # validated again on unpickling: rebuilds the engine and its clients

    def _top_n(self, top_n: int | None, documents: Sequence[Any]) -> int | None:
        # LangChain's rerankers: a positive top_n as given, None for all, anything else (the default -1) self.top_n.
        if top_n is None:
            return max(len(documents), 1)
        return top_n if top_n > 0 else self.top_n

    @staticmethod
    def _dicts(result: RerankResult) -> list[dict[str, Any]]:
        return [{"index": item.index, "relevance_score": item.relevance_score} for item in result]

    def rerank(
        self, documents: Sequence[str | Document | dict], query: str, *, top_n: int | None = -1
    ) -> list[dict[str, Any]]:
        """``[{"index", "relevance_score"}]`` by relevance to ``query``, best first.

        Args:
            documents: texts, ``Document`` s or ``{"text": ...}`` dicts; none at all returns ``[]`` without a
                request.
            top_n: results to return; ``None``: all; the default (-1): this object's ``top_n``.

        Raises:
            InvalidInputError: an empty query or a document with no text (position named). APIError: a request
                failed after its retries.
        """
        result = self._engine.rerank(query, [_text(d) for d in documents], top_n=self._top_n(top_n, documents))
        return self._dicts(result)

    async def arerank(
        self, documents: Sequence[str | Document | dict], query: str, *, top_n: int | None = -1
    ) -> list[dict[str, Any]]:
        """Async ``rerank``."""
        result = await self._engine.arerank(query, [_text(d) for d in documents], top_n=self._top_n(top_n, documents))
        return self._dicts(result)

    @staticmethod
    def _documents(documents: Sequence[Document], ranked: list[dict[str, Any]]) -> list[Document]:
        out = []
        for item in ranked:
            source = documents[item["index"]]
            copy = Document(source.page_content, metadata=deepcopy(source.metadata), id=source.id)
            copy.metadata["relevance_score"] = item["relevance_score"]
            out.append(copy)
        return out

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The ``top_n`` documents by relevance, best first: copies with their metadata plus ``relevance_score``.

        Raises:
            InvalidInputError: an empty query or a document with no text. APIError: a request failed.
        """
        return self._documents(documents, self.rerank(documents, query))

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Async ``compress_documents`` (requests on the running event loop)."""
        return self._documents(documents, await self.arerank(documents, query))
