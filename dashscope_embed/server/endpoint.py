"""What an endpoint hands back to the service pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["EndpointResult"]


@dataclass
class EndpointResult:
    """A successful reply before fault injection.

    Attributes:
        body: the reply body (numpy arrays allowed; orjson serialises them).
        items: the list inside ``body`` that holds one entry per vector, so faults can shuffle or shorten it.
        rows: inputs embedded (texts or content elements).
    """

    body: dict[str, Any]
    items: list[dict[str, Any]]
    rows: int
