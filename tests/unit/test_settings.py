"""Regions, base URL spellings, environment fallbacks, and keeping the key out of sight."""

import pytest
from pydantic import SecretStr

from dashscope_embed import ConnectionSettings, DashScopeEmbedder, InvalidInputError, normalize_base_url, workspace_root

ENV_NAMES = ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_REGION", "DASHSCOPE_WORKSPACE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "region, root",
    [
        (None, "https://dashscope.aliyuncs.com"),
        ("beijing", "https://dashscope.aliyuncs.com"),
        ("singapore", "https://dashscope-intl.aliyuncs.com"),
        ("ap-southeast-1", "https://dashscope-intl.aliyuncs.com"),
        ("hongkong", "https://cn-hongkong.dashscope.aliyuncs.com"),
    ],
)
def test_region_roots(region, root):
    assert ConnectionSettings(region=region).resolved().root == root


@pytest.mark.parametrize(
    "url, root, protocol",
    [
        ("https://dashscope-intl.aliyuncs.com", "https://dashscope-intl.aliyuncs.com", None),
        ("https://dashscope-intl.aliyuncs.com/api/v1/", "https://dashscope-intl.aliyuncs.com", "dashscope"),
        ("https://dashscope.aliyuncs.com/compatible-mode/v1", "https://dashscope.aliyuncs.com", "openai"),
        ("http://127.0.0.1:8000/api/v1", "http://127.0.0.1:8000", "dashscope"),
    ],
)
def test_base_url_spellings(url, root, protocol):
    assert normalize_base_url(url) == (root, protocol)


def test_compatible_mode_url_implies_openai_protocol_unless_told_otherwise():
    assert ConnectionSettings(base_url="https://h/compatible-mode/v1").resolved().protocol == "openai"
    assert ConnectionSettings(base_url="https://h/api/v1").resolved().protocol == "dashscope"
    assert ConnectionSettings(base_url="https://h", protocol="openai").resolved().protocol == "openai"
    assert ConnectionSettings().resolved().protocol == "dashscope"


def test_bad_base_url():
    with pytest.raises(InvalidInputError, match="http"):
        normalize_base_url("dashscope.aliyuncs.com")


@pytest.mark.parametrize(
    "url, match",
    [
        ("http://[::1", "not a valid URL"),  # urllib: Invalid IPv6 URL
        ("http://127.0.0.1:99999", "not a valid URL"),  # the async transport: OverflowError in an ExceptionGroup
        ("http://127.0.0.1:port", "not a valid URL"),
        ("http://:8000", "names no host"),
    ],
)
def test_a_base_url_that_cannot_be_sent_to_is_refused_as_bad_input(url, match, monkeypatch):
    with pytest.raises(InvalidInputError, match=match):
        normalize_base_url(url)
    with pytest.raises(InvalidInputError, match=match):
        DashScopeEmbedder("text-embedding-v4", api_key="sk-test-0000", base_url=url)
    monkeypatch.setenv("DASHSCOPE_BASE_URL", url)
    with pytest.raises(InvalidInputError, match=match):
        DashScopeEmbedder("text-embedding-v4", api_key="sk-test-0000")


@pytest.mark.parametrize("url", [None, 8000])
def test_normalize_base_url_refuses_a_value_that_is_not_a_string(url):
    with pytest.raises(InvalidInputError, match="must be a string"):
        normalize_base_url(url)


