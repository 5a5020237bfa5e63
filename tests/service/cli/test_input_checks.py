"""``dashscope-embed embed`` on input a new user actually has: texts that are not strings, other encodings, a BOM,
empty rows, repeated ids; permanent failures; the cost summary's currency.

Every refusal happens before the first request (``service.stats.requests == 0``) and names the file, the line and
the row's id; rows and lines count from 1.
"""

from __future__ import annotations

import hashlib

import orjson
import pyarrow.parquet as pq
import pytest

from dashscope_embed.cli import main
from dashscope_embed.jobs.bulk import work_dir_for
from dashscope_embed.server import LocalService


def _run(*args) -> int:
    return main(["embed", *[str(a) for a in args], "--no-progress"])


def _jsonl(path, records) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


@pytest.mark.parametrize("bad, kind", [({"a": 1}, "an object"), (["x", "y"], "an array"), (True, "a boolean"),
                                       (3.5, "a number"), (7, "a number")])
def test_jsonl_text_that_is_not_a_string_is_refused_before_anything_is_sent(hash_service, tmp_path, capsys, bad,
                                                                           kind):
    src = tmp_path / "in.jsonl"
    records = [{"id": f"doc-{i}", "text": f"text {i}"} for i in range(30)]
    records[17]["text"] = bad
    _jsonl(src, records)
    out = tmp_path / "out.parquet"
    assert _run(src, "-o", out, "--base-url", hash_service.base_url, "--id-field", "id", "--chunk-size", "5") == 2
    err = capsys.readouterr().err
    assert f"{src}:18 (id 'doc-17'): field 'text' is {kind}, not a string" in err
    assert hash_service.stats.requests == 0
    assert not out.exists() and not work_dir_for(out).exists()


def test_latin1_input_names_the_encoding_and_how_to_convert(hash_service, tmp_path, capsys):
    for name, content in (("in.txt", "first\ncafé crème\n"), ("in.csv", "text\nok\nthé\n")):
        src = tmp_path / name
        src.write_bytes(content.encode("latin-1"))
        assert _run(src, "-o", tmp_path / f"{name}.parquet", "--base-url", hash_service.base_url) == 2
        err = capsys.readouterr().err
        assert f"{src}:2: not UTF-8" in err or f"{src}:3: not UTF-8" in err, err
        assert "Latin-1 / Windows-1252" in err and "iconv -f WINDOWS-1252 -t UTF-8" in err
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(orjson.dumps({"text": "ok"}) + b"\n" + '{"text": "向量检索"}\n'.encode("gbk"))
    assert _run(gbk, "-o", tmp_path / "gbk.parquet", "--base-url", hash_service.base_url) == 2
    err = capsys.readouterr().err
    assert f"{gbk}:2: not UTF-8" in err and "GB18030" in err
    assert hash_service.stats.requests == 0


@pytest.mark.parametrize("name, body", [("in.jsonl", '{"text": "héllo"}\n{"text": "world"}\n'),
                                        ("in.txt", "héllo\nworld\n"), ("in.csv", "text\nhéllo\nworld\n")])
def test_utf8_bom_is_accepted(hash_service, tmp_path, name, body):
    src = tmp_path / name
    src.write_bytes(b"\xef\xbb\xbf" + body.encode())
    out = tmp_path / "out.parquet"
    assert _run(src, "-o", out, "--base-url", hash_service.base_url) == 0
    table = pq.read_table(out)
    assert table.num_rows == 2
    # the mark is not part of the first text
    assert table.column("text_sha256")[0].as_py() == hashlib.sha256("héllo".encode()).hexdigest()


