"""The model catalog: one source of truth for every model's limits and accepted parameters.

Facts come from the Alibaba Cloud Model Studio documentation, cited per model in ``ModelSpec.source``:

- text models: "Text embedding - synchronous API"
  (https://help.aliyun.com/en/model-studio/text-embedding-synchronous-api)
- multimodal models: "Multimodal embedding API"
  (https://help.aliyun.com/en/model-studio/multimodal-embedding-api-reference)

Limits move over time (text-embedding-v3 allowed 6 rows per request, then 20, now 10), so every limit can be
overridden per engine instance (``DashScopeEmbedder(catalog_overrides=...)``) and the engine also learns a smaller
row limit when the service answers "batch size is invalid, it should not be larger than N".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Mapping

__all__ = [
    "ModelSpec",
    "CATALOG",
    "get_model_spec",
    "register_model",
    "TEXT_TYPES",
    "OUTPUT_TYPES",
    "REGIONS",
]

TEXT_DOC = "https://help.aliyun.com/en/model-studio/text-embedding-synchronous-api"
MULTIMODAL_DOC = "https://help.aliyun.com/en/model-studio/multimodal-embedding-api-reference"

#: Values of ``parameters.text_type`` the native text API accepts.
TEXT_TYPES: tuple[str, ...] = ("query", "document")
#: Values of ``parameters.output_type`` (text-embedding-v3/v4 only).
OUTPUT_TYPES: tuple[str, ...] = ("dense", "sparse", "dense&sparse")
#: Region names accepted by ``region=`` (see ``settings.REGION_ROOTS``).
REGIONS: tuple[str, ...] = ("beijing", "singapore", "hongkong")

Kind = Literal["text", "multimodal"]
Fusion = Literal["none", "optional", "only"]
FusionForm = Literal["parameter", "object", "request"]


@dataclass(frozen=True)
class ModelSpec:
    """Limits and accepted parameters of one DashScope embedding model.

    Attributes:
        name: the model id sent as ``model`` on the wire.
        kind: ``"text"`` (native text endpoint) or ``"multimodal"`` (native multimodal endpoint).
        dimensions: the output dimensions the model accepts, largest first.
        default_dimension: what the service returns when no dimension is sent.
        max_rows: text models: texts per request. Multimodal models: content elements per request.
        max_tokens_per_row: the longest text, in Qwen tokens, one row may hold.
        max_tokens_per_request: a token budget for a whole request, when the service documents one.
        max_images / max_videos: multimodal elements of each kind per request.
        text_type: whether ``parameters.text_type`` (query/document) is accepted.
        instruct: whether ``parameters.instruct`` (query-side task instruction) is accepted.
        sparse: whether ``parameters.output_type`` may ask for sparse vectors.
        openai_compatible: whether ``/compatible-mode/v1/embeddings`` serves this model.
        fusion: multimodal only: ``"none"`` (independent vectors only), ``"optional"`` or ``"only"`` (fused only).
        fusion_form: how a fused vector is asked for: ``"parameter"`` (separate elements plus
            ``parameters.enable_fusion=true``; the whole request fuses), ``"object"`` (several keys in one content
            object) or ``"request"`` (every request yields one fused vector).
        max_multi_images: images one ``multi_images`` element may hold (0: the key is not accepted).
        image_max_bytes / video_max_bytes: the largest media file, in bytes.
        image_formats: accepted image formats (lower-case file extensions, without dot).
        regions: regions where the model is offered.
        price_per_million_tokens_usd: list price per million input tokens (Singapore), for cost estimates.
        price_per_million_tokens_cny: real-time list price per million input tokens (China (Beijing)).
        batch_price_per_million_tokens_cny: the Batch File API price per million input tokens (China (Beijing)),
            ``None`` when the model is not offered through the Batch File API.
        source: the documentation page these facts come from.
    """

    name: str
    kind: Kind
    dimensions: tuple[int, ...]
    default_dimension: int
    max_rows: int
    max_tokens_per_row: int | None
    max_tokens_per_request: int | None = None
    max_images: int = 0
    max_videos: int = 0
    text_type: bool = False
    instruct: bool = False
    sparse: bool = False
    openai_compatible: bool = False
    fusion: Fusion = "none"
    fusion_form: FusionForm | None = None
    max_multi_images: int = 0
    image_max_bytes: int | None = None
    video_max_bytes: int | None = None
    image_formats: tuple[str, ...] = ()
    regions: tuple[str, ...] = REGIONS
    price_per_million_tokens_usd: float | None = None
    price_per_million_tokens_cny: float | None = None
    batch_price_per_million_tokens_cny: float | None = None
    source: str = TEXT_DOC

    def check_dimension(self, dimension: int | None) -> int:
        """Return the dimension the service will produce for ``dimension`` (``None`` means the default).

        Raises:
            InvalidInputError: ``dimension`` is not one this model accepts; the message lists the allowed values.
        """
        if dimension is None:
            return self.default_dimension
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension not in self.dimensions:
            from .errors import InvalidInputError

            allowed = ", ".join(str(d) for d in self.dimensions)
            raise InvalidInputError(
                f"dimension {dimension!r} is not supported by {self.name}; allowed: {allowed} "
                f"(default {self.default_dimension}; source: {self.source})"
            )
        return dimension

    def replace(self, **changes: object) -> "ModelSpec":
        """A copy with some fields changed, e.g. ``spec.replace(max_rows=6)``."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


