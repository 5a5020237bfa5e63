"""The LlamaIndex and LangChain DashScopeRerank classes against the local service, alone and in pipelines."""

from __future__ import annotations

import asyncio
import pickle

import pytest
from pydantic import ValidationError

from support.rerank_helpers import QUERY, corpus
from dashscope_embed import InvalidInputError, InvalidOptionsError
from dashscope_embed.server.relevance import rank

SECRET = "sk-adaptersecret12345678"


# ---------------------------------------------------------------------------------------------- LlamaIndex


def _nodes(texts, **metadata):
    from llama_index.core.schema import NodeWithScore, TextNode

    return [NodeWithScore(node=TextNode(text=t, id_=f"n{i}", metadata=dict(metadata)), score=0.5)
            for i, t in enumerate(texts)]


def test_llama_index_postprocessor_ranks_nodes_sync_and_async(service):
    from llama_index.core.schema import MetadataMode

    from llama_index_dashscope_embed import DashScopeRerank

    docs = corpus(1200)
    rerank = DashScopeRerank(base_url=service.base_url, top_n=10)
    assert rerank.model_name == "qwen3-rerank"
    nodes = _nodes(docs, topic="python")
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    assert texts[0].startswith("topic: python")  # what LlamaIndex rerankers score: metadata included
    expected = rank(QUERY, texts)[:10]
    out = rerank.postprocess_nodes(nodes, query_str=QUERY)
    assert [(n.node.node_id, n.score) for n in out] == [(f"n{i}", s) for i, s in expected]
    assert all(n.score == 0.5 for n in nodes)  # the caller's nodes are not modified
    out = asyncio.run(rerank.apostprocess_nodes(nodes, query_str=QUERY))
    assert [(n.node.node_id, n.score) for n in out] == [(f"n{i}", s) for i, s in expected]
    assert service.stats.requests == 6 and rerank.usage.requests == 6
    assert rerank.postprocess_nodes([], query_str=QUERY) == []
    with pytest.raises(InvalidInputError, match="needs a query"):
        rerank.postprocess_nodes(nodes)


def test_llama_index_async_path_does_not_use_a_thread(service, monkeypatch):
    from llama_index_dashscope_embed import DashScopeRerank

    rerank = DashScopeRerank(base_url=service.base_url)
    monkeypatch.setattr(rerank.reranker, "rerank", None)  # only the async engine method may run
    out = asyncio.run(rerank.apostprocess_nodes(_nodes(corpus(5)), query_str=QUERY))
    assert len(out) == 3


def test_llama_index_dispatches_rerank_events(service):
    from llama_index.core.callbacks import CallbackManager, CBEventType
    from llama_index.core.callbacks.base_handler import BaseCallbackHandler
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    from llama_index_dashscope_embed import DashScopeRerank

    seen = []

    class Handler(BaseEventHandler):
        def handle(self, event, **kwargs):
            seen.append(event)

    class Callbacks(BaseCallbackHandler):
        def __init__(self):
            super().__init__([], [])
            self.events = []

        def on_event_start(self, event_type, payload=None, event_id="", parent_id="", **kwargs):
            self.events.append(("start", event_type))
            return event_id

        def on_event_end(self, event_type, payload=None, event_id="", **kwargs):
            self.events.append(("end", event_type, len(payload["nodes"])))

        def start_trace(self, trace_id=None):
            pass

        def end_trace(self, trace_id=None, trace_map=None):
            pass

    root = get_dispatcher()
    handler = Handler()
    root.add_event_handler(handler)
    callbacks = Callbacks()
    try:
        rerank = DashScopeRerank(base_url=service.base_url, top_n=2, callback_manager=CallbackManager([callbacks]))
        rerank.postprocess_nodes(_nodes(corpus(8)), query_str=QUERY)
    finally:
        root.event_handlers.remove(handler)
    names = [type(e).__name__ for e in seen if "ReRank" in type(e).__name__]
    assert names == ["ReRankStartEvent", "ReRankEndEvent"]
    start = next(e for e in seen if type(e).__name__ == "ReRankStartEvent")
    assert start.model_name == "qwen3-rerank" and start.top_n == 2 and len(start.nodes) == 8
    assert callbacks.events == [("start", CBEventType.RERANKING), ("end", CBEventType.RERANKING, 2)]


