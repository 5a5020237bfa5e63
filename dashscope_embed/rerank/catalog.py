"""Rerank models: their document and token limits, accepted parameters, prices and retirements.

Facts from the Model Studio "Text rerank" API page (https://help.aliyun.com/en/model-studio/text-rerank-api) and
the rerank model pages (https://help.aliyun.com/en/model-studio/models). Kept apart from the embedding catalog
(``dashscope_embed.catalog``): a rerank model has no dimension, and an embedding model cannot rerank.

A request's token count is ``query tokens x documents + document tokens``; a query or document longer than
``max_tokens_per_document`` (the limit per item) is truncated by the service, so it counts at most that much.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..catalog import CATALOG, apply_overrides, warn_unknown_model
from ..errors import InvalidInputError
from ..settings import REGIONS, region_label

__all__ = [
    "RerankModelSpec",
    "RERANK_CATALOG",
    "RETIRED_RERANK_MODELS",
    "DEFAULT_RERANK_MODEL",
    "get_rerank_spec",
    "rerank_records",
    "format_rerank_catalog",
]

RERANK_DOC = "https://help.aliyun.com/en/model-studio/text-rerank-api"
DEFAULT_RERANK_MODEL = "qwen3-rerank"


@dataclass(frozen=True)
class RerankModelSpec:
    """Limits and accepted parameters of one DashScope text rerank model.

    Attributes:
        name: the model id sent as ``model``.
        max_documents: documents per request.
        max_tokens_per_document: Qwen tokens a document (or the query) may hold before the service truncates it.
        max_tokens_per_request: the request's budget in Qwen tokens (query tokens x documents + document tokens).
        instruct: whether ``parameters.instruct`` (a task instruction) is accepted.
        openai_compatible: whether ``/compatible-api/v1/reranks`` serves the model.
        regions: regions where the model is offered (friendly names, see ``settings.REGION_IDS``).
        price_per_million_tokens_cny: list price per million tokens (China (Beijing)), for cost reports.
        source: the documentation page these facts come from.
        generic: ``True`` for the conservative spec made up for a model id this catalog does not know.
    """

    name: str
    max_documents: int = 500
    max_tokens_per_document: int = 4000
    max_tokens_per_request: int = 30000
    instruct: bool = False
    openai_compatible: bool = False
    regions: tuple[str, ...] = REGIONS
    price_per_million_tokens_cny: float | None = None
    source: str = RERANK_DOC
    generic: bool = False

    def check_region(self, region: str | None) -> None:
        """Refuse a region the model is not offered in (``None``: a custom root, not checked).

        Raises:
            InvalidInputError: the message names the regions the model is offered in.
        """
        if region is None or region in self.regions:
            return
        offered = ", ".join(region_label(r) for r in self.regions)
        raise InvalidInputError(
            f"{self.name} is not offered in region {region_label(region)}; it is offered in: {offered} "
            f"(source: {self.source})"
        )

    def replace(self, **changes: Any) -> RerankModelSpec:
        """A copy with some fields changed, e.g. ``spec.replace(max_documents=100)``."""
        return dataclasses.replace(self, **changes)


RERANK_CATALOG: dict[str, RerankModelSpec] = {
    spec.name: spec
    for spec in (
        RerankModelSpec(
            "qwen3-rerank",
            max_documents=500,
            max_tokens_per_document=4000,
            max_tokens_per_request=120_000,
            instruct=True,
            openai_compatible=True,
            # the text rerank page's model overview lists it for Singapore, its model page prices it for Beijing too
            regions=("beijing", "singapore"),
            price_per_million_tokens_cny=0.5,
        ),
        RerankModelSpec(
            "gte-rerank-v2",
            max_documents=500,
            max_tokens_per_document=4000,
            max_tokens_per_request=30_000,
            instruct=False,
            openai_compatible=False,
            regions=("beijing",),  # the model overview's Beijing table only
            price_per_million_tokens_cny=0.8,
        ),
        # 2026 model, China (Beijing); its page gives the price and instruct, and no limits of its own, so it
        # carries qwen3-rerank's (override with catalog_overrides when they differ).
        RerankModelSpec(
            "qwen3.7-text-rerank",
            max_documents=500,
            max_tokens_per_document=4000,
            max_tokens_per_request=120_000,
            instruct=True,
            openai_compatible=False,
            regions=("beijing",),
            price_per_million_tokens_cny=0.5,
            source="https://help.aliyun.com/en/model-studio/models",
        ),
    )
}

#: Retired model -> (retirement date, replacement).
RETIRED_RERANK_MODELS: dict[str, tuple[str, str]] = {"gte-rerank": ("2026-05-30", "qwen3-rerank")}


def get_rerank_spec(model: str, overrides: Mapping[str, Any] | None = None) -> RerankModelSpec:
    """The spec of rerank ``model`` with per-instance ``overrides`` (field name -> value) applied.

    A model id this catalog does not know gets a conservative generic spec (500 documents, 4,000 tokens a document,
    30,000 a request: the smallest documented limits; instruct and compatible mode passed through for the service
    to judge) and one ``UnknownModelWarning``.

    Raises:
        InvalidInputError: ``model`` is empty or not a string; a retired model (naming its replacement); an
            embedding model (naming the rerank models); an override naming a field the spec does not have.
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError(f"model must be a non-empty string, got {model!r}")
    if model in RETIRED_RERANK_MODELS:
        date, replacement = RETIRED_RERANK_MODELS[model]
        raise InvalidInputError(
            f"{model} was retired on {date}; use {replacement} instead (its replacement; source: {RERANK_DOC})"
        )
    spec = RERANK_CATALOG.get(model)
    if spec is None:
        if model in CATALOG:
            raise InvalidInputError(
                f"{model} is an embedding model, not a rerank model; rerank models: {', '.join(RERANK_CATALOG)}"
            )
        spec = RerankModelSpec(model, instruct=True, openai_compatible=True, generic=True)
        _warn_unknown(model)
    return apply_overrides(spec, overrides)


