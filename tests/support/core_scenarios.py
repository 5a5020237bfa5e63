"""Engine calls recorded into cassettes. Each scenario is a plain function of a ``Target`` so that the cassette
test (``test_<name>`` in ``test_cassettes_core.py``) and the determinism check run exactly the same calls.

Every engine runs one request at a time with no retries: interactions then land in the cassette in a fixed order,
and a replay never sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from support import cassette_support as cs

from dashscope_embed import DashScopeEmbedder

MODULE = "test_cassettes_core"
SCENARIOS: dict[str, Callable[[cs.Target], Any]] = {}

DOCUMENTS = [
    "DashScope serves Qwen text embeddings in several regions.",
    "通义千问文本向量支持多种语言。",
    "Sparse vectors weight the tokens of a text.",
]
QUERY = "which regions serve text embeddings?"
INSTRUCT = "Given a question, retrieve passages that answer it"
BATCH = [f"document number {i}: {['alpha', 'beta', 'gamma', 'delta'][i % 4]}" for i in range(23)]


def scenario(fn: Callable[[cs.Target], Any]) -> Callable[[cs.Target], Any]:
    SCENARIOS[fn.__name__] = fn
    return fn


def engine(target: cs.Target, model: str = "text-embedding-v4", **kwargs: Any) -> DashScopeEmbedder:
    options: dict[str, Any] = dict(dimensions=64, max_concurrency=1, max_retries=0)
    options.update(target.engine_kwargs())
    options.update(kwargs)
    return DashScopeEmbedder(model, **options)


@scenario
def native_dense_documents(target):
    with engine(target) as e:
        return e.embed_documents(DOCUMENTS)


@scenario
def query_and_document(target):
    with engine(target) as e:
        plain_query = e.embed_query(QUERY)
        document = e.embed_documents([QUERY])
    with engine(target, instruct=INSTRUCT) as e:
        instructed_query = e.embed_query(QUERY)
    return plain_query, document, instructed_query


@scenario
def native_sparse(target):
    with engine(target, output_type="sparse") as e:
        return e.embed_documents(DOCUMENTS)


@scenario
def native_dense_and_sparse(target):
    with engine(target, output_type="dense&sparse") as e:
        return e.embed_documents(DOCUMENTS)


@scenario
def batched_documents(target):
    with engine(target) as e:
        return e.embed_documents(BATCH)


@scenario
def v3_dense(target):
    with engine(target, model="text-embedding-v3") as e:
        return e.embed_documents(DOCUMENTS[:2])


@scenario
def openai_compatible(target):
    with engine(target, protocol="openai") as e:
        return e.embed_documents(DOCUMENTS)


@scenario
def async_documents(target):
    async def run():
        async with engine(target) as e:
            return await e.aembed_documents(BATCH[:12])

    return asyncio.run(run())


@scenario
def auth_error(target):
    kwargs = target.engine_kwargs()
    kwargs["api_key"] = cs.WRONG_KEY
    with DashScopeEmbedder("text-embedding-v4", dimensions=64, max_concurrency=1, max_retries=0, **kwargs) as e:
        try:
            e.embed_documents(DOCUMENTS[:1])
        except Exception as exc:  # the test checks the type; here any failure is the recorded outcome
            return exc
    raise AssertionError("a wrong key was accepted")
