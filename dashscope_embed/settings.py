"""Connection settings: API key, region and base URL, workspace, protocol, timeouts.

Region roots and URL forms come from the Model Studio docs ("Obtain an API key" / "Endpoints",
https://help.aliyun.com/en/model-studio/regions). Nothing here touches the ``dashscope`` SDK's module globals:
two engines with two keys never see each other's key.
"""

from __future__ import annotations

import os
import re
from typing import Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import InvalidInputError

__all__ = [
    "REGION_ROOTS",
    "REGION_IDS",
    "DEFAULT_REGION",
    "ConnectionSettings",
    "environment_defaults",
    "resolve_connection",
    "normalize_base_url",
    "workspace_root",
    "NATIVE_TEXT_PATH",
    "NATIVE_MULTIMODAL_PATH",
    "OPENAI_EMBEDDINGS_PATH",
]

#: Host roots per region (the official SDK defaults to Beijing).
REGION_ROOTS: dict[str, str] = {
    "beijing": "https://dashscope.aliyuncs.com",
    "singapore": "https://dashscope-intl.aliyuncs.com",
    "hongkong": "https://cn-hongkong.dashscope.aliyuncs.com",
}
#: Region ids as they appear in workspace domains ``https://{WorkspaceId}.{region-id}.maas.aliyuncs.com``.
REGION_IDS: dict[str, str] = {"beijing": "cn-beijing", "singapore": "ap-southeast-1", "hongkong": "cn-hongkong"}
DEFAULT_REGION = "beijing"

NATIVE_TEXT_PATH = "/api/v1/services/embeddings/text-embedding/text-embedding"
NATIVE_MULTIMODAL_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
OPENAI_EMBEDDINGS_PATH = "/compatible-mode/v1/embeddings"

Protocol = Literal["dashscope", "openai"]
_ROOT_SUFFIXES = ("/compatible-mode/v1", "/api/v1")
_REGION_ALIASES = {
    "cn-beijing": "beijing",
    "ap-southeast-1": "singapore",
    "intl": "singapore",
    "cn-hongkong": "hongkong",
    "hong-kong": "hongkong",
}


def normalize_base_url(url: str) -> tuple[str, Optional[str]]:
    """Split a base URL in any of its three spellings into ``(host_root, implied_protocol)``.

    ``https://h``, ``https://h/api/v1`` (dashscope SDK spelling) and ``https://h/compatible-mode/v1`` (openai SDK
    spelling) all give root ``https://h``; the last implies protocol ``"openai"``, the second ``"dashscope"``.

    Raises:
        InvalidInputError: the URL has no http(s) scheme.
    """
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://", url, re.I):
        raise InvalidInputError(f"base_url must start with http:// or https://, got {url!r}")
    for suffix in _ROOT_SUFFIXES:
        if url.lower().endswith(suffix):
            return url[: -len(suffix)], ("openai" if suffix == "/compatible-mode/v1" else "dashscope")
    return url, None


def workspace_root(workspace_id: str, region: str = DEFAULT_REGION) -> str:
    """The workspace-specific domain ``https://{WorkspaceId}.{region-id}.maas.aliyuncs.com`` for a region."""
    region = _canonical_region(region)
    return f"https://{workspace_id}.{REGION_IDS[region]}.maas.aliyuncs.com"


def _canonical_region(region: str) -> str:
    key = region.strip().lower().replace("_", "-")
    key = _REGION_ALIASES.get(key, key)
    if key not in REGION_ROOTS:
        raise InvalidInputError(f"unknown region {region!r}; allowed: {', '.join(REGION_ROOTS)}")
    return key


