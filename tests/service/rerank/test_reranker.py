"""DashScopeReranker against the local service: exact rankings over many requests, limits, faults, refusals."""

from __future__ import annotations

import math
import pickle

import pytest

from support.rerank_helpers import QUERY, corpus
from dashscope_embed import DashScopeError, DashScopeReranker, InvalidInputError
from dashscope_embed.errors import AuthenticationError
from dashscope_embed.rerank import request_tokens
from dashscope_embed.rerank.planning import plan_rerank_requests
from dashscope_embed.server import FaultConfig
from dashscope_embed.server.relevance import rank
from dashscope_embed.tokens import count_tokens


def expected_tokens(query: str, docs: list[str], ranges) -> int:
    q = count_tokens(query)
    return sum(request_tokens(q, [count_tokens(d) for d in docs[a:b]]) for a, b in ranges)


@pytest.mark.parametrize("protocol", ["dashscope", "openai"])
def test_1200_documents_ranked_exactly_as_the_service_ranks_them(service, make_reranker, rerank, protocol):
    docs = corpus(1200)
    reranker = make_reranker(protocol=protocol)
    result = rerank(reranker, QUERY, docs)
    assert [(item.index, item.relevance_score) for item in result] == rank(QUERY, docs)
    assert len({item.relevance_score for item in result}) > 5  # a real ranking, not one tied score
    # split by count: 500 documents per request for qwen3-rerank
    assert service.stats.requests == 3 and service.stats.ok == 3
    assert sorted(r.rows for r in service.stats.recent) == [200, 500, 500]
    endpoint = "rerank" if protocol == "dashscope" else "rerank-compatible"
    assert service.stats.snapshot().by_endpoint == {endpoint: 3}
    assert result.usage.requests == 3 and len(result.request_ids) == 3
    assert result.usage.total_tokens == expected_tokens(QUERY, docs, [(0, 500), (500, 1000), (1000, 1200)])
    assert result.cost_cny == pytest.approx(result.usage.total_tokens / 1e6 * 0.5)
    assert reranker.usage.total_tokens == result.usage.total_tokens


def test_split_by_token_budget(service, make_reranker, rerank):
    docs = corpus(600, words_per_doc=150)  # ~160 tokens each with the query: gte-rerank-v2's 30,000 binds first
    reranker = make_reranker("gte-rerank-v2")
    ranges = reranker.plan(QUERY, docs)
    q = count_tokens(QUERY)
    counts = [count_tokens(d) for d in docs]
    assert len(ranges) > 2 and all(b - a < 500 for a, b in ranges)  # not the document limit
    for a, b in ranges:
        assert request_tokens(q, counts[a:b]) <= 30_000
        if b < len(docs):  # greedy: one more document would not have fitted
            assert request_tokens(q, counts[a : b + 1]) > 30_000
    result = rerank(reranker, QUERY, docs)
    assert [(i.index, i.relevance_score) for i in result] == rank(QUERY, docs)
    assert service.stats.requests == len(ranges)
    assert result.usage.total_tokens == expected_tokens(QUERY, docs, ranges)


def test_plan_rerank_requests_counts_the_query_once_per_document():
    assert plan_rerank_requests(10, [5] * 6, max_documents=4, max_tokens_per_request=1000) == [(0, 4), (4, 6)]
    assert plan_rerank_requests(10, [5] * 6, max_documents=100, max_tokens_per_request=45) == [(0, 3), (3, 6)]
    assert plan_rerank_requests(10, [], 4, 100) == []
    with pytest.raises(InvalidInputError, match=r"document \[1\]"):
        plan_rerank_requests(50, [10, 60], 4, 100)


def test_top_n_is_applied_after_the_merge(service, make_reranker, rerank):
    docs = corpus(1200)
    result = rerank(make_reranker(), QUERY, docs, top_n=7)
    assert [(i.index, i.relevance_score) for i in result] == rank(QUERY, docs)[:7]
    # each request asks for at most top_n results: enough for an exact global top 7
    assert [r.parameters.get("top_n") for r in service.stats.recent] == [7, 7, 7]


def test_return_documents_and_instruct_go_on_the_wire(service, make_reranker, rerank):
    docs = corpus(30)
    reranker = make_reranker(instruct="Rank answers to programming questions.")
    result = rerank(reranker, QUERY, docs, top_n=4, return_documents=True)
    assert [item.document for item in result] == [docs[i] for i, _ in rank(QUERY, docs)[:4]]
    (record,) = service.stats.recent
    assert record.parameters == {"top_n": 4, "return_documents": True,
                                 "instruct": "Rank answers to programming questions."}
    assert result[0].to_dict()["document"] == {"text": result[0].document}
    plain = rerank(make_reranker(), QUERY, docs, top_n=2)
    assert all(item.document is None for item in plain)


