"""Shared cassette configuration: scrubbing, matching and the choice of service to record against.

Cassettes are replayed by default (``record_mode="none"``), so the suite needs no network and no key. Recording
(``pytest --record-mode=rewrite -m vcr``) targets:

- the real DashScope service when ``DASHSCOPE_API_KEY`` is set (root from ``DASHSCOPE_BASE_URL`` /
  ``DASHSCOPE_HTTP_BASE_URL`` / ``DASHSCOPE_REGION``, as the engine resolves it);
- otherwise a local service with the deterministic ``hash`` backend, started for the session.

Local recordings must be byte-for-byte reproducible, so everything that varies between two runs of the same
calls is rewritten before a cassette is written: the loopback host and port (the service binds a free port), the
per-request ids the service makes up, and the ``date`` / ``server`` headers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TESTS_DIR = Path(__file__).resolve().parent.parent
CASSETTE_ROOT = TESTS_DIR / "cassettes"

#: Where local recordings say they went. ``.invalid`` never resolves, so a cassette URL cannot reach anything.
LOCAL_PLACEHOLDER_HOST = "local-service.invalid"
#: Base URL used while replaying: loopback (so no key is required) on the discard port; vcrpy answers every
#: request from the cassette before a socket is opened, and an unrecorded request fails instead of connecting.
REPLAY_BASE_URL = "http://127.0.0.1:9"
#: The key the local recording service demands, so that cassettes record the same auth failure as the real one.
LOCAL_RECORDING_KEY = "local-recording-key"
#: A key the service refuses, for the recorded 401 (never a real key; the header is filtered anyway).
WRONG_KEY = "sk-not-a-real-key-for-recording-0000"

#: Request headers that identify the caller or the client build; never written to a cassette.
FILTERED_REQUEST_HEADERS = ["authorization", "x-dashscope-sdk-session-id", "user-agent", "x-dashscope-workspace"]
#: Reply headers that change on every run (or name the server software) and carry nothing tests need.
DROPPED_RESPONSE_HEADERS = {
    "date", "server", "set-cookie", "x-envoy-upstream-service-time", "req-cost-time", "req-arrive-time", "resp-start-time",
}

_LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$", re.IGNORECASE)
_REQUEST_ID_FIELD = re.compile(rb'"(request_id|id)":"([^"]+)"')
_REQUEST_ID_HEADERS = ("x-request-id", "x-dashscope-request-id")

#: What a leaked key or token looks like; the cassette scan rejects any match.
SECRET_PATTERNS = [re.compile(r"Bearer [A-Za-z0-9_-]{8,}"), re.compile(r"sk-[A-Za-z0-9]{16,}")]


# ---------------------------------------------------------------------------------------------- scrubbing


def scrub_request(request: Any) -> Any:
    """Point loopback URLs at the placeholder host and drop the ``host`` header (it holds the free port)."""
    parts = urlsplit(request.uri)
    if parts.hostname and _LOOPBACK.match(parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"):
        request.uri = urlunsplit((parts.scheme, LOCAL_PLACEHOLDER_HOST, parts.path, parts.query, parts.fragment))
    for name in list(request.headers):
        if name.lower() == "host":
            del request.headers[name]
    return request


def stable_request_id(body: bytes) -> str:
    """A uuid-shaped id that depends only on the reply body with its ids blanked out."""
    blanked = _REQUEST_ID_FIELD.sub(lambda m: b'"' + m.group(1) + b'":""', body)
    return str(uuid.UUID(bytes=hashlib.sha256(blanked).digest()[:16], version=4))


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Replace the service's made-up request ids with stable ones and drop per-run headers."""
    body = response["body"]["string"]
    raw = body.encode() if isinstance(body, str) else bytes(body)
    headers = {k: v for k, v in response["headers"].items() if k.lower() not in DROPPED_RESPONSE_HEADERS}
    new_id = stable_request_id(raw)
    raw = _REQUEST_ID_FIELD.sub(lambda m: b'"' + m.group(1) + b'":"' + new_id.encode() + b'"', raw)
    for name in list(headers):
        if name.lower() in _REQUEST_ID_HEADERS:
            headers[name] = [new_id]
        elif name.lower() == "content-length":
            headers[name] = [str(len(raw))]
    response["headers"] = headers
    response["body"]["string"] = raw.decode() if isinstance(body, str) else raw
    return response


# ---------------------------------------------------------------------------------------------- matching


def json_body_matcher(r1: Any, r2: Any) -> None:
    """Bodies match when they parse to the same JSON (key order and spacing do not matter)."""

    def load(body: Any) -> Any:
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return body

    b1, b2 = load(r1.body), load(r2.body)
    assert b1 == b2, f"JSON bodies differ: {b1!r} != {b2!r}"


MATCH_ON = ["method", "path", "query", "json_body"]


def register_matchers(vcr: Any) -> None:
    """Teach a ``vcr.VCR`` the matchers ``MATCH_ON`` names."""
    vcr.register_matcher("json_body", json_body_matcher)


def vcr_config() -> dict[str, Any]:
    """``use_cassette`` keyword arguments shared by the pytest-recording fixture and the determinism check.

    Host, port and scheme are not matched: local recordings say ``local-service.invalid``, real ones the region's
    host, and replay uses a loopback address; only what was asked (method, path, query, JSON body) decides.
    """
    return {
        "filter_headers": FILTERED_REQUEST_HEADERS,
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
        "match_on": MATCH_ON,
    }


def make_vcr(record_mode: str) -> Any:
    """A standalone ``vcr.VCR`` with the suite's configuration (for recording outside the pytest fixture)."""
    import vcr

    instance = vcr.VCR(record_mode=record_mode)
    register_matchers(instance)
    return instance


# ---------------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """Where the engine under test sends its requests.

    Attributes:
        kind: ``"replay"`` (cassettes only), ``"local"`` (recording against the local service) or ``"real"``.
        base_url: the root to pass as ``base_url`` (``None``: let the engine resolve the real root from the
            environment).
        api_key: the key to pass (``None`` for replay: loopback roots need none, and requests never leave vcrpy).
    """

    kind: str
    base_url: str | None
    api_key: str | None

    def engine_kwargs(self) -> dict[str, Any]:
        """``base_url`` / ``api_key`` keyword arguments for ``DashScopeEmbedder`` and the adapters."""
        kwargs: dict[str, Any] = {}
        if self.base_url is not None:
            kwargs["base_url"] = self.base_url
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key
        return kwargs


def real_key() -> str | None:
    """The key for recording against the real service, if one is configured."""
    return os.environ.get("DASHSCOPE_API_KEY") or None


def real_target() -> Target:
    return Target("real", os.environ.get("DASHSCOPE_BASE_URL") or os.environ.get("DASHSCOPE_HTTP_BASE_URL"), real_key())


def replay_target() -> Target:
    return Target("replay", REPLAY_BASE_URL, None)


def local_target(base_url: str) -> Target:
    return Target("local", base_url, LOCAL_RECORDING_KEY)


def is_local_recording(cassette: Path) -> bool:
    """Whether a committed cassette was recorded against the local service (so it must be reproducible)."""
    return f"//{LOCAL_PLACEHOLDER_HOST}/" in cassette.read_text(encoding="utf-8")
