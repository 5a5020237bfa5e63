"""``dashscope-embed models`` and the warning of ``serve`` on a reachable interface without a key."""

from __future__ import annotations

import orjson
import pytest

from dashscope_embed import cli
from dashscope_embed.catalog import CATALOG
from dashscope_embed.server import runner


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_models_prints_every_model_with_limits_features_regions_and_prices(capsys):
    status, out, _ = run(capsys, "models")
    assert status == 0
    lines = out.split("\n\n")[0].splitlines()  # the embedding table; the rerank table follows
    assert lines[0].split() == ["model", "kind", "dimensions", "rows", "tokens/row", "tokens/req", "media",
                                "features", "regions", "CNY/M", "batch", "CNY/M", "USD/M"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == set(CATALOG)
    qwen = rows["qwen3.7-text-embedding"]
    assert qwen[1:6] == ["text", "2560,2048,1536,1024*,768,512,256", "20", "128,000", "128,000"]
    assert qwen[7] == "text_type,instruct,sparse,openai,batch-api" and qwen[8] == "beijing,singapore"
    assert qwen[9:] == ["0.5", "0.25", "-"]
    assert rows["multimodal-embedding-v1"][6:8] == ["img<=3MBx1", "vid<=10MBx1"]


def test_models_filters_and_json(capsys):
    status, out, _ = run(capsys, "models", "--kind", "text", "--region", "ap-southeast-1", "--json")
    records = [orjson.loads(line) for line in out.splitlines()]
    assert status == 0 and records
    assert all(r["kind"] == "text" and "singapore" in r["regions"] for r in records)
    assert "qwen3.7-text-embedding-flash" not in {r["name"] for r in records}  # Beijing only
    flash = CATALOG["qwen3.7-text-embedding-flash"]
    status, out, _ = run(capsys, "models", "--json", "--region", "beijing")
    by_name = {orjson.loads(line)["name"]: orjson.loads(line) for line in out.splitlines()}
    assert by_name[flash.name]["batch_price_per_million_tokens_cny"] == 0.063


def test_models_bad_region_is_a_usage_error(capsys):
    status, _, err = run(capsys, "models", "--region", "atlantis")
    assert status == 2 and "virginia (us-east-1)" in err


class Stop(Exception):
    pass


def _stop(*args, **kwargs):
    raise Stop


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("192.168.1.5", True), ("::", True),
                                          ("127.0.0.1", False), ("localhost", False), ("::1", False)])
def test_serve_warns_on_a_reachable_interface_without_a_key(monkeypatch, capsys, host, warned):
    monkeypatch.setattr(runner, "create_app", _stop)  # stop before loading a backend or binding a port
    with pytest.raises(Stop):
        runner.serve(host=host, port=0, backend="hash")
    err = capsys.readouterr().err
    assert ("without --api-key" in err) is warned
    with pytest.raises(Stop):
        runner.serve(host=host, port=0, backend="hash", api_key="k")
    assert "without --api-key" not in capsys.readouterr().err