def _warn_unknown(model: str) -> None:
    warn_unknown_model(
        model,
        RERANK_CATALOG,
        f"rerank model {model!r} is not in this version's catalog; using a generic spec (500 documents, 4,000 "
        f"tokens a document, 30,000 a request).",
        "Pass model_spec=RerankModelSpec(...) for its real limits.",
    )


def rerank_records() -> list[dict[str, Any]]:
    """One JSON-ready dict per rerank model (sorted by name): every field, ``kind="rerank"``, ``features`` and the
    retired models with their replacement."""
    records: list[dict[str, Any]] = []
    for spec in sorted(RERANK_CATALOG.values(), key=lambda s: s.name):
        record: dict[str, Any] = {"kind": "rerank", **dataclasses.asdict(spec)}
        record["features"] = [n for n, on in (("instruct", spec.instruct), ("openai", spec.openai_compatible)) if on]
        records.append(record)
    for name, (date, replacement) in sorted(RETIRED_RERANK_MODELS.items()):
        records.append({"kind": "rerank", "name": name, "retired": date, "replacement": replacement})
    return records


def format_rerank_catalog(records: list[dict[str, Any]]) -> str:
    """``rerank_records`` as an aligned text table (documents and tokens per request, features, regions, price)."""
    header = ("rerank model", "docs", "tokens/doc", "tokens/req", "features", "regions", "CNY/M")
    lines = [header]
    for r in records:
        if "retired" in r:
            lines.append((str(r["name"]), "-", "-", "-", f"retired {r['retired']} -> {r['replacement']}", "-", "-"))
            continue
        price = r["price_per_million_tokens_cny"]
        lines.append(
            (
                str(r["name"]),
                str(r["max_documents"]),
                f"{r['max_tokens_per_document']:,}",
                f"{r['max_tokens_per_request']:,}",
                ",".join(r["features"]) or "-",
                ",".join(r["regions"]),
                f"{price:g}" if price is not None else "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)
