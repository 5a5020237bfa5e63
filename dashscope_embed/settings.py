"""Connection settings: API key, region and base URL, workspace, protocol, timeouts; the one place that reads the
``DASHSCOPE_*`` environment.

Region roots and URL forms come from the Model Studio docs ("Obtain an API key" / "Endpoints",
https://help.aliyun.com/en/model-studio/regions): Beijing, Singapore, Virginia and Hong Kong have shared roots;
Frankfurt and Tokyo are reached only through workspace domains; every region has the workspace domain
``https://{WorkspaceId}.{region-id}.maas.aliyuncs.com``. A key works only in its own region. Nothing here touches
the ``dashscope`` SDK's module globals: two engines with two keys never see each other's key.

An API key is never sent in clear text: a plain ``http://`` root that is not loopback is refused when a key is set,
unless ``allow_insecure_http=True`` (or ``DASHSCOPE_ALLOW_INSECURE_HTTP=1``) says the gateway is trusted.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import InvalidInputError, InvalidOptionsError
from .keys import clean_api_key

__all__ = [
    "REGIONS",
    "REGION_ROOTS",
    "REGION_IDS",
    "REGION_NAMES",
    "WORKSPACE_ONLY_REGIONS",
    "DEFAULT_REGION",
    "ENV",
    "CheckedModel",
    "ConnectionSettings",
    "environment_defaults",
    "ResolvedSettings",
    "resolve_connection",
    "normalize_base_url",
    "workspace_root",
    "canonical_region",
    "region_label",
    "region_of_root",
    "is_loopback_url",
    "env_value",
    "env_key",
    "env_base_url",
    "env_region",
    "env_workspace",
    "env_allow_insecure_http",
    "NATIVE_TEXT_PATH",
    "NATIVE_MULTIMODAL_PATH",
    "OPENAI_EMBEDDINGS_PATH",
    "UPLOADS_PATH",
]

#: Region ids as they appear in workspace domains ``https://{WorkspaceId}.{region-id}.maas.aliyuncs.com``.
REGION_IDS: dict[str, str] = {
    "beijing": "cn-beijing",
    "singapore": "ap-southeast-1",
    "virginia": "us-east-1",
    "hongkong": "cn-hongkong",
    "frankfurt": "eu-central-1",
    "tokyo": "ap-northeast-1",
}
#: Every region by friendly name (what ``region=`` takes; region ids are accepted too).
REGIONS: tuple[str, ...] = tuple(REGION_IDS)
#: Display names, for messages and the ``models`` command.
REGION_NAMES: dict[str, str] = {
    "beijing": "China (Beijing)",
    "singapore": "Singapore",
    "virginia": "US (Virginia)",
    "hongkong": "China (Hong Kong)",
    "frankfurt": "Germany (Frankfurt)",
    "tokyo": "Japan (Tokyo)",
}
#: Shared host roots of the regions that have one (the official SDK defaults to Beijing).
REGION_ROOTS: dict[str, str] = {
    "beijing": "https://dashscope.aliyuncs.com",
    "singapore": "https://dashscope-intl.aliyuncs.com",
    "virginia": "https://dashscope-us.aliyuncs.com",
    "hongkong": "https://cn-hongkong.dashscope.aliyuncs.com",
}
#: Regions reached only through a workspace domain: ``workspace`` is required there.
WORKSPACE_ONLY_REGIONS: tuple[str, ...] = ("frankfurt", "tokyo")
DEFAULT_REGION = "beijing"
#: The longest ``timeout`` (seconds) taken: the platform's longest wait (``threading.TIMEOUT_MAX``, about 292 years on
#: Linux). A longer one (``float("inf")``) overflows the socket layer at the first request (OverflowError).
MAX_TIMEOUT = threading.TIMEOUT_MAX
#: The largest count a job option takes (chunk size, rows per line, lines per shard): the jobs' state and manifest
#: files store 64-bit integers, and orjson refuses a larger one (TypeError) when the file is written.
MAX_COUNT = 2**63 - 1

NATIVE_TEXT_PATH = "/api/v1/services/embeddings/text-embedding/text-embedding"
NATIVE_MULTIMODAL_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
OPENAI_EMBEDDINGS_PATH = "/compatible-mode/v1/embeddings"
#: Temporary upload of local files (``GET ?action=getPolicy&model=M``), see ``dashscope_embed.uploads``.
UPLOADS_PATH = "/api/v1/uploads"

#: Environment variables, by setting. The SDK 2.x spellings come first, then the 1.x ones.
ENV: dict[str, tuple[str, ...]] = {
    "api_key": ("DASHSCOPE_API_KEY",),
    "base_url": ("DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"),
    "region": ("DASHSCOPE_REGION", "DASHSCOPE_API_REGION"),
    "workspace": ("DASHSCOPE_WORKSPACE", "DASHSCOPE_WORKSPACE_ID"),
    "allow_insecure_http": ("DASHSCOPE_ALLOW_INSECURE_HTTP",),
}

Protocol = Literal["dashscope", "openai"]
_ROOT_SUFFIXES = ("/compatible-mode/v1", "/api/v1")
_REGION_ALIASES = {
    **{region_id: name for name, region_id in REGION_IDS.items()},
    "intl": "singapore",
    "hong-kong": "hongkong",
    "us": "virginia",
}
_WORKSPACE_HOST = re.compile(r"^[^.]+\.([a-z0-9-]+)\.maas\.aliyuncs\.com$", re.I)
_TRUE = ("1", "true", "yes", "on")


def env_value(setting: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The first non-empty environment variable of ``ENV[setting]``, or ``None``.

    Raises:
        KeyError: ``setting`` is not a key of ``ENV``.
    """
    environ = os.environ if environ is None else environ
    for name in ENV[setting]:
        value = environ.get(name)
        if value:
            return value
    return None


