"""qwen3.7 models against the local service, every region, and no key in clear text."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from support.fakes import FakeDashScope

from dashscope_embed import DashScopeEmbedder, InvalidInputError, MultimodalEmbedder
from dashscope_embed.catalog import CATALOG
from dashscope_embed.planning import plan_batches, plan_requests
from dashscope_embed.settings import ENV, REGION_IDS, ConnectionSettings, resolve_connection

KEY = "sk-platform-secret-000111"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for names in ENV.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)


def texts(n: int) -> list[str]:
    return [f"passage number {i} about region {i % 6}" for i in range(n)]


# ---------------------------------------------------------------------------------------------- qwen3.7 catalog


def test_qwen37_catalog_facts():
    full, flash = CATALOG["qwen3.7-text-embedding"], CATALOG["qwen3.7-text-embedding-flash"]
    assert full.dimensions == (2560, 2048, 1536, 1024, 768, 512, 256) and full.default_dimension == 1024
    assert flash.dimensions == (1024, 768, 512, 256) and flash.default_dimension == 1024
    for spec in (full, flash):
        assert spec.kind == "text" and spec.max_rows == 20
        assert spec.max_tokens_per_row == spec.max_tokens_per_request == 128_000
        assert spec.text_type and spec.instruct and spec.sparse and spec.openai_compatible
        assert spec.source.startswith("https://help.aliyun.com/")
    assert full.regions == ("beijing", "singapore") and flash.regions == ("beijing",)
    assert (full.price_per_million_tokens_cny, full.batch_price_per_million_tokens_cny) == (0.5, 0.25)
    assert (flash.price_per_million_tokens_cny, flash.batch_price_per_million_tokens_cny) == (0.125, 0.063)


def test_45_texts_at_2560_dimensions_go_out_as_3_requests_of_at_most_20_rows(hash_service):
    with DashScopeEmbedder("qwen3.7-text-embedding", dimensions=2560, base_url=hash_service.base_url) as embedder:
        result = embedder.embed(texts(45))
    assert result.dense.shape == (45, 2560)
    records = hash_service.stats.recent
    assert sorted(r.rows for r in records) == [5, 20, 20]
    assert all(r.model == "qwen3.7-text-embedding" and r.parameters["dimension"] == 2560 for r in records)
    # rows land at their own positions: each vector equals the one the text gets on its own
    with DashScopeEmbedder("qwen3.7-text-embedding", dimensions=2560, base_url=hash_service.base_url) as embedder:
        alone = embedder.embed([texts(45)[37]]).dense[0]
    np.testing.assert_allclose(result.dense[37], alone, rtol=1e-6)


async def test_async_path_plans_the_same_requests(hash_service):
    async with DashScopeEmbedder("qwen3.7-text-embedding-flash", dimensions=256, base_url=hash_service.base_url) as e:
        result = await e.aembed(texts(41))
    assert result.dense.shape == (41, 256)
    assert sorted(r.rows for r in hash_service.stats.recent) == [1, 20, 20]


def test_4096_dimensions_fail_before_any_request():
    fake = FakeDashScope()
    with pytest.raises(InvalidInputError, match=r"4096.*2560, 2048, 1536, 1024, 768, 512, 256"):
        DashScopeEmbedder("qwen3.7-text-embedding", dimensions=4096, api_key=KEY, transport=fake.transport())
    with pytest.raises(InvalidInputError, match="2560"):
        DashScopeEmbedder("qwen3.7-text-embedding-flash", dimensions=2560, api_key=KEY, transport=fake.transport())
    assert fake.calls == 0


def test_dense_and_sparse_come_back_in_one_request(hash_service):
    with DashScopeEmbedder(
        "qwen3.7-text-embedding", output_type="dense&sparse", base_url=hash_service.base_url
    ) as embedder:
        result = embedder.embed(["sparse and dense together", "second row"], text_type="query")
    assert result.dense.shape == (2, 1024)
    assert len(result.sparse) == 2 and all(len(v) > 0 for v in result.sparse)
    (record,) = hash_service.stats.recent
    assert record.parameters["output_type"] == "dense&sparse" and record.parameters["text_type"] == "query"


def test_local_service_enforces_the_request_token_budget(hash_service):
    body = {
        "model": "qwen3.7-text-embedding-flash",
        "input": {"texts": ["word " * 70_000, "word " * 70_000]},  # each row fits, together they do not
    }
    reply = httpx.post(hash_service.base_url + "/api/v1/services/embeddings/text-embedding/text-embedding", json=body)
    assert reply.status_code == 400 and "128000" in reply.json()["message"]


def test_rows_over_the_token_budget_are_split_into_more_requests(hash_service):
    big = ["word " * 50_000 + str(i) for i in range(3)]  # about 50,000 tokens each: two fit in 128,000
    with DashScopeEmbedder("qwen3.7-text-embedding-flash", base_url=hash_service.base_url, dimensions=256) as e:
        result = e.embed(big + ["short"])
    assert result.dense.shape == (4, 256)
    assert sorted(r.rows for r in hash_service.stats.recent) == [2, 2]


def test_plan_requests_respects_rows_and_budget():
    rows = ["a " * 10] * 7
    assert plan_requests(rows, 3) == [(0, 3), (3, 6), (6, 7)]
    # each row is 10 tokens; a budget of 25 holds two rows
    assert plan_requests(rows, 20, 25) == [(0, 2), (2, 4), (4, 6), (6, 7)]
    # a single row over the budget travels alone (the per-row limit is the engine's business)
    assert plan_requests(["x " * 40, "y"], 20, 25) == [(0, 1), (1, 2)]


def test_the_old_names_of_request_planning_still_work_and_warn():
    from dashscope_embed import results

    with pytest.warns(DeprecationWarning, match="plan_requests"):
        assert plan_batches(["a", "b", "c"], 2) == plan_requests(["a", "b", "c"], 2)
    with pytest.warns(DeprecationWarning, match="RequestReply"):
        assert results.BatchReply is results.RequestReply


# ---------------------------------------------------------------------------------------------- regions


@pytest.mark.parametrize(
    "region, root",
    [
        ("beijing", "https://dashscope.aliyuncs.com"),
        ("cn-beijing", "https://dashscope.aliyuncs.com"),
        ("singapore", "https://dashscope-intl.aliyuncs.com"),
        ("ap-southeast-1", "https://dashscope-intl.aliyuncs.com"),
        ("virginia", "https://dashscope-us.aliyuncs.com"),
        ("us-east-1", "https://dashscope-us.aliyuncs.com"),
        ("hongkong", "https://cn-hongkong.dashscope.aliyuncs.com"),
        ("cn-hongkong", "https://cn-hongkong.dashscope.aliyuncs.com"),
    ],
)
def test_shared_region_roots_by_name_and_id(region, root):
    resolved = ConnectionSettings(region=region).resolved()
    assert resolved.root == root
    assert REGION_IDS[resolved.region] in (region, REGION_IDS.get(region))


@pytest.mark.filterwarnings("ignore::dashscope_embed.catalog.UnknownModelWarning")
def test_virginia_sends_to_dashscope_us():
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return FakeDashScope()._sync_handler(request)

    embedder = DashScopeEmbedder(
        "some-model-only-in-virginia", region="virginia", api_key=KEY, transport=httpx.MockTransport(handler)
    )
    embedder.embed(["hello"])
    assert seen[0].host == "dashscope-us.aliyuncs.com" and seen[0].scheme == "https"


@pytest.mark.parametrize("region", ["frankfurt", "eu-central-1", "tokyo", "ap-northeast-1"])
def test_workspace_only_regions_need_a_workspace(region):
    with pytest.raises(InvalidInputError, match=r"workspace.*maas\.aliyuncs\.com"):
        ConnectionSettings(region=region).resolved()


@pytest.mark.filterwarnings("ignore::dashscope_embed.catalog.UnknownModelWarning")
def test_frankfurt_with_workspace_sends_to_the_workspace_domain():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return FakeDashScope()._sync_handler(request)

    with pytest.raises(InvalidInputError, match="workspace"):
        DashScopeEmbedder("new-frankfurt-model", region="frankfurt", api_key=KEY)
    embedder = DashScopeEmbedder(
        "new-frankfurt-model", region="frankfurt", workspace="ws1", api_key=KEY, transport=httpx.MockTransport(handler)
    )
    embedder.embed(["hallo"])
    assert seen[0].url.host == "ws1.eu-central-1.maas.aliyuncs.com"
    assert seen[0].headers["x-dashscope-workspace"] == "ws1"
    assert embedder.settings.region == "frankfurt"


@pytest.mark.parametrize("region", list(REGION_IDS))
def test_every_region_has_a_workspace_domain(region):
    from dashscope_embed.settings import workspace_root

    root = workspace_root("ws1", region)
    assert root == f"https://ws1.{REGION_IDS[region]}.maas.aliyuncs.com"
    assert ConnectionSettings(base_url=root).resolved().region == region


@pytest.mark.parametrize(
    "env, root, workspace",
    [
        ({"DASHSCOPE_REGION": "virginia"}, "https://dashscope-us.aliyuncs.com", None),
        ({"DASHSCOPE_API_REGION": "ap-southeast-1"}, "https://dashscope-intl.aliyuncs.com", None),
        ({"DASHSCOPE_REGION": "tokyo", "DASHSCOPE_WORKSPACE": "ws2"}, "https://ws2.ap-northeast-1.maas.aliyuncs.com", "ws2"),
        ({"DASHSCOPE_API_REGION": "eu-central-1", "DASHSCOPE_WORKSPACE_ID": "ws3"},
         "https://ws3.eu-central-1.maas.aliyuncs.com", "ws3"),
    ],
)
def test_environment_of_both_sdk_generations(monkeypatch, env, root, workspace):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    resolved = resolve_connection()
    assert resolved.root == root and resolved.workspace == workspace


def test_sdk2_spelling_wins_over_sdk1(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_REGION", "singapore")
    monkeypatch.setenv("DASHSCOPE_API_REGION", "virginia")
    assert resolve_connection().region == "singapore"


def test_unknown_region_lists_all_six():
    with pytest.raises(InvalidInputError) as info:
        resolve_connection(region="mars")
    for name, region_id in REGION_IDS.items():
        assert name in str(info.value) and region_id in str(info.value)


def test_model_not_offered_in_the_region_names_where_it_is():
    with pytest.raises(InvalidInputError, match=r"not offered in region 'virginia'.*beijing.*singapore"):
        DashScopeEmbedder("qwen3.7-text-embedding", region="virginia", api_key=KEY)
    with pytest.raises(InvalidInputError, match=r"not offered in region 'singapore' \(ap-southeast-1\).*beijing"):
        DashScopeEmbedder("qwen3.7-text-embedding-flash", region="ap-southeast-1", api_key=KEY)
    # a root that names its region counts too
    with pytest.raises(InvalidInputError, match="not offered in region 'singapore'"):
        DashScopeEmbedder("qwen3.7-text-embedding-flash", base_url="https://dashscope-intl.aliyuncs.com/api/v1",
                          api_key=KEY)
    with pytest.raises(InvalidInputError, match="not offered in"):
        MultimodalEmbedder("multimodal-embedding-v1", region="singapore", api_key=KEY)
    # offered: fine
    DashScopeEmbedder("qwen3.7-text-embedding", region="singapore", api_key=KEY)


# ---------------------------------------------------------------------------------------------- no clear-text key


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return FakeDashScope()._sync_handler(request)

        return httpx.MockTransport(handler)


@pytest.mark.parametrize("make", [
    lambda **kw: DashScopeEmbedder("text-embedding-v4", **kw),
    lambda **kw: MultimodalEmbedder("multimodal-embedding-v1", **kw),
])
def test_key_over_plain_http_to_a_remote_host_is_refused_before_any_request(make):
    recorder = Recorder()
    with pytest.raises(InvalidInputError, match=r"clear text.*remote-host.*allow_insecure_http=True") as info:
        make(base_url="http://remote-host", api_key=KEY, transport=recorder.transport())
    assert KEY not in str(info.value)
    assert recorder.requests == []


def test_key_from_the_environment_over_plain_http_is_refused(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    monkeypatch.setenv("DASHSCOPE_BASE_URL", "http://gateway.internal:8080/api/v1")
    with pytest.raises(InvalidInputError, match="DASHSCOPE_ALLOW_INSECURE_HTTP"):
        DashScopeEmbedder()


def test_adapters_refuse_it_too():
    from pydantic import ValidationError

    from langchain_dashscope_embed import DashScopeEmbeddings
    from llama_index_dashscope_embed import DashScopeEmbedding

    recorder = Recorder()
    with pytest.raises(ValidationError, match="clear text"):
        DashScopeEmbeddings(base_url="http://remote-host", api_key=KEY, transport=recorder.transport())
    with pytest.raises(ValidationError, match="clear text"):
        DashScopeEmbedding(base_url="http://remote-host", api_key=KEY, transport=recorder.transport())
    assert recorder.requests == []
    # the opt-in is a field of both adapters
    DashScopeEmbeddings(base_url="http://remote-host", api_key=KEY, allow_insecure_http=True,
                        transport=recorder.transport()).embed_query("via the gateway")
    DashScopeEmbedding(base_url="http://remote-host", api_key=KEY, allow_insecure_http=True,
                       transport=recorder.transport()).get_query_embedding("via the gateway")
    assert [r.url.host for r in recorder.requests] == ["remote-host", "remote-host"]


def test_explicit_opt_in_for_a_trusted_gateway(monkeypatch):
    recorder = Recorder()
    embedder = DashScopeEmbedder(base_url="http://remote-host", api_key=KEY, allow_insecure_http=True,
                                 transport=recorder.transport())
    embedder.embed(["through the gateway"])
    assert recorder.requests[0].url.host == "remote-host"
    monkeypatch.setenv("DASHSCOPE_ALLOW_INSECURE_HTTP", "1")
    DashScopeEmbedder(base_url="http://remote-host", api_key=KEY)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://localhost:8000", "http://[::1]:8000"])
def test_loopback_and_https_are_fine(url):
    assert resolve_connection(base_url=url, api_key=KEY).is_local
    resolve_connection(base_url="https://remote-host", api_key=KEY)


@pytest.mark.parametrize("url", ["http://localhost.example.com", "http://127.0.0.1.example.com"])
def test_lookalike_hosts_are_not_loopback(url):
    with pytest.raises(InvalidInputError, match="clear text"):
        resolve_connection(base_url=url, api_key=KEY)
