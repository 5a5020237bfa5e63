"""Native multimodal embedding: ``POST /api/v1/services/embeddings/multimodal-embedding/multimodal-embedding``.

Wire-faithful, not semantic for media: text elements go through the text backend (so text-to-text similarity is
meaningful), but no offline package ships image-text weights, so an image or video vector is a deterministic hash
of the image's bytes (``data:`` URI) or of the URL string. Equal images give equal vectors; nothing more.

Request (Model Studio "Multimodal embedding API",
https://help.aliyun.com/en/model-studio/multimodal-embedding-api-reference)::

    {"model": "multimodal-embedding-v1",
     "input": {"contents": [{"text": "..."}, {"image": "https://... | data:image/png;base64,..."},
                            {"video": "https://..."}]},
     "parameters": {"dimension": 1024, "enable_fusion": false}}

Reply::

    {"output": {"embeddings": [{"index": 0, "type": "text", "embedding": [...]}, ...]},
     "usage": {"input_tokens": n, "image_tokens": m}, "request_id": "..."}

Refusals: too many content elements get the real service's documented wording ("batch size is invalid, it should
not be larger than N.: input.contents"); public material shows no wording for too many images or videos, so those
sentences ("too many images: K in one request; MODEL accepts at most N.") are this service's own, written so that a
client can read N from them as it reads the element count (``dashscope_embed.media_limits``).

Limits per model come from the catalog: ``max_rows`` content elements, ``max_images`` (images in ``image`` and
``multi_images`` elements together), ``max_videos``, ``max_multi_images`` per ``multi_images`` element (0: the key
is refused), ``max_tokens_per_row`` per text, ``image_max_bytes`` / ``video_max_bytes`` for inline data,
``image_formats``. Fusion follows the model's ``fusion_form``: ``"parameter"`` models fuse the whole request when
``parameters.enable_fusion`` is true, ``"object"`` models fuse the keys of one content object, ``"request"`` models
always return one fused vector (and take each of text, image, video at most once). A fused vector is the normalised
mean of its parts; a ``multi_images`` element's vector is the mean of its images. Row ``type`` labels follow the
reference: ``"fusion"`` for a request-wide fused vector (qwen3-vl with ``enable_fusion``, qwen2.5-vl), ``"fused"`` for
one fused content object (dated tongyi models), ``"vl"`` for qwen3-vl's independent rows, else the input's kind.
``usage.image_tokens`` is a fixed ``IMAGE_TOKENS`` per image: the real count depends on the image's resolution,
which this service does not decode.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import numpy as np

from ..catalog import ModelSpec
from .backends.base import Backend
from .endpoint import EndpointResult
from .projection import project
from .stats import RequestRecord
from .uploads import resolve_oss
from .validation import (
    batch_too_large,
    check_dimension,
    empty_input,
    invalid,
    length_out_of_range,
    lookup_model,
    token_count,
)
from .vectors import media_vector, native_text_vectors

__all__ = ["IMAGE_TOKENS", "MEDIA_KINDS", "describe", "handle"]

#: ``usage.image_tokens`` charged per image (placeholder: the real figure depends on the resolution).
IMAGE_TOKENS = 256
MEDIA_KINDS = ("text", "image", "video", "multi_images")
_URL_SCHEMES = ("http://", "https://", "oss://")
_MB = 1024 * 1024


@dataclass
class _Element:
    parts: list[tuple[str, Any]] = field(default_factory=list)  # (kind, text | bytes)

    @property
    def type(self) -> str:
        # Several keys in one content object: the dated tongyi models label that row "fused".
        return self.parts[0][0] if len(self.parts) == 1 else "fused"


def describe(body: dict[str, Any]) -> RequestRecord:
    """What the request carried, for ``ServiceStats.recent`` (tolerates any body)."""
    inp = body.get("input")
    contents = inp.get("contents") if isinstance(inp, dict) else None
    params = body.get("parameters")
    return RequestRecord(
        "multimodal",
        body.get("model"),
        len(contents) if isinstance(contents, list) else 0,
        dict(params) if isinstance(params, dict) else {},
    )


def _decode_data_uri(value: str, where: str) -> tuple[str, bytes]:
    """``(media_type, payload)`` of a ``data:`` URI."""
    head, sep, data = value[5:].partition(",")
    if not sep:
        raise invalid(f"{where} is not a valid data URI (no comma).", param="input")
    parts = head.split(";")
    media_type = parts[0].strip().lower()
    try:
        if "base64" in (p.strip().lower() for p in parts[1:]):
            payload = base64.b64decode(data, validate=True)
        else:
            payload = unquote_to_bytes(data)
    except (binascii.Error, ValueError):
        raise invalid(f"{where} is not valid base64.", param="input") from None
    return media_type, payload


def _media(kind: str, value: Any, spec: ModelSpec, where: str) -> bytes:
    """Validate an image or video reference; return the bytes its vector is derived from."""
    if not isinstance(value, str) or not value.strip():
        raise empty_input(f"{where} is empty")
    if value.startswith("data:"):
        media_type, payload = _decode_data_uri(value, where)
        major, _, subtype = media_type.partition("/")
        if major != kind:
            raise invalid(f"{where} is a data URI of type {media_type or 'unknown'!r}, not an {kind}.", param="input")
        if kind == "image" and spec.image_formats and subtype not in spec.image_formats:
            raise invalid(
                f"{where}: image format {subtype!r} is not supported by {spec.name}; "
                f"supported: {', '.join(spec.image_formats)}.",
                param="input",
            )
        limit = spec.image_max_bytes if kind == "image" else spec.video_max_bytes
        if limit is not None and len(payload) > limit:
            raise invalid(
                f"{where}: the {kind} is {len(payload)} bytes; {spec.name} accepts at most {limit} bytes "
                f"({limit / _MB:g} MB).",
                param="input",
            )
        if not payload:
            raise empty_input(f"{where} holds no data")
        return payload
    if value.startswith("oss://"):
        stored = resolve_oss(kind, value, spec, where)
        if stored is not None:
            return stored
    if not value.startswith(_URL_SCHEMES):
        raise invalid(f"{where} must be an http(s) or oss:// URL or a data: URI, got {value[:60]!r}.", param="input")
    return value.encode("utf-8")


@dataclass
class _Counts:
    """What a request's elements count against the per-request limits."""

    images: int = 0
    videos: int = 0
    texts: int = 0
    text_tokens: int = 0


