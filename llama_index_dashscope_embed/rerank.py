"""``DashScopeRerank``: DashScope text rerank as a LlamaIndex node postprocessor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr, model_validator
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from dashscope_embed.errors import InvalidInputError
from dashscope_embed.options import picklable_state
from dashscope_embed.rerank import DEFAULT_RERANK_MODEL, DashScopeReranker, RerankResult
from dashscope_embed.rerank.options import RerankOptions

from ._common import dispatcher

try:  # llama-index-core >= 0.10.20; older versions have the callback event only
    from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
except ImportError:  # pragma: no cover - depends on the installed llama-index-core
    ReRankEndEvent = ReRankStartEvent = None  # type: ignore[assignment,misc]  # None: the events do not exist

__all__ = ["DashScopeRerank"]


class DashScopeRerank(RerankOptions, BaseNodePostprocessor):
    """Rerank retrieved nodes with an Alibaba Cloud Model Studio (DashScope) rerank model (default qwen3-rerank).

    Each node's text is what LlamaIndex's rerankers score, ``node.get_content(metadata_mode=MetadataMode.EMBED)``;
    any number of nodes is split into requests within the model's limits (see
    ``dashscope_embed.DashScopeReranker``), sent concurrently and merged. The result holds the ``top_n`` best nodes
    (all of them, reordered, for ``top_n=None``) as new ``NodeWithScore`` s whose ``score`` is the
    ``relevance_score``; the nodes passed in are not modified. ``apostprocess_nodes`` is natively async.

    Like LlamaIndex's own rerankers it dispatches ``ReRankStartEvent`` / ``ReRankEndEvent`` (instrumentation) and a
    ``CBEventType.RERANKING`` callback event.

    Args:
        model_name: rerank model id (default ``"qwen3-rerank"``); ``gte-rerank`` (retired) is refused.
        top_n: nodes to keep (default 3; ``None``: all, reordered).
        api_key (``dashscope_api_key``), base_url, region, workspace, protocol, instruct, max_concurrency,
            max_retries, timeout (seconds), oversize, requests_per_minute, tokens_per_minute, return_documents:
            as ``dashscope_embed.DashScopeReranker``; the key is a ``SecretStr`` kept out of ``to_dict`` and repr.

    Raises:
        InvalidOptionsError: (construction; also a ``pydantic.ValidationError``) an unknown argument, a retired
            model, ``instruct`` or ``protocol="openai"`` for a model without them.
        InvalidInputError: (calls) no query, an empty query, a node with no text (position named).
        APIError: a request failed after its retries.
    """

    model_name: str = Field(default=DEFAULT_RERANK_MODEL, description="DashScope rerank model id.")

    _engine: DashScopeReranker = PrivateAttr()

    @model_validator(mode="after")
    def _build_engine(self) -> DashScopeRerank:
        self._engine = self.build_reranker(self.model_name)
        return self

    @classmethod
    def class_name(cls) -> str:
        """Class name used by ``to_dict``/``from_dict``."""
        return "DashScopeRerank"

    def __getstate__(self) -> dict[str, Any]:
        return picklable_state(super().__getstate__())

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state["__dict__"])  # type: ignore[misc]  # validated again on unpickling: rebuilds the engine and its clients

    # ------------------------------------------------------------------ postprocessing

    def _inputs(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> tuple[QueryBundle, list[str]]:
        if query_bundle is None:
            raise InvalidInputError("DashScopeRerank needs a query: pass query_str= or query_bundle=")
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        return query_bundle, texts

    @contextmanager
    def _events(self, nodes: list[NodeWithScore], query_bundle: QueryBundle) -> Iterator[list]:
        top_n = self.top_n or len(nodes)
        if ReRankStartEvent is not None:
            dispatcher.event(ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=top_n, model_name=self.model_name))
        out: list = []
        payload: dict[str, Any] = {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.model_name,
            EventPayload.QUERY_STR: query_bundle.query_str,
            EventPayload.TOP_K: top_n,
        }
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            yield out
            event.on_end(payload={EventPayload.NODES: out})
        if ReRankEndEvent is not None:
            dispatcher.event(ReRankEndEvent(nodes=out))

    @staticmethod
    def _ranked(nodes: list[NodeWithScore], result: RerankResult) -> list[NodeWithScore]:
        return [NodeWithScore(node=nodes[item.index].node, score=item.relevance_score) for item in result]

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        """The ``top_n`` nodes by relevance to the query, best first (``score`` = ``relevance_score``)."""
        bundle, texts = self._inputs(nodes, query_bundle)
        if not nodes:
            return []
        with self._events(nodes, bundle) as out:
            out.extend(self._ranked(nodes, self._engine.rerank(bundle.query_str, texts, top_n=self.top_n)))
        return out

    if not hasattr(BaseNodePostprocessor, "apostprocess_nodes"):
        # early llama-index-core releases (0.12.0 among them) have only ``_apostprocess_nodes``: give them the
        # public method later releases define, with the same arguments.
        async def apostprocess_nodes(
            self,
            nodes: list[NodeWithScore],
            query_bundle: QueryBundle | None = None,
            query_str: str | None = None,
        ) -> list[NodeWithScore]:
            """Async ``postprocess_nodes``: the ``top_n`` nodes by relevance, best first.

            Raises:
                InvalidInputError: both ``query_bundle`` and ``query_str`` given, or no query.
            """
            if query_str is not None and query_bundle is not None:
                raise InvalidInputError("Cannot specify both query_str and query_bundle")
            if query_str is not None:
                query_bundle = QueryBundle(query_str)
            return await self._apostprocess_nodes(nodes, query_bundle)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        """Async ``_postprocess_nodes`` (requests on the running event loop, not a worker thread)."""
        bundle, texts = self._inputs(nodes, query_bundle)
        if not nodes:
            return []
        with self._events(nodes, bundle) as out:
            out.extend(self._ranked(nodes, await self._engine.arerank(bundle.query_str, texts, top_n=self.top_n)))
        return out
