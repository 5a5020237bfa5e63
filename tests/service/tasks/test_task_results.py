"""A task's result checked against the job before anything is journaled: every vector has the job's dimension."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from dashscope_embed.batch.lines import custom_id
from dashscope_embed.batch.state import Attempt, Shard
from dashscope_embed.batch.tasks.collect import collect_task
from dashscope_embed.errors import ResponseFormatError


def _collect(tmp_path, lengths: list[int], dimension: int = 4):
    base = tmp_path / "shard-0-0.jsonl"
    base.write_bytes(b"".join(orjson.dumps({"custom_id": custom_id("j", i, i), "text": f"t{i}"}) + b"\n"
                              for i in range(len(lengths))))
    out = tmp_path / "result.jsonl"
    out.write_bytes(b"".join(orjson.dumps({"output": {"text_index": i, "embedding": [0.5] * n}}) + b"\n"
                             for i, n in enumerate(lengths)))
    work = tmp_path / "parts"
    work.mkdir()
    shard = Shard(index=0, start=0, end=len(lengths))
    attempt = Attempt(number=0, lines=len(lengths), rows=len(lengths), counts={"total_tokens": 9})
    mask = np.zeros(len(lengths), dtype=bool)
    got = collect_task(attempt, shard, base, out, None, work, 100, mask, 2, dimension=dimension)
    return got, work, mask


@pytest.mark.parametrize("lengths", [[4, 4, 3, 4], [4, 4, 4, 5], [3, 3, 3, 3]])
def test_a_vector_of_another_dimension_is_refused_before_anything_is_journaled(tmp_path, lengths):
    bad = next(i for i, n in enumerate(lengths) if n != 4)
    with pytest.raises(ResponseFormatError, match=rf"text_index {bad} holds an embedding of shape \({lengths[bad]},\)"):
        _collect(tmp_path, lengths)
    assert list((tmp_path / "parts").iterdir()) == []


def test_vectors_of_the_job_dimension_are_journaled(tmp_path):
    got, work, mask = _collect(tmp_path, [4, 4, 4])
    assert got.rows == 3 and mask.all() and len(list(work.iterdir())) == 1
