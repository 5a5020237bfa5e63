"""``dashscope-embed eval --rerank`` and ``models`` with the rerank catalog, in-process on the local service."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support.rerank_helpers import corpus
from dashscope_embed.jobs.evaluate import load_judged_set, rank_documents
from dashscope_embed.jobs.evaluate_rerank import evaluate_with_rerank
from dashscope_embed.jobs.metrics import evaluate_rankings
from dashscope_embed.server.relevance import rank

DOCS = corpus(60)
# Queries that share words with one document each: lexical relevance finds them, hash vectors mostly do not.
QUERIES = {f"q{i}": " ".join(DOCS[i].split()[:4]) + f" doc{i}" for i in range(0, 60, 6)}


def write_set(tmp_path: Path) -> Path:
    data = {"docs": {f"d{i}": t for i, t in enumerate(DOCS)}, "queries": QUERIES,
            "qrels": {q: {f"d{q[1:]}": 1} for q in QUERIES}}
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data))
    return path


def test_evaluate_with_rerank_scores_both_rankings(tmp_path, service):
    from dashscope_embed import DashScopeEmbedder, DashScopeReranker

    judged = load_judged_set(write_set(tmp_path))
    with DashScopeEmbedder(base_url=service.base_url, dimensions=64) as embedder, \
            DashScopeReranker(base_url=service.base_url) as reranker:
        base, reranked = evaluate_with_rerank(embedder, reranker, judged, k=10, candidates=30)
        # predict both from the same vectors and the service's relevance
        docs = embedder.embed(judged.doc_texts, text_type="document").dense
        queries = embedder.embed(judged.query_texts, text_type="query").dense
    top = rank_documents(queries, docs, 30).tolist()
    first = {q: [judged.doc_ids[j] for j in row[:10]] for q, row in zip(judged.query_ids, top)}
    second = {
        q: [judged.doc_ids[row[i]] for i, _ in rank(text, [judged.doc_texts[j] for j in row])[:10]]
        for q, text, row in zip(judged.query_ids, judged.query_texts, top)
    }
    assert base.metrics == evaluate_rankings(first, judged.qrels, 10)
    assert reranked.metrics == evaluate_rankings(second, judged.qrels, 10)
    assert reranked.metrics["ndcg@10"] > base.metrics["ndcg@10"]
    assert reranked.requests == base.requests + len(QUERIES)  # one rerank request per query
    assert "qwen3-rerank (top 30)" in reranked.label


def test_eval_command_prints_both_figures(tmp_path, service, capsys):
    from dashscope_embed.cli import main

    status = main(["eval", "--dataset", str(write_set(tmp_path)), "--base-url", service.base_url,
                   "--dimensions", "64", "--rerank", "qwen3-rerank",
                   "--rerank-candidates", "60"])  # every document: hash vectors are not semantic
    out = capsys.readouterr().out
    assert status == 0
    rows = [line for line in out.splitlines() if line.startswith("text-embedding-v4")]
    assert len(rows) == 2 and "+ qwen3-rerank (top 60)" in rows[1]
    before, after = (float(row.split()[-7]) for row in rows)
    gain = float(re.search(r"nDCG@10 ([+-][0-9.]+)", out).group(1))
    assert gain == pytest.approx(after - before, abs=1e-4) and gain > 0
    assert service.stats.snapshot().by_endpoint["rerank"] == len(QUERIES)


def test_eval_command_refuses_a_retired_rerank_model(tmp_path, service, capsys):
    from dashscope_embed.cli import main

    status = main(["eval", "--dataset", str(write_set(tmp_path)), "--base-url", service.base_url,
                   "--dimensions", "64", "--rerank", "gte-rerank"])
    assert status == 2 and "use qwen3-rerank" in capsys.readouterr().err


def test_models_command_lists_the_rerank_models(capsys):
    from dashscope_embed.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("qwen3-rerank", "gte-rerank-v2", "qwen3.7-text-rerank"):
        assert re.search(rf"^{re.escape(name)}\s+500\s+4,000", out, re.M)
    assert re.search(r"^gte-rerank\s.*retired 2026-05-30 -> qwen3-rerank", out, re.M)
    assert main(["models", "--kind", "rerank", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["name"] for r in records} == {"qwen3-rerank", "gte-rerank-v2", "qwen3.7-text-rerank", "gte-rerank"}
    assert next(r for r in records if r["name"] == "qwen3-rerank")["max_tokens_per_request"] == 120000


def test_demo_shows_a_reranked_answer_in_both_pipelines(tmp_path, capsys, monkeypatch):
    from dashscope_embed.cli import main

    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "with.md").write_text("The with statement calls __enter__ and __exit__ of a context manager.\n\n" * 8,
                                      encoding="utf-8")
    (tmp_path / "loops.txt").write_text("Loops repeat a block of code while a condition holds.\n" * 30,
                                        encoding="utf-8")
    status = main(["demo", "--docs", str(tmp_path), "--local", "--backend", "hash", "--query",
                   "what does the with statement call?", "--top-k", "2", "--chunk-size", "64"])
    out = capsys.readouterr().out
    assert status == 0
    answers = re.findall(r"reranked by qwen3-rerank \(top 10, (\d+) tokens\): ([0-9.]+)  \[(.+?)\]", out)
    assert len(answers) == 2  # LlamaIndex, then LangChain
    assert all(int(tokens) > 0 and source == "with.md" for tokens, _, source in answers)


def test_demo_refuses_a_retired_rerank_model_before_indexing(tmp_path, capsys, monkeypatch):
    from dashscope_embed.cli import main

    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "a.md").write_text("The with statement calls __enter__ and __exit__.\n", encoding="utf-8")
    status = main(["demo", "--docs", str(tmp_path), "--local", "--backend", "hash", "--rerank", "gte-rerank"])
    captured = capsys.readouterr()
    assert status == 2 and "use qwen3-rerank" in captured.err
    assert "indexed" not in captured.out  # refused before a single chunk was embedded