def _contents(body: dict[str, Any], spec: ModelSpec) -> list[Any]:
    inp = body.get("input")
    if inp is None:
        raise empty_input("input is missing")
    if not isinstance(inp, dict):
        raise invalid('input must be an object: {"contents": [...]}.', param="input")
    contents = inp.get("contents")
    if contents is None or (isinstance(contents, list) and not contents):
        raise empty_input("input.contents is empty")
    if not isinstance(contents, list):
        raise invalid("input.contents must be a list of objects.", param="input")
    if len(contents) > spec.max_rows:
        raise batch_too_large(spec)
    return contents


def _parameters(body: dict[str, Any], spec: ModelSpec) -> tuple[int, bool]:
    """``(dimension, fuse_all)`` from ``parameters``."""
    params = body.get("parameters")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        raise invalid("parameters must be an object.", param="parameters")
    dimension = check_dimension(spec, params.get("dimension"))
    enable_fusion = params.get("enable_fusion")
    if enable_fusion and spec.fusion_form != "parameter":
        raise invalid(f"enable_fusion is not supported by {spec.name}.", param="enable_fusion")
    return dimension, spec.fusion_form == "request" or bool(enable_fusion)


def _text_part(value: Any, where: str, spec: ModelSpec, counts: _Counts) -> str:
    if not isinstance(value, str):
        raise invalid(f"{where}.text must be a string.", param="input")
    if not value.strip():
        raise empty_input(f"{where}.text is empty or whitespace")
    count = token_count(value)
    if spec.max_tokens_per_row is not None and count > spec.max_tokens_per_row:
        raise length_out_of_range(spec.max_tokens_per_row)
    counts.text_tokens += count
    counts.texts += 1
    return value


def _multi_images_part(value: Any, where: str, spec: ModelSpec, counts: _Counts) -> list[bytes]:
    if not spec.max_multi_images:
        raise invalid(f"{where}: multi_images is not supported by {spec.name}.", param="input")
    if not isinstance(value, list) or not value:
        raise empty_input(f"{where}.multi_images is empty")
    if len(value) > spec.max_multi_images:
        raise invalid(
            f"{where}.multi_images holds {len(value)} images; {spec.name} accepts at most {spec.max_multi_images}.",
            param="input",
        )
    payloads = [_media("image", v, spec, f"{where}.multi_images[{j}]") for j, v in enumerate(value)]
    counts.images += len(payloads)
    return payloads


