"""Retrieval quality of an embedding configuration on a judged set (``dashscope-embed eval``).

A judged set is a JSON object with ``docs`` (``[{"id", "text", ...}]`` or ``{id: text}``), ``queries`` (same
shapes) and ``qrels`` (``{query_id: {doc_id: relevance}}``), as in ``python_faq.json``. Documents are embedded with
``text_type="document"``, queries with ``text_type="query"`` (the OpenAI-compatible protocol sends neither: it has
no such parameter). Documents are ranked by cosine similarity, exhaustively.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..engine import DashScopeEmbedder
from ..errors import InvalidInputError
from .metrics import evaluate_rankings

__all__ = ["JudgedSet", "EvalResult", "load_judged_set", "evaluate_embedder", "format_table"]


@dataclass(frozen=True)
class JudgedSet:
    """Documents, queries and judgments.

    Attributes:
        doc_ids / doc_texts: documents, aligned.
        query_ids / query_texts: queries that have judgments, aligned.
        qrels: ``{query_id: {doc_id: relevance}}``.
    """

    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, float]]


@dataclass(frozen=True)
class EvalResult:
    """Scores and costs of one configuration.

    Attributes:
        label: what was evaluated (model, dimension, protocol).
        metrics: ``{"ndcg@k", "recall@k", "mrr@k", "queries"}``.
        tokens / requests: what embedding the documents and queries took.
        seconds: wall time of the embedding calls.
    """

    label: str
    metrics: dict[str, float]
    tokens: int
    requests: int
    seconds: float


def _pairs(items: Any, what: str) -> list[tuple[str, str]]:
    if isinstance(items, Mapping):
        return [(str(k), v if isinstance(v, str) else str(v["text"])) for k, v in items.items()]
    if isinstance(items, list):
        return [(str(item["id"]), str(item["text"])) for item in items]
    raise InvalidInputError(f"{what} must be a list of {{id, text}} objects or an {{id: text}} object")


def load_judged_set(path: Path) -> JudgedSet:
    """Read a judged set.

    Raises:
        ValueError: a missing key, or judgments naming unknown documents.
        OSError: the file cannot be read.
    """
    data = orjson.loads(Path(path).read_bytes())
    for key in ("docs", "queries", "qrels"):
        if key not in data:
            raise InvalidInputError(f"{path}: no {key!r} key (a judged set has docs, queries and qrels)")
    docs = _pairs(data["docs"], "docs")
    queries = _pairs(data["queries"], "queries")
    qrels = {str(q): {str(d): float(g) for d, g in judged.items()} for q, judged in data["qrels"].items()}
    known = {d for d, _ in docs}
    unknown = {d for judged in qrels.values() for d in judged if d not in known}
    if unknown:
        raise InvalidInputError(f"{path}: qrels name {len(unknown)} unknown document ids, e.g. {sorted(unknown)[:3]}")
    queries = [(q, t) for q, t in queries if q in qrels]
    return JudgedSet(
        [d for d, _ in docs], [t for _, t in docs], [q for q, _ in queries], [t for _, t in queries], qrels
    )


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def rank_documents(query_vectors: np.ndarray, doc_vectors: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` most cosine-similar documents per query, best first: ``(n_queries, min(k, n_docs))``."""
    scores = _normalise(query_vectors.astype(np.float32)) @ _normalise(doc_vectors.astype(np.float32)).T
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def evaluate_embedder(embedder: DashScopeEmbedder, judged: JudgedSet, k: int = 10, label: str = "") -> EvalResult:
    """Embed the set with ``embedder`` and score the rankings.

    Raises:
        APIError / InvalidInputError: from the engine.
    """
    started = time.monotonic()
    docs = embedder.embed(judged.doc_texts, text_type="document", output_type="dense")
    queries = embedder.embed(judged.query_texts, text_type="query", output_type="dense")
    seconds = time.monotonic() - started
    assert docs.dense is not None and queries.dense is not None
    top = rank_documents(queries.dense, docs.dense, k)
    rankings = {qid: [judged.doc_ids[j] for j in row] for qid, row in zip(judged.query_ids, top.tolist(), strict=True)}
    metrics = evaluate_rankings(rankings, judged.qrels, k)
    return EvalResult(
        label or f"{embedder.model} d={embedder.dimension} {embedder.protocol}",
        metrics,
        docs.usage.total_tokens + queries.usage.total_tokens,
        docs.usage.requests + queries.usage.requests,
        seconds,
    )


def format_table(results: Sequence[EvalResult], k: int = 10) -> str:
    """A fixed-width table: one line per configuration."""
    header = ["configuration", f"nDCG@{k}", f"Recall@{k}", f"MRR@{k}", "queries", "tokens", "requests", "seconds"]
    rows = [
        [
            r.label,
            f"{r.metrics[f'ndcg@{k}']:.4f}",
            f"{r.metrics[f'recall@{k}']:.4f}",
            f"{r.metrics[f'mrr@{k}']:.4f}",
            str(int(r.metrics["queries"])),
            str(r.tokens),
            str(r.requests),
            f"{r.seconds:.1f}",
        ]
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(row) for row in rows])