def test_environment_fallbacks(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-env")
    monkeypatch.setenv("DASHSCOPE_REGION", "singapore")
    monkeypatch.setenv("DASHSCOPE_WORKSPACE", "ws-9")
    resolved = ConnectionSettings().resolved()
    assert resolved.api_key.get_secret_value() == "sk-env"
    assert resolved.root == "https://dashscope-intl.aliyuncs.com"
    assert resolved.headers()["X-DashScope-WorkSpace"] == "ws-9"
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", "https://sdk.example/api/v1")
    assert ConnectionSettings().resolved().root == "https://sdk.example"
    monkeypatch.setenv("DASHSCOPE_BASE_URL", "https://ours.example")
    assert ConnectionSettings().resolved().root == "https://ours.example"
    # explicit arguments win over the environment
    explicit = ConnectionSettings(base_url="https://explicit.example", api_key=SecretStr("sk-arg")).resolved()
    assert explicit.root == "https://explicit.example" and explicit.api_key.get_secret_value() == "sk-arg"


def test_workspace_domain():
    assert workspace_root("ws1", "singapore") == "https://ws1.ap-southeast-1.maas.aliyuncs.com"
    assert workspace_root("ws1") == "https://ws1.cn-beijing.maas.aliyuncs.com"


def test_key_never_shown():
    settings = ConnectionSettings(api_key=SecretStr("sk-hidden-123"))
    resolved = settings.resolved()
    embedder = DashScopeEmbedder(api_key="sk-hidden-123")
    for text in (repr(settings), str(settings), repr(resolved), settings.model_dump_json(), resolved.model_dump_json(),
                 repr(embedder), str(embedder)):
        assert "sk-hidden-123" not in text
    assert resolved.headers()["Authorization"] == "Bearer sk-hidden-123"


def test_two_engines_keep_their_own_keys():
    import dashscope

    before = getattr(dashscope, "api_key", None)
    a = DashScopeEmbedder(api_key="sk-a")
    b = DashScopeEmbedder(api_key="sk-b")
    assert a.settings.headers()["Authorization"] == "Bearer sk-a"
    assert b.settings.headers()["Authorization"] == "Bearer sk-b"
    assert getattr(dashscope, "api_key", None) == before


def test_workspace_is_stripped_and_refused_when_a_header_cannot_carry_it(monkeypatch):
    # a pasted workspace id ends in a newline as often as a key does; a non-ASCII one made httpx raise
    # UnicodeEncodeError (outside DashScopeError) at the first request
    monkeypatch.delenv("DASHSCOPE_WORKSPACE", raising=False)
    monkeypatch.delenv("DASHSCOPE_WORKSPACE_ID", raising=False)
    settings = ConnectionSettings(base_url="http://127.0.0.1:9", workspace="ws-1\n").resolved()
    assert settings.workspace == "ws-1" and settings.headers()["X-DashScope-WorkSpace"] == "ws-1"
    for bad in ("w\u00df", "ws 1", "ws\t1"):
        with pytest.raises(InvalidInputError, match="workspace"):
            ConnectionSettings(base_url="http://127.0.0.1:9", workspace=bad).resolved()
    monkeypatch.setenv("DASHSCOPE_WORKSPACE", "  ws-env  ")
    assert ConnectionSettings(base_url="http://127.0.0.1:9").resolved().workspace == "ws-env"


@pytest.mark.parametrize("timeout", [float("inf"), 1e300, float("nan")])
def test_a_timeout_the_socket_layer_cannot_wait_is_refused_before_any_request(timeout):
    # inf and 1e300 reached the first request and escaped as OverflowError ("timestamp out of range")
    from dashscope_embed import DashScopeReranker, MultimodalEmbedder

    for build in (
        lambda: DashScopeEmbedder("text-embedding-v4", api_key="sk-test-0000", timeout=timeout),
        lambda: DashScopeReranker("qwen3-rerank", api_key="sk-test-0000", timeout=timeout),
        lambda: MultimodalEmbedder("multimodal-embedding-v1", api_key="sk-test-0000", timeout=timeout),
    ):
        with pytest.raises(InvalidInputError, match="timeout"):
            build()


def test_an_adapter_refuses_an_infinite_timeout(monkeypatch):
    pytest.importorskip("langchain_core")
    from langchain_dashscope_embed import DashScopeEmbeddings

    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-0000")
    with pytest.raises(InvalidInputError, match="timeout"):
        DashScopeEmbeddings(timeout=float("inf"))