def test_compatible_protocol_sends_the_flat_body(service, make_reranker):
    reranker = make_reranker(protocol="openai", instruct="Find code answers.")
    reranker.rerank(QUERY, corpus(5), top_n=2)
    (record,) = service.stats.recent
    assert record.endpoint == "rerank-compatible"
    assert record.parameters == {"top_n": 2, "instruct": "Find code answers."}
    # the compatible API's own root spelling implies its protocol
    assert DashScopeReranker(base_url=service.base_url + "/compatible-api/v1").protocol == "openai"


def test_compatible_protocol_sends_only_documented_fields_and_still_returns_documents(service, make_reranker):
    docs = corpus(5)
    result = make_reranker(protocol="openai", return_documents=True).rerank(QUERY, docs, top_n=3)
    (record,) = service.stats.recent
    assert record.parameters == {"top_n": 3}  # return_documents is not a field of the compatible API
    assert [item.document for item in result] == [docs[item.index] for item in result]


def test_faults_are_retried_and_no_finished_request_is_sent_again(service, make_reranker, rerank):
    docs = corpus(1200)
    service.set_faults(FaultConfig(schedule={0: "503", 1: "429", 2: "drop", 4: "500"}, retry_after=0))
    result = rerank(make_reranker(), QUERY, docs)
    assert [(i.index, i.relevance_score) for i in result] == rank(QUERY, docs)
    stats = service.stats.snapshot()
    assert stats.faults == {"503": 1, "429": 1, "drop": 1, "500": 1}
    assert stats.ok == 3 and stats.requests == 7  # 3 requests + 4 retries


def test_shuffled_replies_merge_the_same(service, make_reranker, rerank):
    docs = corpus(1200)
    service.set_faults(FaultConfig(shuffle_rate=1.0))
    result = rerank(make_reranker(), QUERY, docs)
    assert [(i.index, i.relevance_score) for i in result] == rank(QUERY, docs)
    assert service.stats.faults == {"shuffle": 3}


def test_exhausted_retries_raise_a_typed_error(service, make_reranker):
    service.set_faults(FaultConfig(rate_503=1.0))
    with pytest.raises(DashScopeError) as info:
        make_reranker(max_retries=1, max_concurrency=1).rerank(QUERY, corpus(3))
    assert info.value.status_code == 503 and info.value.attempts == 2


def test_a_smaller_service_limit_is_learned_and_re_split(service, make_reranker, rerank):
    docs = corpus(700)
    reranker = make_reranker(catalog_overrides={"max_documents": 700})  # the service allows 500
    result = rerank(reranker, QUERY, docs)
    assert [(i.index, i.relevance_score) for i in result] == rank(QUERY, docs)
    assert reranker.max_documents == 500
    assert service.stats.by_status == {400: 1, 200: 2}
    assert pickle.loads(pickle.dumps(reranker)).max_documents == 500  # a worker's copy keeps what was learned


def test_empty_documents_need_no_request_and_bad_inputs_are_refused_early(service, make_reranker, rerank):
    reranker = make_reranker()
    result = rerank(reranker, QUERY, [])
    assert list(result) == [] and result.usage.requests == 0
    for query in ("", "   ", None):
        with pytest.raises(InvalidInputError, match="query"):
            reranker.rerank(query, ["a document"])
    with pytest.raises(InvalidInputError, match=r"\[1\] whitespace only, \[2\] None"):
        reranker.rerank(QUERY, ["fine", "  ", None])
    with pytest.raises(InvalidInputError, match="single str"):
        reranker.rerank(QUERY, "one string")
    with pytest.raises(InvalidInputError, match="top_n"):
        reranker.rerank(QUERY, ["fine"], top_n=0)
    assert service.stats.requests == 0


def test_lone_surrogates_are_refused_by_position_before_any_request(service, make_reranker, rerank):
    reranker = make_reranker()
    docs = corpus(60)
    docs[50] = "broken \ud800 text"
    with pytest.raises(InvalidInputError, match=r"1 of 60 documents cannot be reranked.*\[50\] lone surrogate"):
        rerank(reranker, QUERY, docs)
    with pytest.raises(InvalidInputError, match="query cannot be reranked: lone surrogate"):
        rerank(reranker, "query \udfff", corpus(3))
    assert service.stats.requests == 0


