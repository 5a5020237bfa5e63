"""Shared by the rerank tests: a deterministic corpus and query."""

from __future__ import annotations

import random

WORDS = ("python file read line loop list dict string bytes thread async socket json path error class module "
         "import test value index sort merge query document token").split()


def corpus(n: int, words_per_doc: int = 0) -> list[str]:
    """``n`` documents of words drawn from ``WORDS`` (seeded by position; 3-12 words each unless
    ``words_per_doc``), plus a word of their own: many distinct scores, and ties to break by index."""
    docs = []
    for i in range(n):
        rng = random.Random(i)
        count = words_per_doc or rng.randint(3, 12)
        docs.append(" ".join(rng.choice(WORDS) for _ in range(count)) + f" doc{i}")
    return docs


QUERY = "how do I read a python file line by line"
