"""Adapter calls recorded into cassettes (tests in ``test_cassettes_adapters.py``, one cassette per scenario).

As in ``core_scenarios``: one request at a time and no retries, so the cassettes are reproducible and replays
never sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from support import cassette_support as cs

MODULE = "test_cassettes_adapters"
SCENARIOS: dict[str, Callable[[cs.Target], Any]] = {}

DOCUMENTS = [f"passage {i} about {topic}" for i, topic in enumerate(
    ["rivers", "mountains", "deserts", "forests", "oceans", "glaciers", "islands", "valleys", "caves", "lakes",
     "canyons", "volcanoes"]
)]  # 12 documents: two requests of 10 and 2 rows
QUERY = "where do glaciers form?"
INSTRUCT = "Given a geography question, retrieve the passage that answers it"


def scenario(fn: Callable[[cs.Target], Any]) -> Callable[[cs.Target], Any]:
    SCENARIOS[fn.__name__] = fn
    return fn


def llama_index_model(target: cs.Target, **kwargs: Any):
    from llama_index_dashscope_embed import DashScopeEmbedding

    options = dict(model_name="text-embedding-v4", dimensions=64, max_concurrency=1, max_retries=0, instruct=INSTRUCT)
    options.update(target.engine_kwargs(), **kwargs)
    return DashScopeEmbedding(**options)


def langchain_model(target: cs.Target, **kwargs: Any):
    from langchain_dashscope_embed import DashScopeEmbeddings

    options = dict(model="text-embedding-v4", dimensions=64, max_concurrency=1, max_retries=0, instruct=INSTRUCT)
    options.update(target.engine_kwargs(), **kwargs)
    return DashScopeEmbeddings(**options)


@scenario
def llama_index_text_batch_and_query(target):
    model = llama_index_model(target)
    try:
        return model.get_text_embedding_batch(DOCUMENTS), model.get_query_embedding(QUERY)
    finally:
        model.engine.close()


@scenario
def llama_index_async(target):
    model = llama_index_model(target)

    async def run():
        try:
            return await model.aget_text_embedding_batch(DOCUMENTS), await model.aget_query_embedding(QUERY)
        finally:
            await model.engine.aclose()

    return asyncio.run(run())


@scenario
def langchain_documents_and_query(target):
    model = langchain_model(target)
    try:
        return model.embed_documents(DOCUMENTS), model.embed_query(QUERY)
    finally:
        model.engine.close()


@scenario
def langchain_async(target):
    model = langchain_model(target)

    async def run():
        try:
            return await model.aembed_documents(DOCUMENTS), await model.aembed_query(QUERY)
        finally:
            await model.engine.aclose()

    return asyncio.run(run())


@scenario
def langchain_openai_compatible(target):
    model = langchain_model(target, protocol="openai", instruct=None)
    try:
        return model.embed_documents(DOCUMENTS[:3])
    finally:
        model.engine.close()