def test_refusals_before_any_request(service, make_reranker):
    with pytest.raises(InvalidInputError, match="gte-rerank was retired on 2026-05-30; use qwen3-rerank"):
        make_reranker("gte-rerank")
    with pytest.raises(InvalidInputError, match="gte-rerank-v2 does not accept instruct"):
        make_reranker("gte-rerank-v2", instruct="Rank code answers.")
    with pytest.raises(InvalidInputError, match="gte-rerank-v2 does not accept instruct"):
        make_reranker("gte-rerank-v2").rerank(QUERY, ["doc"], instruct="Rank code answers.")
    with pytest.raises(InvalidInputError, match="not served by the compatible rerank endpoint.*qwen3-rerank"):
        make_reranker("gte-rerank-v2", protocol="openai")
    with pytest.raises(InvalidInputError, match="embedding model, not a rerank model"):
        make_reranker("text-embedding-v4")
    with pytest.raises(InvalidInputError, match="not offered in region"):
        DashScopeReranker("qwen3.7-text-rerank", region="singapore", api_key="sk-x")
    with pytest.raises(InvalidInputError, match=r"oversize='error'"):
        make_reranker(oversize="error").rerank(QUERY, ["ok", "word " * 4100])
    assert service.stats.requests == 0


def test_over_long_documents_are_truncated_and_counted_at_the_limit(service, make_reranker):
    docs = ["python file " * 2500, "read a line"]  # the first is over 4,000 tokens
    result = make_reranker().rerank(QUERY, docs)
    assert result.usage.total_tokens == 2 * count_tokens(QUERY) + 4000 + count_tokens(docs[1])


def test_the_service_refuses_what_the_catalog_forbids(service):
    import httpx

    with httpx.Client(base_url=service.base_url) as client:
        reply = client.post("/api/v1/services/rerank/text-rerank/text-rerank",
                            json={"model": "gte-rerank", "input": {"query": "q", "documents": ["d"]}})
        assert reply.status_code == 400 and "qwen3-rerank" in reply.json()["message"]
        reply = client.post("/api/v1/services/rerank/text-rerank/text-rerank",
                            json={"model": "gte-rerank-v2", "input": {"query": "q", "documents": ["d"]},
                                  "parameters": {"instruct": "x"}})
        assert reply.status_code == 400 and reply.json()["code"] == "InvalidParameter"
        reply = client.post("/compatible-api/v1/reranks", json={"model": "nope", "query": "q", "documents": ["d"]})
        assert reply.status_code == 404 and reply.json()["error"]["code"] == "model_not_found"
        reply = client.post("/compatible-api/v1/reranks",
                            json={"model": "qwen3-rerank", "query": "", "documents": ["d"]})
        assert reply.json()["error"]["code"] == "BadRequest.EmptyInput"
        reply = client.post("/api/v1/services/rerank/text-rerank/text-rerank",
                            json={"model": "gte-rerank-v2",
                                  "input": {"query": "word " * 200, "documents": ["word " * 200] * 100}})
        assert reply.status_code == 400 and "30000" in reply.json()["message"]


def test_errors_from_the_service_are_typed():
    from dashscope_embed.server import LocalService

    with LocalService(backend="hash", api_key="right-key") as locked:
        with pytest.raises(AuthenticationError):
            DashScopeReranker(base_url=locked.base_url, api_key="wrong-key", max_retries=0).rerank(QUERY, ["d"])


def test_key_never_shown_and_pickling_keeps_the_configuration(make_reranker):
    reranker = make_reranker(api_key="sk-verysecretkey1234567", top_n=3, instruct="Rank code.")
    assert "verysecret" not in repr(reranker)
    copy = pickle.loads(pickle.dumps(reranker))
    assert copy.model == "qwen3-rerank" and copy.top_n == 3 and copy.instruct == "Rank code."
    assert copy.rerank(QUERY, corpus(10)).indices == [i for i, _ in rank(QUERY, corpus(10))[:3]]
    copy.close()


def test_the_key_is_cleaned_and_unknown_arguments_are_named(service, make_reranker):
    reranker = make_reranker(api_key="sk-verysecretkey1234567\n")
    assert reranker._api_key.get_secret_value() == "sk-verysecretkey1234567"
    assert pickle.loads(pickle.dumps(reranker))._api_key.get_secret_value() == "sk-verysecretkey1234567"
    with pytest.raises(InvalidInputError, match=r"'max_concurency' \(did you mean 'max_concurrency'\?\)"):
        make_reranker(max_concurency=2)
    with pytest.raises(InvalidInputError, match="api_key is empty"):
        make_reranker(api_key="  ")


