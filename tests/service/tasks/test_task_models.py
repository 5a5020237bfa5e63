"""The asynchronous-task models in the catalog, and their refusal by every real-time entry point."""

from __future__ import annotations

import pydantic
import pytest

from dashscope_embed import DashScopeEmbedder, InvalidInputError
from dashscope_embed.catalog import CATALOG
from dashscope_embed.catalog_table import catalog_records

TASK_MODELS = ("text-embedding-async-v2", "text-embedding-async-v1")


@pytest.mark.parametrize("model", TASK_MODELS)
def test_catalog_rows(model):
    spec = CATALOG[model]
    assert spec.async_task and spec.kind == "text"
    assert spec.dimensions == (1536,) and spec.default_dimension == 1536
    assert spec.max_rows == 100_000 and spec.max_tokens_per_row == 2048
    assert spec.text_type and not spec.instruct and not spec.sparse and not spec.openai_compatible
    assert spec.regions == ("beijing",)
    assert spec.price_per_million_tokens_cny == 0.7  # CNY 0.0007 per 1,000 tokens
    assert spec.batch_price_per_million_tokens_cny is None
    assert spec.source.endswith("text-embedding-batch-api")
    record = next(r for r in catalog_records() if r["name"] == model)
    assert "async-task" in record["features"]


def test_free_quota_only_for_v2():
    v2, v1 = CATALOG["text-embedding-async-v2"], CATALOG["text-embedding-async-v1"]
    assert (v2.free_quota_tokens, v2.free_quota_days) == (20_000_000, 90)
    assert (v1.free_quota_tokens, v1.free_quota_days) == (None, None)
    assert not any(s.async_task for n, s in CATALOG.items() if n not in TASK_MODELS)


@pytest.mark.parametrize("model", TASK_MODELS)
def test_engine_refuses_at_construction_and_says_how(model):
    # a base URL nothing listens on: the refusal must come before any request
    with pytest.raises(InvalidInputError) as info:
        DashScopeEmbedder(model, api_key="sk-test", base_url="http://127.0.0.1:9")
    text = str(info.value)
    assert f"--model {model}" in text and "AsyncTaskJob" in text and "text-embedding-v2" in text


def _cause(error: pydantic.ValidationError) -> BaseException:
    return error.errors()[0]["ctx"]["error"]


@pytest.mark.parametrize("model", TASK_MODELS)
def test_adapters_refuse_at_construction(model):
    from langchain_dashscope_embed import DashScopeEmbeddings
    from llama_index_dashscope_embed import DashScopeEmbedding

    for build in (lambda: DashScopeEmbedding(model_name=model, api_key="sk-test"),
                  lambda: DashScopeEmbeddings(model=model, api_key="sk-test")):
        with pytest.raises(pydantic.ValidationError) as info:
            build()
        cause = _cause(info.value)
        assert isinstance(cause, InvalidInputError) and f"--model {model}" in str(cause)


@pytest.mark.parametrize("model", TASK_MODELS)
def test_the_job_call_the_refusal_suggests_runs(model, task_service, tmp_path, monkeypatch):
    import re

    import pyarrow.parquet as pq

    import dashscope_embed.batch

    with pytest.raises(InvalidInputError) as info:
        DashScopeEmbedder(model, api_key="sk-test", base_url="http://127.0.0.1:9")
    call = re.search(r"(dashscope_embed\.batch\.AsyncTaskJob\(.*?\)\.run\(\))", str(info.value))
    assert call is not None, str(info.value)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    monkeypatch.setenv("DASHSCOPE_BASE_URL", task_service.base_url)
    output = tmp_path / "out.parquet"
    namespace = {"dashscope_embed": dashscope_embed, "rows": [("a", "one text"), ("b", "another")], "output": output}
    eval(call.group(1), namespace)  # the exact call the message tells a user to write
    assert pq.read_table(output).column("id").to_pylist() == ["a", "b"]