def test_skipped_empty_rows_are_named_from_1(hash_service, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    records = [{"id": f"doc-{i}", "text": "" if i in (0, 4, 9) else f"text {i}"} for i in range(12)]
    _jsonl(src, records)
    assert _run(src, "-o", tmp_path / "out.parquet", "--base-url", hash_service.base_url, "--id-field", "id") == 0
    err = capsys.readouterr().err
    assert "skipping 3 empty rows (id 'doc-0' (line 1), id 'doc-4' (line 5), id 'doc-9' (line 10))" in err
    txt = tmp_path / "in.txt"
    txt.write_text("a\n\nb\n \n")
    assert _run(txt, "-o", tmp_path / "t.parquet", "--base-url", hash_service.base_url, "--fail-on-empty") == 2
    err = capsys.readouterr().err
    assert "2 empty rows (row 2 (id 1, line 2), row 4 (id 3, line 4))" in err  # the output's ids count from 0


def test_repeated_ids_warn_or_fail_with_unique_ids(hash_service, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    _jsonl(src, [{"id": i % 4, "text": f"text {i}"} for i in range(6)])
    out = tmp_path / "out.parquet"
    assert _run(src, "-o", out, "--base-url", hash_service.base_url, "--id-field", "id", "--unique-ids") == 2
    err = capsys.readouterr().err
    assert "2 rows repeat an earlier id (id '0' (line 5), id '1' (line 6))" in err and "--unique-ids" in err
    assert hash_service.stats.requests == 0 and not out.exists()
    assert _run(src, "-o", out, "--base-url", hash_service.base_url, "--id-field", "id") == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "2 rows repeat an earlier id" in err
    assert pq.read_table(out).num_rows == 6


def test_permanent_errors_do_not_say_rerun_and_leave_nothing(tmp_path, capsys, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("".join(f"line {i}\n" for i in range(50)))
    with LocalService(backend="hash", api_key="sk-right-key-0123456789") as service:
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-wrong-key-0123456789")
        out = tmp_path / "401.parquet"
        assert _run(src, "-o", out, "--base-url", service.base_url) == 1
        err = capsys.readouterr().err
        assert "InvalidApiKey" in err and "rerun the same command to resume" not in err
        assert "Rerunning will not help until this is fixed: check the API key" in err and "Nothing was written" in err
        assert not out.exists() and not work_dir_for(out).exists()
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-right-key-0123456789")
        out = tmp_path / "model.parquet"
        assert _run(src, "-o", out, "--base-url", service.base_url, "--model", "text-embedding-v9") == 1
        err = capsys.readouterr().err
        assert "rerun the same command to resume" not in err and "Rerunning will not help" in err
        assert not out.exists() and not work_dir_for(out).exists()


@pytest.mark.parametrize("job", [["--batch-api"], ["--model", "text-embedding-async-v2"]])
def test_a_remote_job_refused_for_its_key_leaves_no_state_and_does_not_say_rerun(tmp_path, capsys, monkeypatch, job):
    from dashscope_embed.batch.state import state_path_for

    src = tmp_path / "in.txt"
    src.write_text("".join(f"line {i}\n" for i in range(20)))
    with LocalService(backend="hash", api_key="sk-right-key-0123456789") as service:
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-wrong-key-0123456789")
        out = tmp_path / "remote.parquet"
        args = [src, "-o", out, "--base-url", service.base_url, "--poll-interval", "0.05", *job]
        assert _run(*args) == 1
        err = capsys.readouterr().err
        assert "Rerunning will not help until this is fixed: check the API key" in err and "Nothing was written" in err
        assert not state_path_for(out).exists() and not work_dir_for(out).exists() and not out.exists()
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-right-key-0123456789")
        assert _run(*args) == 0
        assert pq.read_table(out).num_rows == 20


def test_transient_errors_still_say_rerun(hash_service, tmp_path, capsys):
    from dashscope_embed.server.faults import FaultConfig

    src = tmp_path / "in.txt"
    src.write_text("".join(f"line {i}\n" for i in range(50)))
    hash_service.set_faults(FaultConfig(schedule={3: "503"}))
    out = tmp_path / "out.parquet"
    assert _run(src, "-o", out, "--base-url", hash_service.base_url, "--max-retries", "0", "--max-concurrency",
                "1") == 1
    assert "rerun the same command to resume" in capsys.readouterr().err
    assert work_dir_for(out).exists()


def test_cost_summary_uses_the_currency_of_the_region_price_table(hash_service, tmp_path, capsys):
    from dashscope_embed.jobs.cost import JobSummary, format_money
    from dashscope_embed.catalog import get_model_spec

    src = tmp_path / "in.txt"
    src.write_text("alpha\nbeta\n")
    assert _run(src, "-o", tmp_path / "out.parquet", "--base-url", hash_service.base_url) == 0
    printed = capsys.readouterr().out
    # the local service counts as Beijing (the default region), like the Batch File API summary: CNY
    assert "est. cost CNY " in printed and "$" not in printed
    spec = get_model_spec("text-embedding-v4")
    assert spec.list_price("beijing") == (spec.price_per_million_tokens_cny, "CNY")
    assert spec.list_price("singapore") == (spec.price_per_million_tokens_usd, "USD")
    summary = JobSummary(output=tmp_path / "x", tokens=2_000_000, price_per_million_tokens=0.5, currency="CNY")
    assert format_money(*summary.cost()) == "CNY 1.0000"


def test_a_remote_job_keeps_its_state_after_a_permanent_error_when_the_service_holds_part_of_it(tmp_path):
    from dashscope_embed.batch.cleanup import permanent_stop
    from dashscope_embed.batch.state import Attempt, JobState, Shard, save_state, state_path_for
    from dashscope_embed.errors import AuthenticationError

    out = tmp_path / "o.parquet"
    state = JobState("k", "j", "text-embedding-v4", 1024, "24h", 10, 100, 100, "http://127.0.0.1:9", "in.txt")
    state.shards.append(Shard(0, 0, 10, attempts=[Attempt(0, 1, 10, file_id="file-1")]))
    error = AuthenticationError("Invalid API-key provided.", status_code=401, code="InvalidApiKey")
    for fresh in (True, False):  # a file of this job is on the service: its state must stay to find it again
        save_state(state_path_for(out), state)
        message = str(permanent_stop(error, out, fresh=fresh))
        assert "Rerunning will not help" in message and "state is kept" in message
        assert state_path_for(out).exists()
    state.shards[0].attempts[0].file_id = None  # nothing on the service, but the state predates this run
    save_state(state_path_for(out), state)
    assert "state is kept" in str(permanent_stop(error, out, fresh=False)) and state_path_for(out).exists()
    assert "Nothing was written" in str(permanent_stop(error, out, fresh=True)) and not state_path_for(out).exists()


@pytest.mark.parametrize("batch_api", [False, True])
def test_an_output_that_is_a_directory_is_refused_before_anything_is_sent(hash_service, tmp_path, capsys, batch_api):
    # with --overwrite, every row was embedded and the final rename then failed with IsADirectoryError
    src = tmp_path / "in.jsonl"
    _jsonl(src, [{"text": f"text {i}"} for i in range(5)])
    out = tmp_path / "vectors"
    out.mkdir()
    hash_service.reset_stats()
    extra = ["--batch-api", "--poll-interval", "0.05"] if batch_api else []
    assert _run(src, "-o", out, "--base-url", hash_service.base_url, "--overwrite", *extra) == 2
    assert f"output {out} is a directory" in capsys.readouterr().err
    assert hash_service.stats.requests == 0 and not (tmp_path / "vectors.parts").exists()


@pytest.mark.parametrize("output", [".", "/"])
def test_an_output_that_names_no_file_is_refused_by_name(tmp_path, capsys, monkeypatch, output):
    # pathlib's "PosixPath('.') has an empty name" (a ValueError) was the message
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in.jsonl"
    _jsonl(src, [{"text": "a"}])
    assert _run(src, "-o", output, "--base-url", "http://127.0.0.1:9") == 2
    assert f"output {output!r} names no file" in capsys.readouterr().err
    assert main(["batch", "status", output]) == 2
    assert f"output {output!r} names no file" in capsys.readouterr().err