def test_llama_index_retriever_and_query_engine_with_the_postprocessor(service):
    from llama_index.core import VectorStoreIndex
    from llama_index.core.response_synthesizers.no_text import NoText
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.schema import MetadataMode, TextNode

    from llama_index_dashscope_embed import DashScopeEmbedding, DashScopeRerank

    docs = corpus(40)
    embed = DashScopeEmbedding(base_url=service.base_url, dimensions=64)
    index = VectorStoreIndex([TextNode(text=t, id_=f"n{i}") for i, t in enumerate(docs)], embed_model=embed)
    rerank = DashScopeRerank(base_url=service.base_url, top_n=3)
    retriever = index.as_retriever(similarity_top_k=20)
    candidates = retriever.retrieve(QUERY)
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in candidates]
    expected = [candidates[i].node.node_id for i, _ in rank(QUERY, texts)[:3]]
    synthesizer = NoText(llm=MockLLM())  # sources only: no LLM needed, none configured
    engine = RetrieverQueryEngine(retriever, response_synthesizer=synthesizer, node_postprocessors=[rerank])
    response = engine.query(QUERY)
    assert [n.node.node_id for n in response.source_nodes] == expected
    response = asyncio.run(engine.aquery(QUERY))
    assert [n.node.node_id for n in response.source_nodes] == expected


def test_llama_index_fields_key_and_refusals(service):
    from llama_index_dashscope_embed import DashScopeRerank

    rerank = DashScopeRerank(api_key=SECRET, base_url=service.base_url, model_name="gte-rerank-v2", top_n=None)
    assert SECRET not in repr(rerank) and SECRET not in str(rerank.to_dict()) and SECRET not in rerank.to_json()
    assert rerank.api_key.get_secret_value() == SECRET
    copy = pickle.loads(pickle.dumps(rerank))
    assert copy.api_key.get_secret_value() == SECRET and copy.model_name == "gte-rerank-v2"
    out = copy.postprocess_nodes(_nodes(corpus(6)), query_str=QUERY)
    assert len(out) == 6  # top_n=None: every node, reordered
    with pytest.raises(ValidationError, match="retired on 2026-05-30; use qwen3-rerank"):
        DashScopeRerank(model_name="gte-rerank", base_url=service.base_url)
    with pytest.raises(ValidationError, match="does not accept instruct"):
        DashScopeRerank(model_name="gte-rerank-v2", instruct="x", base_url=service.base_url)
    with pytest.raises(InvalidOptionsError, match="unknown_field|Extra inputs"):  # also a ValidationError
        DashScopeRerank(unknown_field=1, base_url=service.base_url)


# ---------------------------------------------------------------------------------------------- LangChain


def _documents(texts):
    from langchain_core.documents import Document

    return [Document(t, metadata={"n": i, "source": f"doc{i}.txt"}) for i, t in enumerate(texts)]


def test_langchain_compressor_keeps_metadata_and_adds_relevance_score(service):
    from langchain_dashscope_embed import DashScopeRerank

    docs = corpus(1200)
    rerank = DashScopeRerank(base_url=service.base_url, top_n=5)
    assert rerank.model == "qwen3-rerank"
    expected = rank(QUERY, docs)[:5]
    for out in (rerank.compress_documents(_documents(docs), QUERY),
                asyncio.run(rerank.acompress_documents(_documents(docs), QUERY))):
        assert [(d.metadata["n"], d.metadata["relevance_score"]) for d in out] == expected
        assert [d.page_content for d in out] == [docs[i] for i, _ in expected]
        assert all(d.metadata["source"] == f"doc{d.metadata['n']}.txt" for d in out)
    originals = _documents(docs[:3])
    rerank.compress_documents(originals, QUERY)
    assert all("relevance_score" not in d.metadata for d in originals)


