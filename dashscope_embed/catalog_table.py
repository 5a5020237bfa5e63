"""The catalog as JSON-ready records and as an aligned text table: what the ``models`` command prints."""

from __future__ import annotations

import dataclasses
from typing import Any

from .catalog import Kind, ModelSpec, catalog_specs

__all__ = ["catalog_records", "format_catalog"]

_MB = 1024 * 1024


def catalog_records(*, kind: Kind | None = None, region: str | None = None) -> list[dict[str, Any]]:
    """One JSON-ready dict per catalog model (sorted by kind, then name): every ``ModelSpec`` field, with
    ``features`` (the accepted parameters) added.

    Args:
        kind: only ``"text"`` or only ``"multimodal"`` models.
        region: only models offered in this region (name or region id).

    Raises:
        InvalidInputError: unknown region or kind.
    """
    from .errors import InvalidInputError
    from .settings import canonical_region

    if kind is not None and kind not in ("text", "multimodal"):
        raise InvalidInputError(f"kind {kind!r} is not one of text, multimodal")
    wanted = canonical_region(region) if region else None
    records = []
    for spec in catalog_specs():
        if (kind and spec.kind != kind) or (wanted and wanted not in spec.regions):
            continue
        record = {f.name: getattr(spec, f.name) for f in dataclasses.fields(ModelSpec)}
        record["features"] = _features(spec)
        records.append(record)
    return records


def _features(spec: ModelSpec) -> list[str]:
    names = [
        name
        for name, on in (
            ("text_type", spec.text_type),
            ("instruct", spec.instruct),
            ("sparse", spec.sparse),
            ("openai", spec.openai_compatible),
        )
        if on
    ]
    if spec.fusion != "none":
        names.append("fusion" if spec.fusion == "optional" else "fused-only")
    if spec.batch_price_per_million_tokens_cny is not None:
        names.append("batch-api")
    if spec.async_task:
        names.append("async-task")
    return names


def _price(value: float | None) -> str:
    return f"{value:g}" if value is not None else "-"


def format_catalog(records: list[dict[str, Any]]) -> str:
    """``catalog_records`` as an aligned text table: dimensions (default marked ``*``), rows per request, tokens
    per row and per request, media limits, features, regions and prices per million input tokens."""
    header = (
        "model",
        "kind",
        "dimensions",
        "rows",
        "tokens/row",
        "tokens/req",
        "media",
        "features",
        "regions",
        "CNY/M",
        "batch CNY/M",
        "USD/M",
    )
    lines = [header]
    for r in records:
        dims = r["dimensions"] or ()
        dimensions = ",".join(f"{d}*" if d == r["default_dimension"] else str(d) for d in dims) or "any"
        media = "-"
        if r["kind"] == "multimodal":
            image = f"img<={r['image_max_bytes'] // _MB}MBx{r['max_images']}" if r["image_max_bytes"] else ""
            video = f"vid<={r['video_max_bytes'] // _MB}MBx{r['max_videos']}" if r["video_max_bytes"] else ""
            media = " ".join(x for x in (image, video) if x) or "-"
        lines.append(
            (
                str(r["name"]) + (" (generic)" if r["generic"] else ""),
                str(r["kind"]),
                dimensions,
                str(r["max_rows"]),
                f"{r['max_tokens_per_row']:,}" if r["max_tokens_per_row"] else "-",
                f"{r['max_tokens_per_request']:,}" if r["max_tokens_per_request"] else "-",
                media,
                ",".join(r["features"]) or "-",
                ",".join(r["regions"]),
                _price(r["price_per_million_tokens_cny"]),
                _price(r["batch_price_per_million_tokens_cny"]),
                _price(r["price_per_million_tokens_usd"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)
