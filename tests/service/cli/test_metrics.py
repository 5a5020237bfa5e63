"""Ranking metrics on hand-made rankings, against values worked out by hand.

Discounts are 1/log2(rank + 1): rank 1 -> 1, rank 2 -> 1/log2(3) = 0.6309297535714575, rank 3 -> 1/2,
rank 4 -> 1/log2(5) = 0.43067655807339306.
"""

from __future__ import annotations

import pytest

from dashscope_embed.jobs.metrics import dcg_at_k, evaluate_rankings, mrr_at_k, ndcg_at_k, recall_at_k

INV_LOG2_3 = 0.6309297535714575
INV_LOG2_5 = 0.43067655807339306
EXACT = dict(abs=1e-12)


def test_single_relevant_at_rank_one_scores_one():
    assert ndcg_at_k(["a", "b"], {"a": 1}) == 1.0
    assert recall_at_k(["a", "b"], {"a": 1}) == 1.0
    assert mrr_at_k(["a", "b"], {"a": 1}) == 1.0


def test_single_relevant_at_rank_two():
    ranking, qrels = ["x", "a", "y"], {"a": 1}
    assert ndcg_at_k(ranking, qrels) == pytest.approx(INV_LOG2_3, **EXACT)
    assert recall_at_k(ranking, qrels) == 1.0
    assert mrr_at_k(ranking, qrels) == 0.5


def test_two_relevant_at_ranks_three_and_four():
    ranking, qrels = ["x", "y", "a", "b"], {"a": 1, "b": 1}
    # DCG = 1/2 + 1/log2(5); ideal DCG = 1 + 1/log2(3)
    assert ndcg_at_k(ranking, qrels) == pytest.approx((0.5 + INV_LOG2_5) / (1 + INV_LOG2_3), **EXACT)
    assert ndcg_at_k(ranking, qrels) == pytest.approx(0.5706417189553201, **EXACT)
    assert recall_at_k(ranking, qrels, k=3) == 0.5
    assert recall_at_k(ranking, qrels, k=4) == 1.0
    assert mrr_at_k(ranking, qrels) == pytest.approx(1 / 3, **EXACT)


def test_graded_relevance_uses_grades_as_gains():
    # ranking puts grade 1 before grade 2: DCG = 1 + 2/log2(3); ideal = 2 + 1/log2(3)
    value = ndcg_at_k(["a", "b"], {"a": 1, "b": 2})
    assert value == pytest.approx((1 + 2 * INV_LOG2_3) / (2 + INV_LOG2_3), **EXACT)
    assert value == pytest.approx(0.8597186998521972, **EXACT)


def test_relevant_document_beyond_cutoff_counts_nothing():
    ranking = [f"d{i}" for i in range(10)] + ["a"]
    assert ndcg_at_k(ranking, {"a": 1}, k=10) == 0.0
    assert recall_at_k(ranking, {"a": 1}, k=10) == 0.0
    assert mrr_at_k(ranking, {"a": 1}, k=10) == 0.0
    assert mrr_at_k(ranking, {"a": 1}, k=11) == pytest.approx(1 / 11, **EXACT)


def test_duplicates_after_first_occurrence_are_ignored():
    assert mrr_at_k(["x", "x", "a"], {"a": 1}) == 0.5
    assert ndcg_at_k(["x", "x", "a"], {"a": 1}) == pytest.approx(INV_LOG2_3, **EXACT)


def test_zero_grade_is_not_relevant():
    assert mrr_at_k(["z", "a"], {"z": 0, "a": 1}) == 0.5
    assert recall_at_k(["z", "a"], {"z": 0, "a": 1}) == 1.0


def test_undefined_cases_raise():
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], {})
    with pytest.raises(ValueError):
        recall_at_k(["a"], {"a": 0})
    with pytest.raises(ValueError):
        mrr_at_k(["a"], {"a": 1}, k=0)


def test_dcg_of_gains():
    assert dcg_at_k([3, 2, 1], 3) == pytest.approx(3 + 2 * INV_LOG2_3 + 0.5, **EXACT)
    assert dcg_at_k([3, 2, 1], 1) == 3.0


def test_mean_over_queries_skips_unjudged_and_zeroes_missing_rankings():
    rankings = {"q1": ["a", "b"], "q2": ["x", "c"]}  # q3 has no ranking at all
    qrels = {"q1": {"a": 1}, "q2": {"c": 1}, "q3": {"d": 1}, "q4": {"e": 0}}
    scores = evaluate_rankings(rankings, qrels, k=10)
    assert scores["queries"] == 3.0  # q4 has no relevant document: left out, as trec_eval does
    assert scores["ndcg@10"] == pytest.approx((1 + INV_LOG2_3 + 0) / 3, **EXACT)
    assert scores["recall@10"] == pytest.approx(2 / 3, **EXACT)
    assert scores["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3, **EXACT)
