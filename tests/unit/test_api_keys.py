"""API keys: surrounding whitespace stripped from every source, bad keys refused at construction, never shown.

A pasted key or ``$(cat key.txt)`` ends in a newline; sent as is, httpx refuses the header and quotes it in its
error. These tests check the key is cleaned wherever it enters and that no error type, and not the command line,
ever shows its text.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import time

import httpx
import pytest
from pydantic import SecretStr

from dashscope_embed import DashScopeEmbedder, DashScopeError
from dashscope_embed.errors import InvalidInputError, InvalidRequestError
from dashscope_embed.settings import ConnectionSettings, environment_defaults, resolve_connection

from support.fakes import FakeDashScope

SAMPLE_KEY = "sk-0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_REGION",
                 "DASHSCOPE_API_REGION", "DASHSCOPE_WORKSPACE", "DASHSCOPE_WORKSPACE_ID"):
        monkeypatch.delenv(name, raising=False)


def _sent_authorization(**kwargs) -> str:
    fake = FakeDashScope()
    with DashScopeEmbedder("text-embedding-v4", dimensions=64, transport=fake.transport(), max_retries=0,
                           **kwargs) as engine:
        engine.embed(["hello"])
    return fake.headers[0]["authorization"]


@pytest.mark.parametrize("raw", [SAMPLE_KEY + "\n", f"  {SAMPLE_KEY}\t ", f"\r\n{SAMPLE_KEY}\r\n"])
def test_whitespace_stripped_from_argument_and_environment(monkeypatch, raw):
    assert _sent_authorization(api_key=raw) == f"Bearer {SAMPLE_KEY}"
    assert _sent_authorization(api_key=SecretStr(raw)) == f"Bearer {SAMPLE_KEY}"
    monkeypatch.setenv("DASHSCOPE_API_KEY", raw)
    assert _sent_authorization() == f"Bearer {SAMPLE_KEY}"
    assert environment_defaults()["api_key"].get_secret_value() == SAMPLE_KEY
    assert ConnectionSettings().resolved().api_key.get_secret_value() == SAMPLE_KEY


def test_whitespace_stripped_from_a_key_file(tmp_path):
    path = tmp_path / "key.txt"
    path.write_text(SAMPLE_KEY + "\n")
    assert _sent_authorization(api_key=path.read_text()) == f"Bearer {SAMPLE_KEY}"


def test_whitespace_stripped_in_both_adapters(monkeypatch):
    from langchain_dashscope_embed import DashScopeEmbeddings
    from llama_index_dashscope_embed import DashScopeEmbedding

    assert DashScopeEmbedding(api_key=SAMPLE_KEY + "\n").api_key.get_secret_value() == SAMPLE_KEY
    assert DashScopeEmbeddings(api_key=f" {SAMPLE_KEY} ").api_key.get_secret_value() == SAMPLE_KEY
    monkeypatch.setenv("DASHSCOPE_API_KEY", SAMPLE_KEY + "\n")
    assert DashScopeEmbedding().api_key.get_secret_value() == SAMPLE_KEY
    assert DashScopeEmbeddings().engine.settings.headers()["Authorization"] == f"Bearer {SAMPLE_KEY}"


@pytest.mark.parametrize(
    "bad, words",
    [
        ("", "empty"),
        ("  \n", "whitespace only"),
        ("sk-0123456789ab cdef0123", "space or control character at position 15"),
        ("sk-0123456789abcdéf0123", "non-ASCII character at position 17"),
        ("sk-0123456789ab\x00cdef", "control character at position 15"),
    ],
)
def test_bad_key_refused_at_construction_without_its_text(bad, words):
    with pytest.raises(InvalidInputError) as info:
        DashScopeEmbedder("text-embedding-v4", api_key=bad)
    message = str(info.value)
    assert words in message
    assert (bad.strip() not in message) if bad.strip() else True
    with pytest.raises(InvalidInputError, match="api_key"):
        resolve_connection(api_key=bad)


def test_bad_key_in_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-abc\u00a0def0123456789")
    with pytest.raises(InvalidInputError, match="DASHSCOPE_API_KEY holds") as info:
        DashScopeEmbedder("text-embedding-v4")
    assert "abc" not in str(info.value)


def test_bad_key_refused_by_the_adapters():
    from langchain_dashscope_embed import DashScopeEmbeddings
    from llama_index_dashscope_embed import DashScopeEmbedding

    for cls in (DashScopeEmbedding, DashScopeEmbeddings):
        with pytest.raises(ValueError, match="position") as info:
            cls(api_key="sk-0123456789abcdéf")
        assert "0123456789" not in str(info.value)


def _package_error_types() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package_name in ("dashscope_embed", "llama_index_dashscope_embed", "langchain_dashscope_embed"):
        package = importlib.import_module(package_name)
        modules = [package] + [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(package.__path__, package_name + ".")
            # the local service's own reply types never reach a caller (they become HTTP replies)
            if not info.name.startswith(("dashscope_embed.ray", "dashscope_embed.server"))
        ]
        for module in modules:
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if issubclass(obj, BaseException) and obj.__module__.startswith(package_name):
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def _construct(cls: type[BaseException], message: str) -> BaseException:
    from pydantic import ValidationError

    from dashscope_embed.errors import BatchSizeError, InvalidOptionsError

    if issubclass(cls, InvalidOptionsError):  # also a pydantic ValidationError: made from one, as the adapters do
        line = {"type": "value_error", "loc": ("api_key",), "input": message, "ctx": {"error": ValueError(message)}}
        return cls.from_validation(ValidationError.from_exception_data("Options", [line]))  # type: ignore[list-item]
    if cls is BatchSizeError or issubclass(cls, BatchSizeError):
        return cls(message, limit=10, status_code=400, code="InvalidParameter", request_id="r-1")
    try:
        return cls(message, status_code=500, code="InternalError", request_id="r-1")  # type: ignore[call-arg]
    except TypeError:
        return cls(message)


def test_no_error_type_of_the_packages_shows_a_key():
    DashScopeEmbedder("text-embedding-v4", api_key=SAMPLE_KEY)  # the key this process was given
    other_shaped = "sk-" + "Z" * 24  # never given to the package: caught by its shape
    types = _package_error_types()
    in_tree = [cls for cls in types if issubclass(cls, DashScopeError)]
    assert len(in_tree) >= 15, [c.__name__ for c in types]
    for cls in in_tree:
        for leak in (
            f"Illegal header value b'Bearer {SAMPLE_KEY}\\n'",
            f"upstream said: key {SAMPLE_KEY} refused",
            f"Authorization: Bearer {other_shaped}",
        ):
            error = _construct(cls, leak)
            shown = " ".join([str(error), repr(error), repr(error.args), str(getattr(error, "message", ""))])
            assert SAMPLE_KEY not in shown and other_shaped not in shown, cls
            assert "***" in shown, cls


def test_transport_error_quoting_the_header_does_not_show_the_key():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value b'{request.headers['authorization']}\\n'")

    with DashScopeEmbedder("text-embedding-v4", api_key=SAMPLE_KEY, transport=httpx.MockTransport(refuse),
                           max_retries=4, retry_base_delay=1.0) as engine:
        started = time.monotonic()
        with pytest.raises(InvalidRequestError) as info:
            engine.embed(["hello"])
    # refused by httpx itself: the same request would fail the same way, so it is not retried for seconds
    assert info.value.attempts == 1 and time.monotonic() - started < 0.5
    assert "could not be sent" in str(info.value)
    assert SAMPLE_KEY not in str(info.value) and SAMPLE_KEY not in repr(info.value)


def test_cli_error_printing_never_shows_the_key(monkeypatch, capsys):
    from dashscope_embed import cli

    types = _package_error_types()
    for cls in types:
        error = _construct(cls, f"failed with Authorization: Bearer {SAMPLE_KEY}")

        def boom(args, error=error):
            raise error

        monkeypatch.setitem(cli.COMMANDS, "models", boom)
        try:
            cli.main(["models"])
        except BaseException as exc:  # an error type the CLI does not catch propagates; its text must be clean
            assert SAMPLE_KEY not in str(exc) or not issubclass(cls, DashScopeError), cls
        captured = capsys.readouterr()
        assert SAMPLE_KEY not in captured.err + captured.out, cls


def test_cli_with_a_pasted_key_against_a_refusing_service(monkeypatch, capsys, tmp_path):
    from dashscope_embed.cli import main
    from dashscope_embed.server import LocalService

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "hello"}\n')
    with LocalService(backend="hash", api_key="the-right-local-key") as service:
        monkeypatch.setenv("DASHSCOPE_API_KEY", SAMPLE_KEY + "\n")
        status = main(["embed", str(src), "-o", str(tmp_path / "out.parquet"), "--base-url", service.base_url,
                       "--no-progress", "--max-retries", "0"])
        sent = service.stats.requests
    captured = capsys.readouterr()
    assert status == 1 and sent == 1  # refused once by the service (401), not retried as a connection error
    assert "InvalidApiKey" in captured.err
    assert SAMPLE_KEY not in captured.err + captured.out
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-0123456789abcdéf")
    assert main(["embed", str(src), "-o", str(tmp_path / "out2.parquet"), "--base-url", "http://127.0.0.1:9",
                 "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "DASHSCOPE_API_KEY holds a non-ASCII character" in captured.err and "0123456789" not in captured.err
