"""The model catalog: one source of truth for every model's limits and accepted parameters.

Facts come from the Alibaba Cloud Model Studio documentation, cited per model in ``ModelSpec.source``:

- text models: "Text embedding - synchronous API"
  (https://help.aliyun.com/en/model-studio/text-embedding-synchronous-api)
- multimodal models: "Multimodal embedding API"
  (https://help.aliyun.com/en/model-studio/multimodal-embedding-api-reference)
- regions and prices per model: "Models" (https://help.aliyun.com/en/model-studio/models)
- asynchronous-task models (text-embedding-async-v1/v2): "Batch processing API reference"
  (https://help.aliyun.com/en/model-studio/text-embedding-batch-api)

Limits move over time (text-embedding-v3 allowed 6 rows per request, then 20, now 10), so every limit can be
overridden per engine instance (``DashScopeEmbedder(catalog_overrides=...)``) and the engine also learns a smaller
row limit when the service answers "batch size is invalid, it should not be larger than N".

The platform ships models faster than any catalog: a model id this catalog does not know is accepted with one
warning and a conservative generic spec (``generic_spec``), and ``register_model`` adds a full spec for the process.
"""

from __future__ import annotations

import dataclasses
import difflib
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .settings import DEFAULT_REGION, REGIONS, region_label

#: a catalog row type: a frozen dataclass with a ``name`` (``ModelSpec``, ``rerank.RerankModelSpec``)
S = TypeVar("S")

__all__ = [
    "ModelSpec",
    "CATALOG",
    "get_model_spec",
    "register_model",
    "generic_spec",
    "guess_kind",
    "UnknownModelWarning",
    "catalog_specs",
    "TEXT_TYPES",
    "OUTPUT_TYPES",
    "REGIONS",
    "async_task_message",
]

TEXT_DOC = "https://help.aliyun.com/en/model-studio/text-embedding-synchronous-api"
MULTIMODAL_DOC = "https://help.aliyun.com/en/model-studio/multimodal-embedding-api-reference"
MODELS_DOC = "https://help.aliyun.com/en/model-studio/models"
TASKS_DOC = "https://help.aliyun.com/en/model-studio/text-embedding-batch-api"

#: Values of ``parameters.text_type`` the native text API accepts.
TEXT_TYPES: tuple[str, ...] = ("query", "document")
#: Values of ``parameters.output_type`` (text-embedding-v3/v4 only).
OUTPUT_TYPES: tuple[str, ...] = ("dense", "sparse", "dense&sparse")
# The regions the synchronous API page lists text-embedding-v3/v4 in (Singapore, China (Beijing), China (Hong
# Kong)); it lists no embedding model for Virginia, Frankfurt or Tokyo, so a request there is refused early
# (override ``regions`` once a model reaches them).
_SEED_REGIONS = ("beijing", "singapore", "hongkong")

Kind = Literal["text", "multimodal"]
Fusion = Literal["none", "optional", "only"]
FusionForm = Literal["parameter", "object", "request"]