def _env(*names: str, environ: Mapping[str, str] | None = None) -> Optional[str]:
    environ = os.environ if environ is None else environ
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def environment_defaults(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """The connection fields the environment sets: the one place ``DASHSCOPE_*`` variables are read.

    Returns:
        A dict with any of ``api_key`` (``SecretStr``, from ``DASHSCOPE_API_KEY``), ``base_url``
        (``DASHSCOPE_BASE_URL``, else the SDK's ``DASHSCOPE_HTTP_BASE_URL``), ``region`` (``DASHSCOPE_REGION``)
        and ``workspace`` (``DASHSCOPE_WORKSPACE``); variables that are unset or empty are left out.
    """
    found: dict[str, object] = {}
    key = _env("DASHSCOPE_API_KEY", environ=environ)
    if key:
        found["api_key"] = SecretStr(key)
    for field, names in _ENV_NAMES.items():
        value = _env(*names, environ=environ)
        if value:
            found[field] = value
    return found


_ENV_NAMES: dict[str, tuple[str, ...]] = {
    "base_url": ("DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"),
    "region": ("DASHSCOPE_REGION",),
    "workspace": ("DASHSCOPE_WORKSPACE",),
}


class ConnectionSettings(BaseModel):
    """Where and how to reach DashScope. Fields left ``None`` fall back to the environment.

    Environment: ``DASHSCOPE_API_KEY``, ``DASHSCOPE_BASE_URL`` (or the SDK's ``DASHSCOPE_HTTP_BASE_URL``),
    ``DASHSCOPE_REGION``, ``DASHSCOPE_WORKSPACE``. Precedence: explicit ``base_url`` > ``DASHSCOPE_BASE_URL`` >
    ``region`` > ``DASHSCOPE_REGION`` > Beijing.

    Attributes:
        api_key: the key, sent as ``Authorization: Bearer``; hidden in repr and dumps.
        base_url: a host root, ``.../api/v1`` or ``.../compatible-mode/v1``.
        region: ``"beijing"`` | ``"singapore"`` | ``"hongkong"``.
        workspace: sent as the ``X-DashScope-WorkSpace`` header when set.
        protocol: ``"dashscope"`` (native) or ``"openai"`` (compatible mode); ``None`` infers it from ``base_url``
            (``.../compatible-mode/v1`` means openai) and defaults to native.
        timeout: seconds for one HTTP request (connect + read).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: Optional[SecretStr] = Field(default=None, repr=False, exclude=True)
    base_url: Optional[str] = None
    region: Optional[str] = None
    workspace: Optional[str] = None
    protocol: Optional[Protocol] = None
    timeout: float = Field(default=60.0, gt=0)

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else _canonical_region(value)

    def resolved(self, environ: Mapping[str, str] | None = None) -> "ResolvedSettings":
        """Apply environment fallbacks and URL normalisation.

        Raises:
            InvalidInputError: bad region, base URL or protocol combination.
        """
        env = environment_defaults(environ)
        key = self.api_key or env.get("api_key")
        base = self.base_url or env.get("base_url")
        implied: Optional[str] = None
        if base:
            root, implied = normalize_base_url(str(base))
        else:
            region = self.region or env.get("region") or DEFAULT_REGION
            root = REGION_ROOTS[_canonical_region(str(region))]
        protocol = self.protocol or implied or "dashscope"
        workspace = self.workspace or env.get("workspace")
        return ResolvedSettings(
            api_key=key, root=root, protocol=protocol, workspace=workspace, timeout=self.timeout
        )


class ResolvedSettings(BaseModel):
    """Settings after environment fallbacks: what the engine actually uses."""

    model_config = ConfigDict(frozen=True)

    api_key: Optional[SecretStr] = Field(default=None, repr=False, exclude=True)
    root: str
    protocol: Protocol
    workspace: Optional[str] = None
    timeout: float = 60.0

    @property
    def is_local(self) -> bool:
        """True for a loopback root (the local service), where a missing key is allowed."""
        return bool(re.match(r"^https?://(127\.|localhost|\[::1\])", self.root, re.I))

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
        from . import __version__

        headers = {"Content-Type": "application/json", "User-Agent": f"dashscope-embed/{__version__}"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        if self.workspace:
            headers["X-DashScope-WorkSpace"] = self.workspace
        return headers


def resolve_connection(**fields: object) -> ResolvedSettings:
    """``ConnectionSettings(**fields).resolved()``: environment fallbacks applied, URL normalised.

    Raises:
        InvalidInputError: a field is invalid (bad region, base URL, protocol or timeout); the message names it.
    """
    try:
        connection = ConnectionSettings(**fields)  # type: ignore[arg-type]
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
