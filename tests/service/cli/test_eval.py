"""The eval job: judged-set loading, ranking, scoring through the engine, and the command's table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dashscope_embed.jobs.evaluate import evaluate_embedder, format_table, load_judged_set, rank_documents

from support.fakes import FakeDashScope, make_embedder

DOCS = {f"d{i}": f"passage number {i} about topic {i}" for i in range(12)}


def write_set(tmp_path: Path, docs_as_list: bool = False, queries: dict | None = None) -> Path:
    queries = queries or {f"q{i}": DOCS[f"d{i}"] for i in range(0, 12, 2)}  # each query repeats its passage
    data = {
        "docs": [{"id": k, "text": v, "src": "x"} for k, v in DOCS.items()] if docs_as_list else DOCS,
        "queries": [{"id": k, "text": v} for k, v in queries.items()] + [{"id": "unjudged", "text": "ignored"}],
        "qrels": {q: {f"d{q[1:]}": 1} for q in queries},
    }
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("docs_as_list", [False, True])
def test_load_judged_set_both_shapes(tmp_path, docs_as_list):
    judged = load_judged_set(write_set(tmp_path, docs_as_list))
    assert judged.doc_ids == list(DOCS) and judged.doc_texts == list(DOCS.values())
    assert judged.query_ids == [f"q{i}" for i in range(0, 12, 2)]  # the unjudged query is dropped
    assert judged.qrels["q4"] == {"d4": 1.0}


def test_load_judged_set_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"docs": {}, "queries": {}}))
    with pytest.raises(ValueError, match="no 'qrels' key"):
        load_judged_set(bad)
    bad.write_text(json.dumps({"docs": {"d1": "x"}, "queries": {"q": "y"}, "qrels": {"q": {"d9": 1}}}))
    with pytest.raises(ValueError, match="unknown document ids"):
        load_judged_set(bad)
    bad.write_text(json.dumps({"docs": "nope", "queries": {}, "qrels": {}}))
    with pytest.raises(ValueError, match="docs must be"):
        load_judged_set(bad)


def test_rank_documents_orders_by_cosine():
    docs = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    queries = np.array([[0, 2], [3, 0.1]], dtype=np.float32)
    assert rank_documents(queries, docs, 3).tolist() == [[1, 2, 0], [0, 2, 1]]
    assert rank_documents(queries, docs, 10).shape == (2, 3)


def test_evaluate_embedder_scores_a_perfect_ranking_and_counts_costs(tmp_path):
    judged = load_judged_set(write_set(tmp_path))
    fake = FakeDashScope()
    # compatible mode sends no text_type, so a query identical to its passage gets the identical vector
    embedder = make_embedder(fake, base_url="https://example.test/compatible-mode/v1", dimensions=64)
    result = evaluate_embedder(embedder, judged, k=10)
    assert result.metrics["ndcg@10"] == pytest.approx(1.0)
    assert result.metrics["recall@10"] == pytest.approx(1.0)
    assert result.metrics["mrr@10"] == pytest.approx(1.0)
    assert result.requests == 3  # 12 docs in 2 requests + 6 queries in 1
    assert result.tokens == sum(len(t.split()) for t in judged.doc_texts + judged.query_texts)
    table = format_table([result])
    assert "nDCG@10" in table and "1.0000" in table and "text-embedding-v4 d=64 openai" in table


def test_evaluate_embedder_native_sends_query_and_document_sides(tmp_path):
    judged = load_judged_set(write_set(tmp_path))
    fake = FakeDashScope()
    evaluate_embedder(make_embedder(fake, dimensions=64), judged)
    sides = [b["parameters"]["text_type"] for b in fake.bodies]
    assert sorted(sides) == ["document", "document", "query"]


def test_eval_command_on_the_local_service(tmp_path, capsys):
    from dashscope_embed.cli import main

    path = write_set(tmp_path)
    status = main(["eval", "--dataset", str(path), "--local", "--backend", "hash", "--protocol", "openai",
                   "--dimensions", "64"])
    out = capsys.readouterr().out
    assert status == 0
    assert "nDCG@10" in out and "1.0000" in out
