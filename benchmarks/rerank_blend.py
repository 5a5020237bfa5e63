"""How the local service's model-backed rerank score ranks python_faq.json, for a range of ``MODEL_WEIGHT`` s.

The same two stages as ``dashscope-embed eval --local --rerank``: e5 vectors rank the 238 passages for each of the
174 questions, then the top ``--candidates`` (50) are reordered by ``server.relevance.blend`` of the e5 cosine and
the lexical ``relevance`` (the exact scorer of the service, called without HTTP). Weight 1.0 is the e5 cosine alone
(the first-stage order), weight 0.0 the lexical overlap alone (the service's scoring before the blend).

The weight is tuned on this set, the only judged set here; to see how much of the gain is fitted, the queries are
also split in two halves (even / odd positions): the weight best on one half is reported on the other.

Run: ``nice -n 10 .venv/bin/python benchmarks/rerank_blend.py [--vectors cache.npz]`` (e5 embeds 412 texts once:
minutes on two cores; ``--vectors`` keeps them between runs).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from dashscope_embed.jobs.evaluate import load_judged_set, rank_documents
from dashscope_embed.jobs.metrics import ndcg_at_k
from dashscope_embed.server.backends import E5Backend
from dashscope_embed.server.relevance import blend, order, relevance

WEIGHTS = (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 1.0)
# the shared data sits beside the repository checkout (benchmarks/ -> parents[1] is the repository)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA = Path(os.environ.get("DASHSCOPE_EMBED_EVAL_DATA", SHARED_DATA)) / "python_faq.json"


def vectors(judged, cache: str | None) -> tuple[np.ndarray, np.ndarray]:
    """``(queries (174, 384), documents (238, 384))`` float32 e5 vectors, from ``cache`` when it exists."""
    if cache and os.path.exists(cache):
        saved = np.load(cache)
        return saved["q"], saved["d"]
    backend = E5Backend()
    d = backend.embed(judged.doc_texts, text_type="document")
    q = backend.embed(judged.query_texts, text_type="query")
    if cache:
        np.savez(cache, q=q, d=d)
    return q, d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(DATA))
    parser.add_argument("--vectors", help="an .npz file keeping the e5 vectors between runs")
    parser.add_argument("--candidates", type=int, default=50)
    args = parser.parse_args()
    judged = load_judged_set(Path(args.dataset))
    q, d = vectors(judged, args.vectors)
    top = rank_documents(q, d, args.candidates).tolist()
    q64, d64 = q.astype(np.float64), d.astype(np.float64)
    # per query: the candidates' (cosine, lexical) pairs, computed as the service computes them
    pairs = []
    for qi, row in enumerate(top):
        cos = (d64[row] * q64[qi]).sum(axis=1).tolist()
        pairs.append([(c, relevance(judged.query_texts[qi], judged.doc_texts[j])) for c, j in zip(cos, row)])

    def ndcg(weight: float, queries: range | list[int]) -> float:
        total = 0.0
        for qi in queries:
            ranked = order([blend(c, lex, weight) for c, lex in pairs[qi]])
            ranking = [judged.doc_ids[top[qi][i]] for i, _ in ranked[:10]]
            total += ndcg_at_k(ranking, judged.qrels[judged.query_ids[qi]], 10)
        return total / len(queries)

    everyone = list(range(len(top)))
    halves = {"even": everyone[0::2], "odd": everyone[1::2]}
    first = sum(ndcg_at_k([judged.doc_ids[j] for j in top[qi][:10]], judged.qrels[judged.query_ids[qi]], 10)
                for qi in everyone) / len(everyone)
    print(f"e5 retrieval alone: nDCG@10 {first:.4f} ({len(everyone)} queries, top {args.candidates} reranked)")
    print(f"{'weight':>6}  {'all':>6}  {'even':>6}  {'odd':>6}")
    table = {w: (ndcg(w, everyone), ndcg(w, halves["even"]), ndcg(w, halves["odd"])) for w in WEIGHTS}
    for w, (a, e, o) in table.items():
        print(f"{w:>6.3f}  {a:.4f}  {e:.4f}  {o:.4f}")
    for tuned, held in (("even", "odd"), ("odd", "even")):
        col = 1 if tuned == "even" else 2
        best = max(WEIGHTS, key=lambda w: table[w][col])
        print(f"best on {tuned}: weight {best:.3f} -> {held} half {table[best][3 - col]:.4f} "
              f"(e5 alone on {held}: {table[1.0][3 - col]:.4f})")


if __name__ == "__main__":
    main()