def test_langchain_rerank_returns_index_and_score_dicts(service):
    from langchain_dashscope_embed import DashScopeRerank

    docs = corpus(12)
    rerank = DashScopeRerank(base_url=service.base_url, protocol="openai")
    full = [{"index": i, "relevance_score": s} for i, s in rank(QUERY, docs)]
    assert rerank.rerank(docs, QUERY) == full[:3]  # the object's top_n
    assert rerank.rerank(docs, QUERY, top_n=None) == full
    assert rerank.rerank(_documents(docs), QUERY, top_n=4) == full[:4]
    assert asyncio.run(rerank.arerank(docs, QUERY, top_n=2)) == full[:2]
    assert rerank.rerank([], QUERY) == [] and service.stats.snapshot().by_endpoint == {"rerank-compatible": 4}


def test_langchain_contextual_compression_retriever(service):
    retrievers = pytest.importorskip("langchain_classic.retrievers")
    from langchain_core.vectorstores import InMemoryVectorStore

    from langchain_dashscope_embed import DashScopeEmbeddings, DashScopeRerank

    docs = corpus(40)
    store = InMemoryVectorStore.from_texts(docs, DashScopeEmbeddings(base_url=service.base_url, dimensions=64),
                                           metadatas=[{"n": i} for i in range(len(docs))])
    base = store.as_retriever(search_kwargs={"k": 20})
    candidates = base.invoke(QUERY)
    expected = [(candidates[i].metadata["n"], s) for i, s in rank(QUERY, [c.page_content for c in candidates])[:3]]
    retriever = retrievers.ContextualCompressionRetriever(
        base_compressor=DashScopeRerank(base_url=service.base_url), base_retriever=base
    )
    for out in (retriever.invoke(QUERY), asyncio.run(retriever.ainvoke(QUERY))):
        assert [(d.metadata["n"], d.metadata["relevance_score"]) for d in out] == expected


def test_langchain_fields_key_and_refusals(service, monkeypatch):
    from langchain_dashscope_embed import DashScopeRerank

    monkeypatch.setenv("DASHSCOPE_API_KEY", SECRET)
    rerank = DashScopeRerank(base_url=service.base_url, max_retries=1, max_concurrency=2, timeout=5)
    assert rerank.dashscope_api_key.get_secret_value() == SECRET
    assert SECRET not in repr(rerank) and SECRET not in str(rerank.model_dump())
    assert SECRET not in rerank.model_dump_json()
    copy = pickle.loads(pickle.dumps(rerank))
    assert copy.api_key.get_secret_value() == SECRET and copy.reranker.max_retries == 1
    with pytest.raises(ValidationError, match="retired on 2026-05-30; use qwen3-rerank"):
        DashScopeRerank(model="gte-rerank", base_url=service.base_url)
    with pytest.raises(InvalidOptionsError, match="not served by the compatible rerank endpoint"):
        DashScopeRerank(model="gte-rerank-v2", protocol="openai", base_url=service.base_url)
    with pytest.raises(InvalidInputError, match="query"):
        rerank.compress_documents(_documents(["a"]), "")
    assert service.stats.requests == 0


def test_langchain_async_path_does_not_use_a_thread(service, monkeypatch):
    from langchain_dashscope_embed import DashScopeRerank

    rerank = DashScopeRerank(base_url=service.base_url, top_n=2)
    monkeypatch.setattr(rerank.reranker, "rerank", None)  # only the async engine method may run
    out = asyncio.run(rerank.acompress_documents(_documents(corpus(5)), QUERY))
    assert [d.metadata["n"] for d in out] == [i for i, _ in rank(QUERY, corpus(5))[:2]]
