"""``dashscope-embed embed --batch-api``: the same inputs, ids and Parquet file as the real-time path."""

from __future__ import annotations

import csv

import orjson
import pyarrow.parquet as pq
import pytest
from support.batch_helpers import billed_once, texts

from dashscope_embed.cli import main


def _run(*args: str) -> int:
    return main([str(a) for a in args])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_batch_api_writes_what_the_real_time_path_writes(batch_service, tmp_path, capsys, fmt):
    items = texts(120)
    if fmt == "jsonl":
        src = tmp_path / "in.jsonl"
        src.write_bytes(b"".join(orjson.dumps({"doc": f"d{i}", "text": t}) + b"\n" for i, t in enumerate(items)))
        ids = ["--id-field", "doc"]
    else:
        src = tmp_path / "in.csv"
        with open(src, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text"])
            writer.writerows([t] for t in items)
        ids = []
    common = [src, "--base-url", batch_service.base_url, "--dimensions", "128", "--no-progress", *ids]
    assert _run("embed", *common, "-o", tmp_path / "rt.parquet") == 0
    assert _run("embed", *common, "-o", tmp_path / "batch.parquet", "--batch-api", "--poll-interval", "0.02") == 0
    summary = capsys.readouterr().out
    assert "at the Batch API price" in summary and "1 batches created" in summary
    realtime, batch = pq.read_table(tmp_path / "rt.parquet"), pq.read_table(tmp_path / "batch.parquet")
    assert batch.schema.remove_metadata() == realtime.schema.remove_metadata()
    assert batch.to_pydict() == realtime.to_pydict()
    billed_once(batch_service)


@pytest.mark.parametrize("bad", [["--output-type", "sparse"], ["--text-type", "query"],
                                 ["--requests-per-minute", "10"], ["--completion-window", "2w"],
                                 ["--model", "multimodal-embedding-v1"]])
def test_refused_options_exit_2_before_any_request(batch_service, tmp_path, capsys, bad):
    src = tmp_path / "in.txt"
    src.write_text("a\nb\n")
    code = _run("embed", src, "-o", tmp_path / "o.parquet", "--base-url", batch_service.base_url, "--batch-api",
                *bad)
    assert code == 2, capsys.readouterr().err
    assert batch_service.stats.requests == 0
