"""Authentication, routing, statistics under concurrency, the ASGI app on its own, and the runner's life cycle."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
from support.svc_helpers import COMPAT, MULTIMODAL, TEXT, compat_error, embed, native_error

from dashscope_embed.errors import AuthenticationError, error_from_reply
from dashscope_embed.server import FaultConfig, LocalService, create_app
from dashscope_embed.server.runner import startup_line


@pytest.fixture(scope="module")
def keyed():
    with LocalService(api_key="sk-local-test") as svc:
        yield svc


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": "sk-local-test"}])
def test_api_key_required_native(keyed, headers):
    r = httpx.post(keyed.base_url + TEXT, json={"model": "text-embedding-v4", "input": {"texts": ["x"]}}, headers=headers)
    assert native_error(r, 401, "InvalidApiKey") == "Invalid API-key provided."
    assert isinstance(error_from_reply(401, r.json()), AuthenticationError)
    r = httpx.post(keyed.base_url + MULTIMODAL, json={"model": "multimodal-embedding-v1"}, headers=headers)
    native_error(r, 401, "InvalidApiKey")


def test_api_key_required_compat(keyed):
    r = httpx.post(keyed.base_url + COMPAT, json={"model": "text-embedding-v4", "input": "x"})
    error = compat_error(r, 401, "invalid_request_error", "invalid_api_key")
    assert error == {"message": "Invalid API-key provided.", "type": "invalid_request_error", "param": None,
                     "code": "invalid_api_key"}


def test_right_key_passes(keyed):
    headers = {"Authorization": "Bearer sk-local-test"}
    r = httpx.post(keyed.base_url + TEXT, json={"model": "text-embedding-v4", "input": {"texts": ["x"]}}, headers=headers)
    assert r.status_code == 200


def test_no_key_configured_accepts_anything(client):
    assert embed(client, ["x"]).status_code == 200


@pytest.mark.parametrize("path", ["/", "/api/v1/services/embeddings/text-embedding", "/compatible-mode/v1/chat/completions"])
def test_unknown_path_is_404(client, path):
    message = native_error(client.post(path, json={}), 404, "InvalidURL")
    assert message == f"Invalid URL provided in your request: {path}"


@pytest.mark.parametrize("path", [TEXT, MULTIMODAL, COMPAT])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_method_is_405(client, path, method):
    r = client.request(method, path)
    assert native_error(r, 405, "MethodNotAllowed") == f"Method {method} is not allowed; use POST."
    assert r.headers["allow"] == "POST"


def test_statistics_under_concurrency(service):
    def worker(i):
        with httpx.Client(base_url=service.base_url) as c:
            for j in range(10):
                embed(c, [f"w{i} r{j}", "x"] if j % 5 else ["x"] * 11)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    snap = service.stats.snapshot()
    assert snap.requests == 60
    assert snap.by_status == {200: 48, 400: 12}
    assert snap.ok == 48 and snap.rows == 96
    assert snap.by_endpoint == {"text": 60}
    service.reset_stats()
    assert service.stats.snapshot().requests == 0 and service.stats.recent == []


async def test_asgi_app_without_a_server():
    app = create_app(backend="hash", faults=FaultConfig(rate_503=1.0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as c:
        assert (await c.post(TEXT, json={"model": "text-embedding-v4", "input": {"texts": ["x"]}})).status_code == 503
        app.set_faults(None)
        r = await c.post(COMPAT, json={"model": "text-embedding-v4", "input": ["x", "y"]})
        assert r.status_code == 200 and len(r.json()["data"]) == 2
    assert app.stats.by_status == {503: 1, 200: 1}


def test_local_service_life_cycle():
    svc = LocalService(backend="hash")
    assert repr(svc) == "LocalService('hash', not started)"
    with svc:
        assert svc.base_url.startswith("http://127.0.0.1:")
        port = svc.port
        assert httpx.post(svc.base_url + COMPAT, json={"model": "text-embedding-v4", "input": "x"}).status_code == 200
        thread = svc._thread
    assert not thread.is_alive()
    svc.stop()  # idempotent
    with socket.socket() as s:  # the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{port}{COMPAT}", json={"model": "text-embedding-v4", "input": "x"}, timeout=2)


def test_stop_does_not_hang_on_an_open_keep_alive_connection():
    with LocalService() as svc:
        c = httpx.Client(base_url=svc.base_url)
        assert embed(c, ["x"]).status_code == 200  # leaves a pooled connection open
    c.close()
    assert svc._thread is None


def test_startup_line_names_backend_and_warns_about_media():
    app = create_app(backend="hash")
    line = startup_line(app, "http://127.0.0.1:8000")
    assert "backend 'hash'" in line and "not semantic" in line and "image/video" in line
    assert "\n" not in line


def test_serve_prints_one_line_and_listens_on_loopback(tmp_path):
    import re
    import subprocess
    import sys

    code = "from dashscope_embed.server import serve; serve(port=0, backend='hash')"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # serve prints before it accepts connections
        match = re.search(r"at http://127\.0\.0\.1:(\d+) ", line)
        assert match, line
        assert "backend 'hash'" in line and "not semantic" in line
        url = f"http://127.0.0.1:{match.group(1)}{COMPAT}"
        for _ in range(100):
            try:
                r = httpx.post(url, json={"model": "text-embedding-v4", "input": "x"}, timeout=5)
                break
            except httpx.ConnectError:
                import time

                time.sleep(0.05)
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_pasted_service_key_accepts_the_client_that_strips_the_same_paste():
    # the clients strip surrounding whitespace from keys; a service started with the same pasted key must match
    from dashscope_embed import DashScopeEmbedder

    with LocalService(api_key="  sk-pasted-key-0123456789\n") as svc:
        with DashScopeEmbedder(api_key="sk-pasted-key-0123456789\n", base_url=svc.base_url) as engine:
            assert engine.embed(["x"]).dense.shape == (1, 1024)


@pytest.mark.parametrize("port", [99999, -1, "8000"])
def test_a_port_outside_the_tcp_range_is_refused_as_bad_input(port):
    # 99999 escaped LocalService.start (and `serve --port 99999`) as OverflowError from socket.bind
    from dashscope_embed import InvalidInputError
    from dashscope_embed.server import LocalService

    service = LocalService(backend="hash", port=port)
    with pytest.raises(InvalidInputError, match="port must be an int from 0 to 65535"):
        service.start()
    assert service.base_url == ""