_IMAGE_FORMATS = ("jpg", "jpeg", "png", "bmp")
# JPEG, PNG, WEBP, BMP, TIFF, ICO, DIB, ICNS, SGI (qwen3-vl-embedding and the 2026-03-06 tongyi models). GIF is
# in no model's list.
_WIDE_IMAGE_FORMATS = _IMAGE_FORMATS + ("webp", "tiff", "tif", "ico", "dib", "icns", "sgi")
_MB = 1024 * 1024

#: Every model this package knows, by model id: its limits and accepted parameters (see ``ModelSpec``).
CATALOG: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="text-embedding-v4",
            kind="text",
            dimensions=(2048, 1536, 1024, 768, 512, 256, 128, 64),
            default_dimension=1024,
            max_rows=10,
            max_tokens_per_row=8192,
            text_type=True,
            instruct=True,
            sparse=True,
            openai_compatible=True,
            price_per_million_tokens_usd=0.07,
            price_per_million_tokens_cny=0.5,
            batch_price_per_million_tokens_cny=0.25,
        ),
        ModelSpec(
            name="text-embedding-v3",
            kind="text",
            dimensions=(1024, 768, 512, 256, 128, 64),
            default_dimension=1024,
            max_rows=10,
            max_tokens_per_row=8192,
            text_type=True,
            sparse=True,
            openai_compatible=True,
            price_per_million_tokens_usd=0.07,
            price_per_million_tokens_cny=0.5,
            batch_price_per_million_tokens_cny=0.25,
        ),
        ModelSpec(
            name="text-embedding-v2",
            kind="text",
            dimensions=(1536,),
            default_dimension=1536,
            max_rows=25,
            max_tokens_per_row=2048,
            text_type=True,
            openai_compatible=True,
            regions=("beijing",),
            price_per_million_tokens_usd=0.1,
            price_per_million_tokens_cny=0.7,
            batch_price_per_million_tokens_cny=0.35,
        ),
        ModelSpec(
            name="text-embedding-v1",
            kind="text",
            dimensions=(1536,),
            default_dimension=1536,
            max_rows=25,
            max_tokens_per_row=2048,
            text_type=True,
            openai_compatible=True,
            regions=("beijing",),
            price_per_million_tokens_usd=0.1,
            price_per_million_tokens_cny=0.7,
            batch_price_per_million_tokens_cny=0.35,
        ),
        ModelSpec(
            name="multimodal-embedding-v1",
            kind="multimodal",
            dimensions=(1024,),
            default_dimension=1024,
            max_rows=20,
            max_tokens_per_row=512,
            max_images=1,
            max_videos=1,
            fusion="none",
            image_max_bytes=3 * _MB,
            video_max_bytes=10 * _MB,
            image_formats=_IMAGE_FORMATS,
            regions=("beijing",),
            source=MULTIMODAL_DOC,
        ),
        # The undated tongyi models document no element cap (only a token budget per batch); 20 elements and
        # 20 images keep a request well inside it. Their dimension is fixed per the zh reference (Mar 2026);
        # the English page (Feb 2026) lists 1152..64, so the catalog takes the narrower, newer statement.
        ModelSpec(
            name="tongyi-embedding-vision-plus",
            kind="multimodal",
            dimensions=(1152,),
            default_dimension=1152,
            max_rows=20,
            max_tokens_per_row=1024,
            max_images=20,
            max_videos=1,
            max_multi_images=8,
            fusion="none",
            image_max_bytes=3 * _MB,
            video_max_bytes=10 * _MB,
            image_formats=_IMAGE_FORMATS,
            regions=("beijing", "singapore"),
            price_per_million_tokens_usd=0.09,
            source=MULTIMODAL_DOC,
        ),
        ModelSpec(
            name="tongyi-embedding-vision-flash",
            kind="multimodal",
            dimensions=(768,),
            default_dimension=768,
            max_rows=20,
            max_tokens_per_row=1024,
            max_images=20,
            max_videos=1,
            max_multi_images=8,
            fusion="none",
            image_max_bytes=3 * _MB,
            video_max_bytes=10 * _MB,
            image_formats=_IMAGE_FORMATS,
            regions=("beijing", "singapore"),
            source=MULTIMODAL_DOC,
        ),
        ModelSpec(
            name="tongyi-embedding-vision-plus-2026-03-06",
            kind="multimodal",
            dimensions=(1152, 1024, 512, 256, 128, 64),
            default_dimension=1152,
            max_rows=20,
            max_tokens_per_row=1024,
            max_images=64,
            max_videos=8,
            max_multi_images=64,
            fusion="optional",
            fusion_form="object",
            image_max_bytes=10 * _MB,
            video_max_bytes=50 * _MB,
            image_formats=_WIDE_IMAGE_FORMATS,
            regions=("beijing",),
            source=MULTIMODAL_DOC,
        ),
        ModelSpec(
            name="tongyi-embedding-vision-flash-2026-03-06",
            kind="multimodal",
            dimensions=(768, 512, 256, 128, 64),
            default_dimension=768,
            max_rows=20,
            max_tokens_per_row=1024,
            max_images=64,
            max_videos=8,
            max_multi_images=64,
            fusion="optional",
            fusion_form="object",
            image_max_bytes=10 * _MB,
            video_max_bytes=50 * _MB,
            image_formats=_WIDE_IMAGE_FORMATS,
            regions=("beijing",),
            source=MULTIMODAL_DOC,
        ),
        # Images per request: 5 in the zh reference, 10 in the zh overview, 1 on the Feb 2026 English page; 5 is
        # the middle, newest reading. Image size: 10 MB in both zh pages (the older English page says 5 MB).
        ModelSpec(
            name="qwen3-vl-embedding",
            kind="multimodal",
            dimensions=(2560, 2048, 1536, 1024, 768, 512, 256),
            default_dimension=2560,
            max_rows=20,
            max_tokens_per_row=32000,
            max_images=5,
            max_videos=1,
            fusion="optional",
            fusion_form="parameter",
            image_max_bytes=10 * _MB,
            video_max_bytes=50 * _MB,
            image_formats=_WIDE_IMAGE_FORMATS,
            regions=("beijing",),
            source=MULTIMODAL_DOC,
        ),
        # Fused only: a request yields one vector and holds each of text, image and video at most once. Its text
        # and video limits share merged table cells with qwen3-vl-embedding; no format list of its own is given.
        ModelSpec(
            name="qwen2.5-vl-embedding",
            kind="multimodal",
            dimensions=(2048, 1024, 768, 512),
            default_dimension=1024,
            max_rows=3,
            max_tokens_per_row=32000,
            max_images=1,
            max_videos=1,
            fusion="only",
            fusion_form="request",
            image_max_bytes=5 * _MB,
            video_max_bytes=50 * _MB,
            image_formats=_WIDE_IMAGE_FORMATS,
            regions=("beijing",),
            source=MULTIMODAL_DOC,
        ),
    )
}