def _element(content: Any, where: str, spec: ModelSpec, counts: _Counts) -> _Element:
    if not isinstance(content, dict):
        raise invalid(f'{where} must be an object such as {{"text": ...}}.', param="input")
    kinds = [k for k in MEDIA_KINDS if k in content]
    if not kinds:
        raise invalid(f"{where} must hold one of: {', '.join(MEDIA_KINDS[:3])}.", param="input")
    if len(kinds) > 1 and spec.fusion_form != "object":
        raise invalid(f"{where} holds {' and '.join(kinds)}; {spec.name} embeds one input per element.", param="input")
    element = _Element()
    for kind in kinds:
        value = content[kind]
        if kind == "text":
            element.parts.append(("text", _text_part(value, where, spec, counts)))
        elif kind == "multi_images":
            element.parts.append(("multi_images", _multi_images_part(value, where, spec, counts)))
        else:
            element.parts.append((kind, _media(kind, value, spec, f"{where}.{kind}")))
            if kind == "image":
                counts.images += 1
            else:
                counts.videos += 1
    return element


def _check_counts(spec: ModelSpec, counts: _Counts) -> None:
    if counts.images > spec.max_images:
        raise invalid(
            f"too many images: {counts.images} in one request; {spec.name} accepts at most {spec.max_images}.",
            param="input",
        )
    if counts.videos > spec.max_videos:
        raise invalid(
            f"too many videos: {counts.videos} in one request; {spec.name} accepts at most {spec.max_videos}.",
            param="input",
        )
    if spec.fusion_form == "request" and counts.texts > 1:
        raise invalid(f"too many texts: {counts.texts} in one request; {spec.name} accepts at most 1.", param="input")


def _parse(body: dict[str, Any]) -> tuple[ModelSpec, list[_Element], int, bool, int, int]:
    """Validate; return (spec, elements, dimension, fuse_all, text_tokens, images)."""
    spec = lookup_model(body.get("model"), "multimodal")
    contents = _contents(body, spec)
    dimension, fuse_all = _parameters(body, spec)
    counts = _Counts()
    elements = [_element(content, f"input.contents[{i}]", spec, counts) for i, content in enumerate(contents)]
    _check_counts(spec, counts)
    return spec, elements, dimension, fuse_all, counts.text_tokens, counts.images


async def handle(body: dict[str, Any], backend: Backend, request_id: str) -> EndpointResult:
    """Embed a multimodal request; see the module docstring for the shapes and what the vectors mean.

    Raises:
        ServiceError: 400 with the real service's code for an invalid request.
    """
    spec, elements, dimension, fuse_all, text_tokens, images = _parse(body)
    texts = [value for e in elements for kind, value in e.parts if kind == "text"]
    text_native = (
        await native_text_vectors(backend, texts, text_type="document") if texts else np.empty((0, backend.native_dim))
    )
    native = np.empty((len(elements), backend.native_dim), dtype=np.float32)
    t = 0
    for i, element in enumerate(elements):
        parts = []
        for kind, value in element.parts:
            if kind == "text":
                parts.append(text_native[t])
                t += 1
            elif kind == "multi_images":
                parts.append(np.mean([media_vector("image", v, backend.native_dim) for v in value], axis=0))
            else:
                parts.append(media_vector(kind, value, backend.native_dim))
        native[i] = parts[0] if len(parts) == 1 else np.mean(parts, axis=0)
    if fuse_all:
        vectors = project(native.mean(axis=0, keepdims=True), dimension)
        items = [{"index": 0, "type": "fusion", "embedding": vectors[0]}]
    else:
        vectors = project(native, dimension)
        # qwen3-vl labels every independent row "vl", whatever its input kind.
        independent_label = "vl" if spec.fusion_form == "parameter" else None
        items = [
            {"index": i, "type": independent_label or e.type, "embedding": vectors[i]} for i, e in enumerate(elements)
        ]
    usage: dict[str, int] = {"input_tokens": text_tokens}
    if images:
        usage["image_tokens"] = images * IMAGE_TOKENS
    reply = {"output": {"embeddings": items}, "usage": usage, "request_id": request_id}
    return EndpointResult(reply, items, len(elements))