@dataclass(frozen=True)
class ModelSpec:
    """Limits and accepted parameters of one DashScope embedding model.

    Attributes:
        name: the model id sent as ``model`` on the wire.
        kind: ``"text"`` (native text endpoint) or ``"multimodal"`` (native multimodal endpoint).
        dimensions: the output dimensions the model accepts, largest first; empty for a model the catalog does
            not know (any positive dimension is passed through to the service).
        default_dimension: what the service returns when no dimension is sent (0: not known in advance).
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
        regions: regions where the model is offered (friendly names, see ``settings.REGION_IDS``).
        price_per_million_tokens_usd: list price per million input tokens (Singapore), for cost estimates.
        price_per_million_tokens_cny: real-time list price per million input tokens (China (Beijing)).
        batch_price_per_million_tokens_cny: the Batch File API price per million input tokens (China (Beijing)),
            ``None`` when the model is not offered through the Batch File API.
        async_task: served only as asynchronous batch tasks (``X-DashScope-Async: enable``, a text file by URL,
            ``GET /api/v1/tasks/{id}``; ``dashscope_embed.batch.tasks``): ``max_rows`` is then lines per task, and
            the synchronous endpoints refuse the model.
        free_quota_tokens / free_quota_days: the free quota of a new account (tokens, valid for days), if any.
        source: the documentation page these facts come from.
        generic: ``True`` for the conservative spec made up for a model id the catalog does not know.
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
    async_task: bool = False
    free_quota_tokens: int | None = None
    free_quota_days: int | None = None
    source: str = TEXT_DOC
    generic: bool = False

    def check_dimension(self, dimension: int | None) -> int:
        """Return the dimension the service will produce for ``dimension`` (``None`` means the default).

        Raises:
            InvalidInputError: ``dimension`` is not one this model accepts; the message lists the allowed values.
        """
        if dimension is None:
            return self.default_dimension
        if not self.dimensions and isinstance(dimension, int) and not isinstance(dimension, bool) and dimension > 0:
            return dimension  # a model the catalog does not know: the service judges the dimension
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension not in self.dimensions:
            from .errors import InvalidInputError

            allowed = ", ".join(str(d) for d in self.dimensions) or "any positive integer"
            raise InvalidInputError(
                f"dimension {dimension!r} is not supported by {self.name}; allowed: {allowed} "
                f"(default {self.default_dimension}; source: {self.source})"
            )
        return dimension

    def check_region(self, region: str | None) -> None:
        """Refuse a region this model is not offered in (``None``: unknown region, e.g. a custom base URL: no check).

        Args:
            region: a friendly region name as ``ResolvedSettings.region`` holds it (``"virginia"``, ...).

        Raises:
            InvalidInputError: the model is not offered there; the message names the regions it is offered in.
        """
        if region is None or region in self.regions:
            return
        from .errors import InvalidInputError

        offered = ", ".join(region_label(r) for r in self.regions) or "no region listed"
        raise InvalidInputError(
            f"{self.name} is not offered in region {region_label(region)}; it is offered in: {offered} "
            f"(source: {self.source}). Choose one of those regions (with a key from it); if the model has since "
            f"reached {region}, pass catalog_overrides={{'regions': (..., {region!r})}} or register_model()"
        )

    def list_price(self, region: str | None) -> tuple[float | None, str]:
        """``(real-time price per million input tokens, currency)`` from the price table of ``region``.

        China (Beijing) lists prices in CNY, the international regions in USD (Models page, "Models"): a cost
        summary shows the currency of the region's own table, the same one the Batch File API summary (Beijing
        only) uses. ``None`` (a custom base URL such as the local service) counts as Beijing, the default region.
        The price is ``None`` when the catalog has none in that currency (never converted).
        """
        if region in (None, DEFAULT_REGION):
            return self.price_per_million_tokens_cny, "CNY"
        return self.price_per_million_tokens_usd, "USD"

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed, e.g. ``spec.replace(max_rows=6)``."""
        return dataclasses.replace(self, **changes)