def test_usage_and_cost_per_model(make_reranker):
    result = make_reranker("gte-rerank-v2").rerank(QUERY, corpus(20))
    assert result.model == "gte-rerank-v2"
    assert result.cost_cny == pytest.approx(result.usage.total_tokens * 0.8 / 1e6)
    assert math.isclose(result.usage.total_tokens, expected_tokens(QUERY, corpus(20), [(0, 20)]))


def test_byte_lengths_spare_the_tokenizer_when_they_prove_the_fit(service, make_reranker, monkeypatch):
    import dashscope_embed.rerank.engine as engine

    def refuse(text):
        raise AssertionError("the tokenizer ran")

    docs = corpus(1200)
    plain = make_reranker()
    with monkeypatch.context() as patch:  # the client's planning only: the in-process service counts for real
        patch.setattr(engine.tokens, "count_tokens", refuse)
        assert plain.plan(QUERY, docs) == [(0, 500), (500, 1000), (1000, 1200)]
        with pytest.raises(AssertionError, match="tokenizer ran"):  # bytes over the budget: real counts needed
            make_reranker("gte-rerank-v2").plan(QUERY, corpus(600, words_per_doc=150))
        with pytest.raises(AssertionError, match="tokenizer ran"):  # token pacing needs real counts
            make_reranker(tokens_per_minute=1e9).plan(QUERY, docs)
    assert [(i.index, i.relevance_score) for i in plain.rerank(QUERY, docs)] == rank(QUERY, docs)


def test_the_dashscope_sdks_textrerank_reads_the_local_service(service):
    dashscope = pytest.importorskip("dashscope")

    docs = corpus(12)
    reply = dashscope.TextReRank.call(
        model="qwen3-rerank", query=QUERY, documents=docs, top_n=3, return_documents=True, api_key="sk-local",
        instruct="Rank code answers.", base_address=f"{service.base_url}/api/v1",
    )
    assert reply.status_code == 200, reply
    results = reply.output.results
    assert [(r.index, r.relevance_score) for r in results] == rank(QUERY, docs)[:3]
    assert results[0]["document"]["text"] == docs[results[0]["index"]]
    assert reply.usage.total_tokens == expected_tokens(QUERY, docs, [(0, 12)])
    assert service.stats.recent[-1].parameters == {"top_n": 3, "return_documents": True,
                                                   "instruct": "Rank code answers."}


def test_an_over_long_query_is_truncated_and_counted_at_the_limit(service, make_reranker, rerank):
    # The limit per item covers the query as well as each document: the service truncates a longer query, so a
    # request counts it at the limit and no query is too long to send.
    from dashscope_embed.tokens import truncate

    docs = corpus(40)
    for query in ("python file read line " * 2500, "python file read line " * 8000):
        assert count_tokens(query) > 4000
        reranker = make_reranker("gte-rerank-v2")
        ranges = reranker.plan(query, docs)
        assert ranges == [(a, min(a + 7, 40)) for a in range(0, 40, 7)]  # 7 x (4,000 + a short document) fit
        result = rerank(reranker, query, docs)
        assert [(i.index, i.relevance_score) for i in result] == rank(truncate(query, 4000), docs)
        counts = [count_tokens(d) for d in docs]
        assert result.usage.total_tokens == sum(request_tokens(4000, counts[a:b]) for a, b in ranges)


def test_regions_follow_the_model_overview():
    # The text rerank page's model overview: qwen3-rerank in Singapore and Beijing, gte-rerank-v2 in Beijing only.
    from dashscope_embed.rerank import RERANK_CATALOG

    assert RERANK_CATALOG["qwen3-rerank"].regions == ("beijing", "singapore")
    assert RERANK_CATALOG["gte-rerank-v2"].regions == ("beijing",)
    DashScopeReranker("qwen3-rerank", region="singapore", api_key="sk-x").close()
    with pytest.raises(InvalidInputError, match="gte-rerank-v2 is not offered in region .singapore.*offered in: .beijing"):
        DashScopeReranker("gte-rerank-v2", region="singapore", api_key="sk-x")
    with pytest.raises(InvalidInputError, match="qwen3-rerank is not offered in region"):
        DashScopeReranker("qwen3-rerank", region="frankfurt", workspace="ws-1", api_key="sk-x")
