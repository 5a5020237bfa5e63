"""``dashscope-embed embed`` on JSONL, CSV and text input against the local service (hash backend).

Every test checks the output's row set and ids and that each stored vector equals what a direct engine call
returns for the same text.
"""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

from dashscope_embed import DashScopeEmbedder
from dashscope_embed.cli import main
from dashscope_embed.jobs.bulk import work_dir_for


def _texts(n: int) -> list[str]:
    return [f"document {i}: embeddings for row {i} of the corpus, {'long ' * (i % 7)}text" for i in range(n)]


def _direct(service, texts, dimensions=None, output_type="dense"):
    with DashScopeEmbedder(base_url=service.base_url, dimensions=dimensions, output_type=output_type) as e:
        return e.embed(texts, text_type="document")


def _run(*args: str) -> int:
    return main(["embed", *args, "--no-progress"])


def _check(table, texts, ids, dense):
    assert table.column("id").to_pylist() == ids
    assert table.column("text_sha256").to_pylist() == [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    stored = np.asarray(table.column("dense").combine_chunks().flatten().to_numpy(), dtype=np.float32)
    assert table.schema.field("dense").type.list_size == dense.shape[1]
    np.testing.assert_array_equal(stored.reshape(dense.shape), dense)


def test_jsonl_with_id_field(hash_service, tmp_path, capsys):
    texts = _texts(2345)
    src = tmp_path / "in.jsonl"
    with open(src, "wb") as f:
        for i, t in enumerate(texts):
            f.write(orjson.dumps({"body": t, "key": f"doc-{i}", "other": i}) + b"\n")
    out = tmp_path / "out.parquet"
    assert _run(str(src), "-o", str(out), "--base-url", hash_service.base_url, "--text-field", "body",
                "--id-field", "key", "--dimensions", "256", "--chunk-size", "500") == 0
    table = pq.read_table(out)
    assert table.num_rows == 2345
    _check(table, texts, [f"doc-{i}" for i in range(2345)], _direct(hash_service, texts, 256).dense)
    assert pq.ParquetFile(out).num_row_groups == 5  # one row group per chunk: bounded memory on read too
    assert not work_dir_for(out).exists()
    printed = capsys.readouterr().out
    assert "2345 rows" in printed and "requests" in printed and "tokens" in printed and "rows/s" in printed
    assert "est. cost CNY " in printed  # the local service counts as Beijing, whose price table is in CNY


def test_csv_column_and_row_number_ids(hash_service, tmp_path):
    texts = _texts(120)
    texts[5] = 'a "quoted", multi-line\nfield'
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["n", "content"])
        for i, t in enumerate(texts):
            writer.writerow([i, t])
    out = tmp_path / "out.parquet"
    assert _run(str(src), "-o", str(out), "--base-url", hash_service.base_url, "--column", "content") == 0
    table = pq.read_table(out)
    _check(table, texts, list(range(120)), _direct(hash_service, texts).dense)


def test_text_lines_skip_empty_and_sparse(hash_service, tmp_path, capsys):
    lines = [f"line {i} of a plain text file" for i in range(40)]
    lines[7] = ""
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    assert _run(str(src), "-o", str(out), "--base-url", hash_service.base_url, "--output-type", "dense&sparse",
                "--dimensions", "64") == 0
    table = pq.read_table(out)
    kept = [i for i, t in enumerate(lines) if t]
    texts = [lines[i] for i in kept]
    direct = _direct(hash_service, texts, 64, "dense&sparse")
    _check(table, texts, kept, direct.dense)
    assert table.column("sparse_indices").to_pylist() == [list(s.indices) for s in direct.sparse]
    np.testing.assert_allclose(
        np.concatenate(table.column("sparse_values").to_numpy(zero_copy_only=False)),
        np.concatenate([np.asarray(s.values, dtype=np.float32) for s in direct.sparse]),
    )
    assert "1 empty rows skipped" in capsys.readouterr().out


def test_rerun_of_finished_job_sends_nothing(hash_service, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(_texts(30)), encoding="utf-8")
    out = tmp_path / "out.parquet"
    assert _run(str(src), "-o", str(out), "--base-url", hash_service.base_url) == 0
    sent = hash_service.stats.replies_200
    assert _run(str(src), "-o", str(out), "--base-url", hash_service.base_url) == 0
    assert hash_service.stats.replies_200 == sent
    assert "already complete" in capsys.readouterr().out


def test_changed_input_refuses_to_resume(hash_service, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(_texts(30)), encoding="utf-8")
    out = tmp_path / "out.parquet"
    work = work_dir_for(out)
    work.mkdir()
    (work / "manifest.json").write_bytes(orjson.dumps({"key": "another job", "chunk_size": 1000}))
    assert _run(str(src), "-o", str(out), "--base-url", hash_service.base_url) == 1
    assert "different job" in capsys.readouterr().err
    assert hash_service.stats.requests == 0
    assert _run(str(src), "-o", str(out), "--base-url", hash_service.base_url, "--restart") == 0
    assert pq.read_table(out).num_rows == 30


def test_existing_output_of_another_job_needs_overwrite(hash_service, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("one\ntwo\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    out.write_bytes(b"not parquet")
    assert _run(str(src), "-o", str(out), "--base-url", hash_service.base_url) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert _run(str(src), "-o", str(out), "--base-url", hash_service.base_url, "--overwrite") == 0
    assert pq.read_table(out).num_rows == 2


def test_no_key_and_no_base_url_is_a_clear_error(hash_service, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("one\n", encoding="utf-8")
    assert _run(str(src), "-o", str(tmp_path / "out.parquet")) == 2
    err = capsys.readouterr().err
    assert "DASHSCOPE_API_KEY" in err and "--local" in err and "--base-url" in err


def test_local_flag_starts_the_service_in_process(hash_service, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("alpha\nbeta\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    assert _run(str(src), "-o", str(out), "--local", "--backend", "hash", "--dimensions", "128") == 0
    _check(pq.read_table(out), ["alpha", "beta"], [0, 1], _direct(hash_service, ["alpha", "beta"], 128).dense)


@pytest.mark.parametrize("bad", [["--format", "xml"], ["--chunk-size", "0"]])
def test_bad_options_exit_2(tmp_path, bad):
    src = tmp_path / "in.txt"
    src.write_text("x\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["embed", str(src), "-o", str(tmp_path / "o.parquet"), *bad])
    assert info.value.code == 2


def test_missing_jsonl_field_names_the_line(hash_service, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "fine"}\n{"body": "no text field"}\n')
    assert _run(str(src), "-o", str(tmp_path / "o.parquet"), "--base-url", hash_service.base_url) == 2
    err = capsys.readouterr().err
    assert "in.jsonl:2" in err and "--text-field" in err