_IMAGE_FORMATS = ("jpg", "jpeg", "png", "bmp")
# JPEG, PNG, WEBP, BMP, TIFF, ICO, DIB, ICNS, SGI (qwen3-vl-embedding and the 2026-03-06 tongyi models). GIF is
# in no model's list.
_WIDE_IMAGE_FORMATS = (*_IMAGE_FORMATS, "webp", "tiff", "tif", "ico", "dib", "icns", "sgi")
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
            regions=_SEED_REGIONS,
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
            regions=_SEED_REGIONS,
            price_per_million_tokens_usd=0.07,
            price_per_million_tokens_cny=0.5,
            batch_price_per_million_tokens_cny=0.25,
        ),
        # 2026. Pages disagree whether 128,000 tokens is per row or per request; planning holds both readings
        # (at most 20 rows and at most 128,000 tokens in one request).
        ModelSpec(
            name="qwen3.7-text-embedding",
            kind="text",
            dimensions=(2560, 2048, 1536, 1024, 768, 512, 256),
            default_dimension=1024,
            max_rows=20,
            max_tokens_per_row=128_000,
            max_tokens_per_request=128_000,
            text_type=True,
            instruct=True,
            sparse=True,
            openai_compatible=True,
            regions=("beijing", "singapore"),
            price_per_million_tokens_cny=0.5,
            batch_price_per_million_tokens_cny=0.25,
            source=MODELS_DOC,
        ),
        # The model page gives 131,072 tokens of input; the guide's 128,000 is the stricter figure, used here.
        ModelSpec(
            name="qwen3.7-text-embedding-flash",
            kind="text",
            dimensions=(1024, 768, 512, 256),
            default_dimension=1024,
            max_rows=20,
            max_tokens_per_row=128_000,
            max_tokens_per_request=128_000,
            text_type=True,
            instruct=True,
            sparse=True,
            openai_compatible=True,
            regions=("beijing",),
            price_per_million_tokens_cny=0.125,
            batch_price_per_million_tokens_cny=0.063,
            source=MODELS_DOC,
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
        # Asynchronous batch tasks only: one task embeds a text file of up to 100,000 lines (one text a line).
        *(
            ModelSpec(
                name=f"text-embedding-async-{version}",
                kind="text",
                dimensions=(1536,),
                default_dimension=1536,
                max_rows=100_000,
                max_tokens_per_row=2048,
                text_type=True,
                regions=("beijing",),
                price_per_million_tokens_cny=0.7,
                async_task=True,
                source=TASKS_DOC,
                free_quota_tokens=quota,
                free_quota_days=90 if quota else None,
            )
            for version, quota in (("v2", 20_000_000), ("v1", None))
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
        # Dimensions per the seeds' model table and the English multimodal pages (embedding guide and API
        # reference, Feb 2026): plus 1152 (default), 1024, 512, 256, 128, 64; flash 768 (default), 512, 256, 128,
        # 64. The zh reference (Mar 2026) and third-party mirrors list one fixed dimension; the catalog follows the
        # seeds. The pages document no element-count limit, only a token budget per request whose size they do
        # not give (and at most 8 images in one multi_images element): 20 elements and 20 images are a first guess
        # well inside it, lowered when the service names a smaller number (``MultimodalEmbedder`` learns it).
        ModelSpec(
            name="tongyi-embedding-vision-plus",
            kind="multimodal",
            dimensions=(1152, 1024, 512, 256, 128, 64),
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
            dimensions=(768, 512, 256, 128, 64),
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


def async_task_message(model: str) -> str:
    """Why ``model`` (an ``async_task`` model) cannot be embedded request by request, and how to use it instead."""
    return (
        f"{model} runs only as asynchronous batch tasks (a text file of up to 100,000 lines per task, results "
        f"within hours; China (Beijing)), not through real-time requests: run `dashscope-embed embed INPUT -o "
        f"OUT.parquet --model {model}`, or dashscope_embed.batch.AsyncTaskJob(rows, output, dashscope_embed.batch."
        f"TaskJobOptions(model={model!r})).run(); for real-time vectors use text-embedding-v2 (the same 1536 "
        f"dimensions) or text-embedding-v4 "
        f"(source: {TASKS_DOC})"
    )


_lock = threading.Lock()
_warned: set[str] = set()


class UnknownModelWarning(UserWarning):
    """A model id the catalog does not know is used with a conservative generic spec (see ``generic_spec``)."""


_MULTIMODAL_MARKERS = ("multimodal", "vision", "-vl", "vl-", "omni")


def guess_kind(model: str) -> Kind:
    """``"multimodal"`` for a model id that names itself so (``multimodal``, ``vision``, ``vl``, ``omni``), else
    ``"text"``; the catalog's kind wins for a known model. Register the model to be explicit."""
    spec = CATALOG.get(model)
    if spec is not None:
        return spec.kind
    lowered = model.lower()
    return "multimodal" if any(marker in lowered for marker in _MULTIMODAL_MARKERS) else "text"


def generic_spec(model: str, kind: Kind = "text") -> ModelSpec:
    """The conservative spec for a model the catalog does not know.

    Text: 10 rows per request (the engine lowers it when the service answers "should not be larger than N"),
    8,192 tokens per row (what every DashScope text model since text-embedding-v3 accepts), any dimension passed
    through, and text_type / instruct / sparse / compatible mode passed through for the service to judge.
    Multimodal: 10 content elements, 1 image and 1 video per request, images up to 3 MB and videos up to 10 MB in
    JPEG/PNG/BMP (the smallest documented limits, multimodal-embedding-v1's), no fusion.
    ``default_dimension`` is 0: the service's default is not known in advance.

    Raises:
        InvalidInputError: ``model`` is not a non-empty string or ``kind`` is not text/multimodal.
    """
    from .errors import InvalidInputError

    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError(f"model must be a non-empty string, got {model!r}")
    common: dict[str, Any] = {
        "name": model,
        "dimensions": (),
        "default_dimension": 0,
        "max_rows": 10,
        "generic": True,
        "source": MODELS_DOC,
    }
    if kind == "text":
        return ModelSpec(
            kind="text",
            max_tokens_per_row=8192,
            text_type=True,
            instruct=True,
            sparse=True,
            openai_compatible=True,
            **common,
        )
    if kind == "multimodal":
        return ModelSpec(
            kind="multimodal",
            max_tokens_per_row=512,
            max_images=1,
            max_videos=1,
            image_max_bytes=3 * _MB,
            video_max_bytes=10 * _MB,
            image_formats=_IMAGE_FORMATS,
            instruct=True,
            **common,
        )
    raise InvalidInputError(f"kind {kind!r} is not one of text, multimodal")


def _warn_unknown(model: str, kind: str) -> None:
    warn_unknown_model(
        model,
        CATALOG,
        f"model {model!r} is not in this version's catalog; using a conservative generic {kind} spec (10 rows per "
        f"request, learned down from the service's batch-size error; dimension and parameters passed through).",
        "For the model's real limits pass model_spec=ModelSpec(...) or call register_model().",
    )


def warn_unknown_model(model: str, known: Iterable[str], what: str, remedy: str) -> None:
    """One ``UnknownModelWarning`` per model id and process (``what``, then the closest ``known`` names, then
    ``remedy``), pointing at the caller's line outside this package; shared by the embedding and rerank catalogs."""
    with _lock:
        if model in _warned:
            return
        _warned.add(model)
    close = difflib.get_close_matches(model, list(known), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    warnings.warn(f"{what}{hint} {remedy}", UnknownModelWarning, stacklevel=_caller_level())


def apply_overrides(spec: S, overrides: Mapping[str, Any] | None) -> S:
    """``spec`` (a frozen dataclass: ``ModelSpec``, ``RerankModelSpec``) with per-instance ``overrides`` (field name
    -> value) applied; shared by the embedding and rerank catalogs.

    Raises:
        InvalidInputError: an override names a field the spec does not have (the fields are listed).
    """
    from .errors import InvalidInputError

    if not overrides:
        return spec
    names = {f.name for f in dataclasses.fields(spec)}  # type: ignore[arg-type]  # S: a dataclass, said above
    bad = sorted(set(overrides) - names)
    if bad:
        model = getattr(spec, "name", "?")
        raise InvalidInputError(f"unknown catalog field(s) {bad} for {model}; fields: {sorted(names)}")
    return dataclasses.replace(spec, **overrides)  # type: ignore[type-var]  # S: a dataclass, said above


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this package, so the warning points at the caller's line."""
    import os
    import sys
    import types

    package = os.path.dirname(os.path.abspath(__file__))
    frame: types.FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def register_model(spec: ModelSpec) -> None:
    """Add or replace a model in the process-wide catalog (e.g. a newly released model), for engines and adapters
    built afterwards, and for the local service in this process.

    Prefer ``DashScopeEmbedder(model_spec=...)`` for a change that should stay local to one engine.

    Raises:
        InvalidInputError: ``spec`` is not a ``ModelSpec``, or its limits are inconsistent (no name, rows < 1, a
            default dimension not among its dimensions, an unknown region).
    """
    from .errors import InvalidInputError

    if not isinstance(spec, ModelSpec):
        raise InvalidInputError(f"register_model takes a ModelSpec, got {type(spec).__name__}")
    problems = []
    if not spec.name or not spec.name.strip():
        problems.append("an empty name")
    if spec.kind not in ("text", "multimodal"):
        problems.append(f"kind {spec.kind!r} (text or multimodal)")
    if spec.max_rows < 1:
        problems.append(f"max_rows {spec.max_rows} (>= 1)")
    if spec.dimensions and spec.default_dimension not in spec.dimensions:
        problems.append(f"default_dimension {spec.default_dimension} not in dimensions {spec.dimensions}")
    unknown = sorted(set(spec.regions) - set(REGIONS))
    if unknown:
        problems.append(f"regions {unknown} (known: {', '.join(REGIONS)})")
    if problems:
        raise InvalidInputError(f"ModelSpec {spec.name!r} has " + "; ".join(problems))
    with _lock:
        CATALOG[spec.name] = spec
        _warned.discard(spec.name)


def get_model_spec(model: str, overrides: Mapping[str, Any] | None = None, *, kind: Kind | None = None) -> ModelSpec:
    """Look up ``model`` in the catalog and apply per-instance ``overrides`` (field name -> value).

    A model the catalog does not know gets ``generic_spec(model, kind)`` (``kind`` ``None``: ``guess_kind``), with one
    ``UnknownModelWarning`` per model id and process.

    Raises:
        InvalidInputError: ``model`` is not a non-empty string, or an override names a field ``ModelSpec`` does not
            have.
    """

    spec = CATALOG.get(model) if isinstance(model, str) else None
    if spec is None:
        resolved_kind = kind or guess_kind(model) if isinstance(model, str) else "text"
        spec = generic_spec(model, resolved_kind)
        _warn_unknown(model, resolved_kind)
    return apply_overrides(spec, overrides)


def catalog_specs() -> list[ModelSpec]:
    """A snapshot of every catalog model (registered ones included), sorted by kind, then name."""
    with _lock:
        return sorted(CATALOG.values(), key=lambda s: (s.kind, s.name))