def register_model(spec: ModelSpec) -> None:
    """Add or replace a model in the process-wide catalog (e.g. a newly released model).

    Prefer ``DashScopeEmbedder(model_spec=...)`` for a change that should stay local to one engine.
    """
    CATALOG[spec.name] = spec


def get_model_spec(model: str, overrides: Mapping[str, object] | None = None) -> ModelSpec:
    """Look up ``model`` in the catalog and apply per-instance ``overrides`` (field name -> value).

    Raises:
        InvalidInputError: the model is unknown (the message lists the known models) or an override names
            a field ``ModelSpec`` does not have.
    """
    from .errors import InvalidInputError

    spec = CATALOG.get(model)
    if spec is None:
        known = ", ".join(sorted(CATALOG))
        raise InvalidInputError(
            f"unknown model {model!r}; known models: {known}. "
            "For a model released after this version, pass model_spec=ModelSpec(...) or call register_model()."
        )
    if overrides:
        names = {f.name for f in dataclasses.fields(ModelSpec)}
        bad = sorted(set(overrides) - names)
        if bad:
            raise InvalidInputError(f"unknown catalog field(s) {bad} for {model}; fields: {sorted(names)}")
        spec = dataclasses.replace(spec, **overrides)  # type: ignore[arg-type]
    return spec
