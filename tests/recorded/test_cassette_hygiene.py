"""Cassettes hold no credentials, and re-recording against the local service reproduces them byte for byte."""

from __future__ import annotations

import re
from pathlib import Path

from support import adapter_scenarios
from support import cassette_support as cs
from support import core_scenarios
import yaml

from dashscope_embed.server import LocalService

SCENARIO_MODULES = [core_scenarios, adapter_scenarios]


def all_cassettes() -> list[Path]:
    return sorted(cs.CASSETTE_ROOT.rglob("*.yaml"))


def find_secrets(text: str) -> list[str]:
    return [m.group(0) for pattern in cs.SECRET_PATTERNS for m in pattern.finditer(text)]


_ACCEPT_ENCODING = re.compile(r"^( *)accept-encoding:\n\1- .*\n", re.MULTILINE)


def without_accept_encoding(text: str) -> str:
    """``text`` without its request ``accept-encoding`` headers: they list the decoders installed where the cassette
    was recorded (httpx >= 0.27.1 adds ``zstd`` when zstandard is installed, ``br`` with brotli), not anything the
    service did, and requests are never matched on them."""
    return _ACCEPT_ENCODING.sub("", text)


def test_secret_patterns_catch_keys_and_bearer_tokens():
    # the scan below is only as good as these patterns
    assert find_secrets("authorization: Bearer abcdEFGH_1234-xyz")
    assert find_secrets('{"api_key": "sk-0123456789abcdefABCD"}')
    assert not find_secrets("Bearer token missing; sk-short")


def test_no_cassette_holds_a_key_or_token():
    cassettes = all_cassettes()
    assert len(cassettes) >= sum(len(m.SCENARIOS) for m in SCENARIO_MODULES)
    for path in cassettes:
        text = path.read_text(encoding="utf-8")
        assert not find_secrets(text), f"{path} holds {find_secrets(text)}"
        # the keys used while recording locally must not survive either, in any form
        assert cs.LOCAL_RECORDING_KEY not in text and cs.WRONG_KEY not in text, path
        for interaction in yaml.safe_load(text)["interactions"]:
            names = {name.lower() for name in interaction["request"]["headers"]}
            assert not names & {"authorization", "x-dashscope-sdk-session-id", "user-agent", "host"}, path


def test_every_scenario_has_a_committed_cassette_and_no_cassette_is_stale():
    for module in SCENARIO_MODULES:
        expected = {f"test_{name}.yaml" for name in module.SCENARIOS}
        present = {p.name for p in (cs.CASSETTE_ROOT / module.MODULE).glob("*.yaml")}
        assert present == expected, module.MODULE


def record_all(directory: Path) -> dict[str, str]:
    """Record every scenario against a fresh local service (new port, new request ids) into ``directory``."""
    recorder = cs.make_vcr("all")
    texts = {}
    with LocalService(backend="hash", api_key=cs.LOCAL_RECORDING_KEY) as service:
        target = cs.local_target(service.base_url)
        for module in SCENARIO_MODULES:
            for name, run in module.SCENARIOS.items():
                path = directory / module.MODULE / f"test_{name}.yaml"
                with recorder.use_cassette(str(path), **cs.vcr_config()):
                    run(target)
                texts[f"{module.MODULE}/{path.name}"] = path.read_text(encoding="utf-8")
    return texts


def test_recording_twice_against_the_local_service_gives_identical_cassettes(tmp_path):
    first = record_all(tmp_path / "first")
    second = record_all(tmp_path / "second")
    assert first.keys() == second.keys()
    assert len(first) == sum(len(m.SCENARIOS) for m in SCENARIO_MODULES)
    for name in first:
        assert first[name] == second[name], f"{name} differs between two recordings"

    # committed cassettes recorded locally are exactly what recording today produces (cassettes re-recorded
    # against the real service hold its vectors instead and are only checked for run-to-run determinism above)
    for name, text in first.items():
        committed = cs.CASSETTE_ROOT / name
        if cs.is_local_recording(committed):
            assert without_accept_encoding(committed.read_text(encoding="utf-8")) == without_accept_encoding(text), (
                f"{committed} is not what the local service records now; if the service changed on purpose, re-record: "
                "pytest tests/recorded --record-mode=rewrite -m vcr"
            )


def test_scrubbing_makes_runs_comparable():
    """Two replies that differ only in their service-made request id scrub to the same bytes."""

    def reply(request_id):
        body = '{"output":{"embeddings":[]},"usage":{"total_tokens":1},"request_id":"%s"}' % request_id
        return {
            "status": {"code": 200, "message": "OK"},
            "headers": {"x-request-id": [request_id], "date": ["Mon, 01 Jan 2029 00:00:00 GMT"],
                        "content-length": [str(len(body))], "server": ["uvicorn"]},
            "body": {"string": body},
        }

    a = cs.scrub_response(reply("11111111-1111-4111-8111-111111111111"))
    b = cs.scrub_response(reply("22222222-2222-4222-8222-222222222222"))
    assert a == b
    assert set(a["headers"]) == {"x-request-id", "content-length"}
    assert a["headers"]["content-length"] == [str(len(a["body"]["string"]))]
    assert a["headers"]["x-request-id"][0] in a["body"]["string"]