def environment_defaults(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """The connection fields the environment sets: ``api_key`` (``SecretStr``), ``base_url``, ``region``,
    ``workspace`` (each from its ``ENV`` variables, SDK 2.x spelling first) and ``allow_insecure_http`` (``True``
    when ``DASHSCOPE_ALLOW_INSECURE_HTTP`` says so); unset or empty variables are left out."""
    found: dict[str, object] = {}
    for setting in ("api_key", "base_url", "region", "workspace"):
        value = env_value(setting, environ)
        if value:
            found[setting] = env_key(environ) if setting == "api_key" else value
    if env_allow_insecure_http(environ):
        found["allow_insecure_http"] = True
    return found


def env_key(environ: Mapping[str, str] | None = None) -> SecretStr | None:
    """The key of the environment (``ENV["api_key"]``), cleaned by ``keys.clean_api_key``, or ``None``.

    Raises:
        InvalidInputError: the variable is whitespace only or holds a character a key cannot have.
    """
    environ = os.environ if environ is None else environ
    for name in ENV["api_key"]:
        if environ.get(name):
            return clean_api_key(environ[name], source=name)
    return None


def env_base_url() -> str | None:
    """``DASHSCOPE_BASE_URL`` (or the SDK's ``DASHSCOPE_HTTP_BASE_URL``), or ``None``."""
    return env_value("base_url")


def env_region() -> str | None:
    """``DASHSCOPE_REGION`` (SDK 2.x) or ``DASHSCOPE_API_REGION`` (SDK 1.x), or ``None``."""
    return env_value("region")


def env_workspace() -> str | None:
    """``DASHSCOPE_WORKSPACE`` (SDK 2.x) or ``DASHSCOPE_WORKSPACE_ID`` (SDK 1.x), or ``None``."""
    return env_value("workspace")


def env_allow_insecure_http(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``DASHSCOPE_ALLOW_INSECURE_HTTP`` is ``1``/``true``/``yes``/``on``."""
    value = env_value("allow_insecure_http", environ)
    return value is not None and value.strip().lower() in _TRUE


def normalize_base_url(url: str) -> tuple[str, Protocol | None]:
    """Split a base URL in any of its three spellings into ``(host_root, implied_protocol)``.

    ``https://h``, ``https://h/api/v1`` (dashscope SDK spelling) and ``https://h/compatible-mode/v1`` (openai SDK
    spelling) all give root ``https://h``; the last implies protocol ``"openai"``, the second ``"dashscope"``.

    Raises:
        InvalidInputError: not a string, no http(s) scheme, no host, or a host or port a URL cannot have (an
            unclosed ``[`` of an IPv6 address, a port outside 0..65535), all refused here rather than by urllib or
            the socket layer at the first request.
    """
    if not isinstance(url, str):
        raise InvalidInputError(f"base_url must be a string, got {type(url).__name__}")
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://", url, re.I):
        raise InvalidInputError(f"base_url must start with http:// or https://, got {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise InvalidInputError(f"base_url {url!r} is not a valid URL: {exc}") from None
    if not parts.hostname:
        raise InvalidInputError(f"base_url {url!r} names no host")
    for suffix in _ROOT_SUFFIXES:
        if url.lower().endswith(suffix):
            return url[: -len(suffix)], ("openai" if suffix == "/compatible-mode/v1" else "dashscope")
    return url, None


def _clean_workspace(workspace: object) -> str | None:
    """The workspace id with surrounding whitespace removed (a pasted id often ends in a newline); ``None`` for
    none. It is sent as a header, so a space, control or non-ASCII character is refused here, before a request,
    rather than by httpx (an illegal header value, or an encoding error) at the first request.

    Raises:
        InvalidInputError: not a string, or a character a header cannot carry (its position is named).
    """
    if workspace is None:
        return None
    if not isinstance(workspace, str):
        raise InvalidInputError(f"workspace must be a string, got {type(workspace).__name__}")
    cleaned = workspace.strip()
    for position, char in enumerate(cleaned):
        if not ("\x21" <= char <= "\x7e"):
            raise InvalidInputError(
                f"workspace {cleaned!r} holds {char!r} at position {position}: a workspace id is printable ASCII "
                "(letters, digits and '-')"
            )
    return cleaned or None


def workspace_root(workspace_id: str, region: str = DEFAULT_REGION) -> str:
    """The workspace domain ``https://{WorkspaceId}.{region-id}.maas.aliyuncs.com`` of a region (any of the six).

    Raises:
        InvalidInputError: unknown region, or a workspace id that cannot be a host label.
    """
    name = canonical_region(region)
    if not isinstance(workspace_id, str) or not re.fullmatch(
        r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", workspace_id
    ):
        raise InvalidInputError(f"workspace {workspace_id!r} is not a workspace id (letters, digits and '-')")
    return f"https://{workspace_id}.{REGION_IDS[name]}.maas.aliyuncs.com"


def canonical_region(region: str) -> str:
    """The friendly name (``"virginia"``) of a region given by friendly name or region id (``"us-east-1"``).

    Raises:
        InvalidInputError: unknown region; the message lists both spellings of every region.
    """
    key = str(region).strip().lower().replace("_", "-")
    key = _REGION_ALIASES.get(key, key)
    if key not in REGION_IDS:
        allowed = ", ".join(f"{name} ({region_id})" for name, region_id in REGION_IDS.items())
        raise InvalidInputError(f"unknown region {region!r}; allowed: {allowed}")
    return key


def region_label(region: str) -> str:
    """``"'virginia' (us-east-1)"`` for ``"virginia"``: how messages name a region."""
    return f"{region!r} ({REGION_IDS[region]})" if region in REGION_IDS else repr(region)


def region_of_root(root: str) -> str | None:
    """The region a DashScope root belongs to (a shared root or a workspace domain), or ``None`` for any other
    root (the local service, a gateway)."""
    for name, shared in REGION_ROOTS.items():
        if root.lower() == shared:
            return name
    match = _WORKSPACE_HOST.match(urlsplit(root).hostname or "")
    if match and match.group(1).lower() in REGION_IDS.values():
        return _REGION_ALIASES[match.group(1).lower()]
    return None


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost``, ``127.0.0.0/8``, ``::1``), judged on the parsed host,
    so ``http://localhost.example.com`` is not loopback."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CheckedModel(BaseModel):
    """A pydantic model whose construction errors join the package's tree: bad arguments raise
    ``InvalidOptionsError`` (also pydantic's ``ValidationError``; no input, so no key, in its text)."""

    def __init__(self, **data: Any) -> None:
        """Validate the fields.

        Raises:
            InvalidOptionsError: an unknown argument or a bad value (the message names each one).
        """
        try:
            super().__init__(**data)
        except InvalidOptionsError:
            raise
        except ValidationError as exc:
            raise InvalidOptionsError.from_validation(exc) from None


class ConnectionSettings(CheckedModel):
    """Where and how to reach DashScope. Fields left ``None`` fall back to the environment.

    Environment (``ENV``): ``DASHSCOPE_API_KEY``; ``DASHSCOPE_BASE_URL`` (or the SDK's ``DASHSCOPE_HTTP_BASE_URL``);
    ``DASHSCOPE_REGION`` (SDK 2.x) or ``DASHSCOPE_API_REGION`` (SDK 1.x); ``DASHSCOPE_WORKSPACE`` (SDK 2.x) or
    ``DASHSCOPE_WORKSPACE_ID`` (SDK 1.x); ``DASHSCOPE_ALLOW_INSECURE_HTTP``. Precedence: explicit ``base_url`` >
    ``DASHSCOPE_BASE_URL`` > ``region`` > ``DASHSCOPE_REGION`` > Beijing.

    Attributes:
        api_key: the key, sent as ``Authorization: Bearer``; hidden in repr and dumps.
        base_url: a host root, ``.../api/v1`` or ``.../compatible-mode/v1``.
        region: any of ``REGIONS`` by friendly name (``"virginia"``) or region id (``"us-east-1"``). Frankfurt and
            Tokyo need ``workspace``: their root is the workspace domain.
        workspace: the Model Studio workspace id, sent as the ``X-DashScope-WorkSpace`` header when set.
        protocol: ``"dashscope"`` (native) or ``"openai"`` (compatible mode); ``None`` infers it from ``base_url``
            (``.../compatible-mode/v1`` means openai) and defaults to native.
        timeout: seconds for one HTTP request (connect + read), finite, at most ``MAX_TIMEOUT``.
        allow_insecure_http: send the key over plain ``http://`` to a host that is not loopback (a trusted
            gateway); refused otherwise.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    api_key: SecretStr | None = Field(default=None, repr=False, exclude=True)
    base_url: str | None = None
    region: str | None = None
    workspace: str | None = None
    protocol: Protocol | None = None
    timeout: float = Field(default=60.0, gt=0, le=MAX_TIMEOUT)
    allow_insecure_http: bool = False

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: str | None) -> str | None:
        return None if value is None else canonical_region(value)

    @field_validator("api_key", mode="before")
    @classmethod
    def _clean_key(cls, value: object) -> SecretStr | None:
        # Stripped and checked here, so that every path to a request header sees a clean key.
        return clean_api_key(value)

    def resolved(self, environ: Mapping[str, str] | None = None) -> ResolvedSettings:
        """Apply environment fallbacks and URL normalisation.

        Raises:
            InvalidInputError: bad region, base URL or protocol combination; Frankfurt or Tokyo without a
                workspace; a key bound for a plain ``http://`` host that is not loopback without
                ``allow_insecure_http``. All before any request.
        """
        key = self.api_key if self.api_key is not None else env_key(environ)
        workspace = _clean_workspace(self.workspace or env_value("workspace", environ))
        base = self.base_url or env_value("base_url", environ)
        implied: Protocol | None = None
        if base:
            root, implied = normalize_base_url(base)
            region = region_of_root(root) or self.region
        else:
            region = canonical_region(self.region or env_value("region", environ) or DEFAULT_REGION)
            if region in WORKSPACE_ONLY_REGIONS:
                if not workspace:
                    raise InvalidInputError(
                        f"region {region_label(region)} is reached only through a workspace domain: pass "
                        f"workspace='<WorkspaceId>' (or set DASHSCOPE_WORKSPACE), which sends requests to "
                        f"https://<WorkspaceId>.{REGION_IDS[region]}.maas.aliyuncs.com, or pass that URL as base_url "
                        "(https://help.aliyun.com/en/model-studio/regions)"
                    )
                root = workspace_root(workspace, region)
            else:
                root = REGION_ROOTS[region]
        protocol: Protocol = self.protocol or implied or "dashscope"
        allow_http = self.allow_insecure_http or env_allow_insecure_http(environ)
        if key is not None and not allow_http and root.lower().startswith("http://") and not is_loopback_url(root):
            raise InvalidInputError(
                f"refusing to send the API key in clear text to {urlsplit(root).netloc} over plain http://; use "
                "https://, or, for a trusted gateway only, pass allow_insecure_http=True "
                "(or set DASHSCOPE_ALLOW_INSECURE_HTTP=1)"
            )
        return ResolvedSettings(
            api_key=key, root=root, protocol=protocol, workspace=workspace, timeout=self.timeout, region=region
        )


class ResolvedSettings(CheckedModel):
    """Settings after environment fallbacks: what the engine actually uses.

    Attributes:
        root: the host root requests go to (no trailing ``/api/v1``).
        region: the friendly name of the root's region, when the root (or ``region=``) says it; ``None`` for a
            custom root such as the local service.
    """

    model_config = ConfigDict(frozen=True)

    api_key: SecretStr | None = Field(default=None, repr=False, exclude=True)
    root: str
    protocol: Protocol
    workspace: str | None = None
    timeout: float = 60.0
    region: str | None = None

    @property
    def is_local(self) -> bool:
        """True for a loopback root (the local service), where a missing key is allowed."""
        return is_loopback_url(self.root)

    def require_key(self) -> None:
        """Check that a request may be sent: a key is set, or the root is loopback (the local service).

        Raises:
            AuthenticationError: no key for a DashScope root; raised before any request.
        """
        if self.api_key is None and not self.is_local:
            from .errors import AuthenticationError

            raise AuthenticationError(
                "no API key: pass api_key=... or set DASHSCOPE_API_KEY "
                "(get one at https://help.aliyun.com/en/model-studio/get-api-key)"
            )

    def headers(self) -> dict[str, str]:
        """Request headers: bearer key (when set), JSON content type, workspace (when set)."""
        from .version import __version__

        headers = {"Content-Type": "application/json", "User-Agent": f"dashscope-embed/{__version__}"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        if self.workspace:
            headers["X-DashScope-WorkSpace"] = self.workspace
        return headers


def resolve_connection(**fields: Any) -> ResolvedSettings:
    """``ConnectionSettings(**fields).resolved()``: environment fallbacks applied, URL normalised.

    Raises:
        InvalidInputError: a field is invalid (bad region, base URL, protocol or timeout), a workspace-only region
            without a workspace, or a key bound for plain http:// to a remote host; the message names it.
    """
    try:
        connection = ConnectionSettings(**fields)
    except ValidationError as exc:
        raise InvalidInputError(validation_message(exc)) from None
    return connection.resolved()


def validation_message(exc: ValidationError) -> str:
    """A pydantic error as ``field: reason; ...`` without pydantic's boilerplate."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(x) for x in error["loc"])
        parts.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
