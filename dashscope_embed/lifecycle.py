"""What every engine that owns a ``RequestRunner`` shares: one construction path (key, connection, runner),
closing, context managers and pickling. ``base.BaseEmbedder`` and ``rerank.DashScopeReranker`` build on it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .keys import clean_api_key
from .results import Usage
from .settings import ResolvedSettings, resolve_connection
from .transport import RequestRunner

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["RunnerLifecycle"]


class RunnerLifecycle:
    """``close``/``aclose``, (async) context-manager support and pickling (as the configuration plus the limits
    learned) for the engines that own a ``runner``."""

    runner: RequestRunner
    settings: ResolvedSettings

    def close(self) -> None:
        """Close the sync HTTP client and the thread pool (async clients: ``aclose``)."""
        self.runner.close()

    async def aclose(self) -> None:
        """Close the running event loop's async HTTP client, then the sync resources."""
        await self.runner.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _connect(
        self,
        api_key: Any,
        *,
        base_url: str | None,
        region: str | None,
        workspace: str | None,
        protocol: str | None,
        timeout: float,
        allow_insecure_http: bool,
        max_concurrency: int,
        max_retries: int,
        **runner_options: Any,
    ) -> None:
        """Clean the key, resolve the connection and build the runner: the one construction path of every engine.

        Sets ``_api_key``, ``settings``, ``runner``, ``max_concurrency``, ``max_retries``, ``usage`` (running totals)
        and ``_lock``. ``runner_options`` go to ``RequestRunner`` (retry delays in seconds, pacing, transports).

        Raises:
            InvalidInputError: a bad key (``keys.clean_api_key``), connection field (``settings.resolve_connection``)
                or runner option (``RequestRunner``); no key text is ever in the message.
        """
        self._api_key = clean_api_key(api_key)
        self.settings = resolve_connection(
            api_key=self._api_key,
            base_url=base_url,
            region=region,
            workspace=workspace,
            protocol=protocol,
            timeout=timeout,
            allow_insecure_http=allow_insecure_http,
        )
        self.runner = RequestRunner(
            self.settings, max_concurrency=max_concurrency, max_retries=max_retries, **runner_options
        )
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.usage = Usage()
        self._lock = threading.Lock()

    # Pickling: an engine travels (to ``IngestionPipeline(num_workers>1)``, Ray workers) as its configuration
    # and rebuilds its clients there. It sets ``_init_args`` (every constructor argument but the key and the
    # transports), ``_api_key``, and lists in ``_LEARNED`` the attributes holding limits learned from the service,
    # which the copy keeps so that it is not refused again.
    _LEARNED: tuple[str, ...] = ()
    _init_args: dict[str, Any]
    _api_key: Any

    def __getstate__(self) -> dict[str, Any]:
        learned = {name: getattr(self, name) for name in self._LEARNED}
        return {"init": self._init_args, "api_key": self._api_key, "learned": learned}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(api_key=state["api_key"], **state["init"])  # type: ignore[misc]
        for name, value in state["learned"].items():
            setattr(self, name, value)
