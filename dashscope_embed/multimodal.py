"""Multimodal embeddings (text, image, video; independent or fused) on DashScope's native multimodal endpoint.

``MultimodalEmbedder`` takes any number of items, turns media into what the service accepts (``media``), checks
every documented limit of the model before sending anything, packs the items into as few requests as the model's
per-request limits allow (multimodal-embedding-v1 takes one image per request, so seven images are seven requests),
runs them through the shared ``RequestRunner`` (bounded concurrency, per-request retries) and puts every vector
back at its input position by the reply's ``index``.

One item gives one vector. An item holding several parts (text + image (+ video), or several images) asks for a
fused vector; how that is spelled differs per model (catalog ``fusion_form``):

- ``qwen3-vl-embedding``: separate elements plus ``parameters.enable_fusion=true``; the whole request fuses, so a
  fused item travels alone.
- ``tongyi-embedding-vision-{plus,flash}-2026-03-06``: one content object with several keys
  (``{"text", "image" | "multi_images", "video"}``), packed with other items.
- ``qwen2.5-vl-embedding``: every request yields one fused vector, so every item travels alone.
- ``multimodal-embedding-v1`` and the undated tongyi models cannot fuse: a multi-part item is refused (several
  images alone become one ``multi_images`` element on the tongyi models).

Limits and fusion forms: "Multimodal embedding API", https://help.aliyun.com/en/model-studio/multimodal-embedding-api-reference
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import tokens as _tokens
from .base import BaseEmbedder, Call, encoding_problem, validate_texts
from .catalog import CATALOG
from .errors import InvalidInputError
from .media import OSS_RESOLVE_HEADER, ImageInput, image_to_uri, uses_oss, video_to_uri
from .media_limits import MediaLimits
from .results import EmbeddingResult
from .uploads import Uploader
from .wire.native_multimodal import MultimodalReply, MultimodalRequest, NativeMultimodalProtocol

__all__ = ["MultimodalEmbedder", "MultimodalInput", "MultimodalResult", "ItemInput"]

logger = logging.getLogger("dashscope_embed")

_RESERVED_PARAMETERS = ("dimension", "enable_fusion", "instruct")


@dataclass(frozen=True)
class MultimodalInput:
    """One item to embed into one vector. Several parts ask for a fused vector.

    Attributes:
        text: a non-empty string, or ``None``.
        image: one image or a list of images (path, ``Path``, URL, ``data:`` URI, ``bytes``, ``BytesIO``), or ``None``.
        video: an http(s) or ``oss://`` URL, a local video file (sent by temporary upload), or ``None``.
    """

    text: str | None = None
    image: ImageInput | Sequence[ImageInput] | None = None
    video: str | None = None


#: What ``embed_items`` accepts per item: a ``MultimodalInput``, a dict with keys ``text``/``image``
#: (or ``images``)/``video``, or a bare string (a text).
ItemInput = MultimodalInput | Mapping[str, Any] | str


@dataclass
class MultimodalResult(EmbeddingResult):
    """``EmbeddingResult`` plus what the multimodal reply says about each row and request.

    Attributes:
        types: each row's ``type`` as the service labelled it (``text``, ``image``, ``video``, ``multi_images``,
            ``vl`` for qwen3-vl independent rows, ``fused``/``fusion`` for fused rows), in input order.
        usage_details: the ``usage`` object of every request, in request order (keys differ per model).
    """

    types: list[str] = field(default_factory=list)
    usage_details: list[dict] = field(default_factory=list)


@dataclass
class _Unit:
    """One item ready to send: its content elements and what it counts against the request limits."""

    contents: list[dict[str, Any]]
    images: int
    videos: int
    solo: bool  # must be the only item in its request
    fuse: bool  # needs parameters.enable_fusion=true
    tokens: int = 0

    @property
    def elements(self) -> int:
        return len(self.contents)


class MultimodalEmbedder(MediaLimits, BaseEmbedder[Sequence[_Unit], MultimodalReply]):
    """Embed texts, images and videos with a DashScope multimodal model.

    Args:
        model: a multimodal model from the catalog (default ``"qwen3-vl-embedding"``).
        dimensions: output dimension, checked against the catalog before anything is sent (``None``: the model's
            default). A fixed-dimension model (multimodal-embedding-v1) takes no ``dimension`` parameter, so none
            is sent for it; the others get one when ``dimensions`` is given.
        api_key, base_url, region, workspace, timeout: as for ``DashScopeEmbedder`` (``ConnectionSettings``).
        protocol: only ``"dashscope"`` (or ``None``): the OpenAI-compatible endpoint serves no multimodal model.
        instruct: ``parameters.instruct`` (a task instruction) sent with every request, or ``None``.
        parameters: further parameters sent as given, e.g. ``{"fps": 0.5}``, ``{"res_level": 2}``,
            ``{"max_video_frames": 16}`` (the last two on the 2026-03-06 tongyi models only).
        max_concurrency: requests in flight at once (>= 1).
        max_retries: retries per request after the first attempt (429, 5xx, timeouts, connection errors).
        requests_per_minute / tokens_per_minute: optional client-side pacing (text tokens only are counted).
        model_spec / catalog_overrides: replace or adjust the catalog entry (e.g. ``{"max_images": 10}``).
        retry_base_delay / retry_max_delay: backoff seconds (see ``RequestRunner``).
        transport / async_transport: custom httpx transports (tests, proxies).
        allow_insecure_http: send the key over plain ``http://`` to a non-loopback host (a trusted gateway).

    Raises:
        InvalidInputError: a text-only model (an unknown id gets ``catalog.generic_spec(model, "multimodal")``
            with a warning), disallowed dimension, a region the model is not offered in,
            the OpenAI-compatible protocol, or a reserved key in ``parameters``.
    """

    _KIND = "multimodal"

    _OPTIONS = ("parameters",)

    def __init__(
        self,
        model: str = "qwen3-vl-embedding",
        *,
        parameters: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        extra = dict(parameters or {})
        reserved = sorted(set(extra) & set(_RESERVED_PARAMETERS))
        if reserved:
            raise InvalidInputError(
                f"parameters {reserved} are set by MultimodalEmbedder itself (dimensions=, instruct=, fused items)"
            )
        super().__init__(model, parameters=parameters, **options)
        self._init_media_limits()
        # A fixed-dimension model documents no dimension parameter; sending one risks a rejection for nothing.
        # (A model the catalog does not know lists no dimensions: the one asked for is passed through.)
        self._dimension_param = options.get("dimensions") if len(self.spec.dimensions) != 1 else None
        self.parameters = extra
        self._wire = NativeMultimodalProtocol()
        transports = {name: options.get(name) for name in ("transport", "async_transport")}
        self.uploader = Uploader(self.settings, max_retries=self.max_retries, runner=self.runner, **transports)

    def _check_kind(self, protocol: str | None) -> None:
        if self.spec.kind != "multimodal":
            known = ", ".join(name for name, s in CATALOG.items() if s.kind == "multimodal")
            raise InvalidInputError(
                f"{self.model} is a text model; MultimodalEmbedder needs a multimodal model ({known}); "
                "use DashScopeEmbedder for text models"
            )
        if protocol not in (None, "dashscope"):
            raise InvalidInputError(
                f"protocol {protocol!r} is not available for multimodal embeddings: the OpenAI-compatible "
                f"endpoint serves no multimodal model (source: {self.spec.source}); use protocol='dashscope'"
            )

    def _group_size(self, group: Sequence[_Unit]) -> int:
        return sum(u.elements for u in group)

    def _split(self, group: Sequence[_Unit], limit: int) -> list[Sequence[_Unit]]:
        return [[group[i] for i in g] for g in self._pack(group, limit)]

    @property
    def can_fuse(self) -> bool:
        """Whether the model returns fused vectors for multi-part items."""
        return self.spec.fusion != "none"

    # ------------------------------------------------------------------ items -> units

    def _text(self, text: Any, where: str) -> tuple[str, int]:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"{where} must be a non-empty string, got {text!r:.60}")
        problem = encoding_problem(text)
        if problem:
            raise InvalidInputError(f"{where} holds a {problem}")
        limit = self.spec.max_tokens_per_row
        if _tokens.fits(text, limit):
            counted = self.rate_limiter.tokens_per_minute is not None
            return text, _tokens.count_tokens(text) if counted else 0
        count = _tokens.count_tokens(text)
        raise InvalidInputError(
            f"{where} is {count} tokens; {self.model} accepts texts of at most {limit} tokens "
            f"(source: {self.spec.source})"
        )

    def _unit(self, item: Any, where: str, *, bare: bool = False) -> _Unit:
        """``bare``: the item is a single text/image/video, named ``where`` itself in errors (``images[3]``)."""
        text, images, video = _split_item(item, where)

        def label(part: str) -> str:
            return where if bare else f"{where}.{part}"

        spec = self.spec
        parts = (text is not None) + len(images) + (video is not None)
        if parts == 0:
            raise InvalidInputError(f"{where} holds no text, image or video")
        tokens = 0
        if text is not None:
            text, tokens = self._text(text, label("text"))
        uris = [
            image_to_uri(img, spec, f"{where}.image[{k}]" if len(images) > 1 else label("image"))
            for k, img in enumerate(images)
        ]
        url = video_to_uri(video, spec, label("video")) if video is not None else None
        form = spec.fusion_form

        if parts == 1 or (text is None and url is None and spec.max_multi_images and form != "parameter"):
            element: dict[str, Any]
            if text is not None:
                element = {"text": text}
            elif url is not None:
                element = {"video": url}
            elif len(uris) == 1:
                element = {"image": uris[0]}
            else:
                element = {"multi_images": uris}
            unit = _Unit([element], len(uris), int(url is not None), solo=form == "request", fuse=False, tokens=tokens)
        elif spec.fusion == "none":
            kinds = "+".join(k for k, v in (("text", text), ("image", uris), ("video", url)) if v)
            fusers = ", ".join(n for n, s in CATALOG.items() if s.kind == "multimodal" and s.fusion != "none")
            raise InvalidInputError(
                f"{where} holds {kinds} for one fused vector, but {self.model} returns independent vectors only "
                f"(source: {spec.source}); pass the parts as separate items, or use a model that fuses: {fusers}"
            )
        elif form == "object":
            element = {}
            if text is not None:
                element["text"] = text
            if len(uris) == 1:
                element["image"] = uris[0]
            elif uris:
                element["multi_images"] = uris
            if url is not None:
                element["video"] = url
            unit = _Unit([element], len(uris), int(url is not None), solo=False, fuse=False, tokens=tokens)
        else:  # "parameter" (the request fuses) or "request" (every request is one fused vector)
            contents: list[dict[str, Any]] = [{"text": text}] if text is not None else []
            contents += [{"image": u} for u in uris]
            contents += [{"video": url}] if url is not None else []
            unit = _Unit(contents, len(uris), int(url is not None), solo=True, fuse=form == "parameter", tokens=tokens)
        self._check_unit(unit, where)
        return unit

    def _check_unit(self, unit: _Unit, where: str) -> None:
        spec = self.spec
        multi = next((len(c["multi_images"]) for c in unit.contents if "multi_images" in c), 0)
        problems = []
        if multi and multi > spec.max_multi_images:
            problems.append(f"{multi} images in one multi_images element (at most {spec.max_multi_images})")
        elif unit.images > spec.max_images:
            problems.append(f"{unit.images} images (at most {spec.max_images} per request)")
        if unit.videos > spec.max_videos:
            problems.append(f"{unit.videos} videos (at most {spec.max_videos} per request)")
        if unit.elements > spec.max_rows:
            problems.append(f"{unit.elements} content elements (at most {spec.max_rows} per request)")
        if problems:
            raise InvalidInputError(f"{where} holds {' and '.join(problems)} for {self.model} (source: {spec.source})")

    # ------------------------------------------------------------------ planning

    def _pack(self, units: Sequence[_Unit], max_elements: int) -> list[list[int]]:
        """Group unit positions, in order, into requests that respect every per-request limit."""
        groups: list[list[int]] = []
        current: list[int] = []
        elements = images = videos = 0
        for i, unit in enumerate(units):
            fits = (
                current
                and not unit.solo
                and not units[current[0]].solo
                and elements + unit.elements <= max_elements
                and images + unit.images <= self._max_images
                and videos + unit.videos <= self._max_videos
            )
            if not fits and current:
                groups.append(current)
                current, elements, images, videos = [], 0, 0, 0
            current.append(i)
            elements += unit.elements
            images += unit.images
            videos += unit.videos
        if current:
            groups.append(current)
        return groups

    def _request_for(self, units: Sequence[_Unit]) -> MultimodalRequest:
        return MultimodalRequest(
            model=self.model,
            dimension=self._dimension_param,
            enable_fusion=True if any(u.fuse for u in units) else None,
            instruct=self.instruct,
            extra=self.parameters,
            expected_dimension=self.dimension or None,  # 0: a model the catalog does not know
        )

    def _groups(self, units: list[_Unit]) -> list[Sequence[_Unit]]:
        self.settings.require_key()
        return self._split(units, self._max_rows)

    def _call(self, context: Any, units: Sequence[_Unit]) -> Call:
        request = self._request_for(units)
        contents = [c for u in units for c in u.contents]
        body = self._wire.build_body(request, contents)
        oss = any(uses_oss(v) for c in contents for v in _values(c))
        n = len(units)

        def parse(status: int, headers: Any, content: bytes) -> MultimodalReply:
            return self._wire.parse_reply(request, status, headers, content, n)

        kwargs = {"tokens": sum(u.tokens for u in units), "headers": OSS_RESOLVE_HEADER if oss else None}
        return self._wire.path, body, parse, kwargs

    def _assemble(self, replies: list[MultimodalReply]) -> MultimodalResult:
        usage, request_ids, dense = self._totals(replies)
        return MultimodalResult(
            dense=dense,
            sparse=None,
            usage=usage,
            request_ids=request_ids,
            model=self.model,
            types=[t for r in replies for t in r.types],
            usage_details=[r.usage for r in replies],
        )

    def _embed(self, units: list[_Unit]) -> MultimodalResult:
        groups = self._groups(units)
        self.uploader.resolve(self.model, [c for u in units for c in u.contents])  # local files -> oss://
        return self._assemble(self._run_groups(None, groups))

    async def _aembed(self, units: list[_Unit]) -> MultimodalResult:
        groups = self._groups(units)
        await self.uploader.aresolve(self.model, [c for u in units for c in u.contents])
        return self._assemble(await self._arun_groups(None, groups))

    # ------------------------------------------------------------------ inputs per method

    def _text_units(self, texts: Sequence[str]) -> list[_Unit]:
        return [
            self._unit(MultimodalInput(text=t), f"texts[{i}]", bare=True) for i, t in enumerate(validate_texts(texts))
        ]

    def _image_units(self, images: Sequence[ImageInput]) -> list[_Unit]:
        items = _as_list(images, "images")
        return [self._unit(MultimodalInput(image=img), f"images[{i}]", bare=True) for i, img in enumerate(items)]

    def _video_units(self, videos: Sequence[str]) -> list[_Unit]:
        items = _as_list(videos, "videos")
        return [self._unit(MultimodalInput(video=v), f"videos[{i}]", bare=True) for i, v in enumerate(items)]

    def _item_units(self, items: Sequence[ItemInput]) -> list[_Unit]:
        if isinstance(items, (str, Mapping, MultimodalInput)):
            raise InvalidInputError(f"items must be a list of items, got a single {type(items).__name__}")
        return [self._unit(item, f"items[{i}]") for i, item in enumerate(_as_list(items, "items"))]

    # ------------------------------------------------------------------ public API (sync)

    def embed_texts(self, texts: Sequence[str]) -> MultimodalResult:
        """Embed texts, one independent vector each, into the model's shared text-image space.

        Args:
            texts: non-empty strings of at most ``spec.max_tokens_per_row`` Qwen tokens each (512 for
                multimodal-embedding-v1, 1,024 for tongyi models, 32,000 for qwen VL models).

        Returns:
            ``MultimodalResult`` with ``dense`` ``(len(texts), d)`` float32 in input order.

        Raises:
            InvalidInputError: an empty or too-long text (index and token count named), before any request.
            APIError: a request failed after its retries.
        """
        return self._embed(self._text_units(texts))

    def embed_images(self, images: Sequence[ImageInput]) -> MultimodalResult:
        """Embed images, one independent vector each.

        Args:
            images: paths (``str``/``Path``/``file://``), http(s) or ``oss://`` URLs, ``data:`` URIs, ``bytes``
                or binary streams (``BytesIO``). Local data is inlined as a base64 data URI; at most
                ``spec.image_max_bytes`` bytes (3 MB for multimodal-embedding-v1 and undated tongyi models, 5 MB
                for qwen2.5-vl, 10 MB for qwen3-vl and the 2026-03-06 tongyi models) in ``spec.image_formats``.

        Returns:
            ``MultimodalResult`` with ``dense`` ``(len(images), d)`` float32 in input order.

        Raises:
            InvalidInputError: missing file, unrecognised or unsupported format, oversize image (input index,
                size in bytes and MB, limit and source named), before any request.
            APIError: a request failed after its retries.
        """
        return self._embed(self._image_units(images))

    def embed_videos(self, urls: Sequence[str]) -> MultimodalResult:
        """Embed videos, one independent vector each: public http(s) or ``oss://`` URLs, or local files (paths,
        ``file://`` URIs, ``Upload(...)``) sent through DashScope's temporary upload (``dashscope_embed.uploads``).

        ``spec.video_max_bytes`` (10 MB for multimodal-embedding-v1 and undated tongyi models, 50 MB otherwise) is
        checked here for local files, before any request, and by the service for URLs.

        Returns:
            ``MultimodalResult`` with ``dense`` ``(len(urls), d)`` float32 in input order.

        Raises:
            InvalidInputError: bytes or a ``data:`` URI (wrap bytes in ``Upload(data, filename=...)``), a missing or
                oversize file, before any request.
            UploadError / APIError: the upload or a request failed after its retries.
        """
        return self._embed(self._video_units(urls))

    def embed_items(self, items: Sequence[ItemInput]) -> MultimodalResult:
        """Embed mixed items, one vector per item, in input order.

        Args:
            items: ``MultimodalInput``, dicts with keys ``text``, ``image`` (one or a list; ``images`` also
                accepted) and ``video``, or bare strings (texts). An item with one part gives an independent
                vector; an item with several parts gives a fused vector (models with ``can_fuse``).

        Returns:
            ``MultimodalResult`` with ``dense`` ``(len(items), d)`` float32 and ``types`` per row.

        Raises:
            InvalidInputError: any limit above, an unknown key, or a multi-part item on a model that cannot fuse.
            APIError: a request failed after its retries.
        """
        return self._embed(self._item_units(items))

    # ------------------------------------------------------------------ public API (async)

    async def aembed_texts(self, texts: Sequence[str]) -> MultimodalResult:
        """Async ``embed_texts``: up to ``max_concurrency`` requests in flight. Same contract."""
        return await self._aembed(self._text_units(texts))

    async def aembed_images(self, images: Sequence[ImageInput]) -> MultimodalResult:
        """Async ``embed_images``. Same contract (files are read in the calling thread)."""
        return await self._aembed(self._image_units(images))

    async def aembed_videos(self, urls: Sequence[str]) -> MultimodalResult:
        """Async ``embed_videos``. Same contract."""
        return await self._aembed(self._video_units(urls))

    async def aembed_items(self, items: Sequence[ItemInput]) -> MultimodalResult:
        """Async ``embed_items``. Same contract."""
        return await self._aembed(self._item_units(items))


_ITEM_KEYS = ("text", "image", "images", "video")


def _split_item(item: Any, where: str) -> tuple[str | None, list[Any], Any | None]:
    """``(text, images, video)`` of one item in any accepted form."""
    if isinstance(item, str):
        return item, [], None
    if isinstance(item, MultimodalInput):
        text, image, video = item.text, item.image, item.video
    elif isinstance(item, Mapping):
        unknown = sorted(str(k) for k in item if k not in _ITEM_KEYS)
        if unknown:
            raise InvalidInputError(f"{where} has unknown key(s) {unknown}; allowed: {', '.join(_ITEM_KEYS)}")
        if "image" in item and "images" in item:
            raise InvalidInputError(f"{where} has both 'image' and 'images'; use one")
        text, image, video = item.get("text"), item.get("image", item.get("images")), item.get("video")
    else:
        raise InvalidInputError(
            f"{where} is a {type(item).__name__}; pass a MultimodalInput, a dict with text/image/video, or a string"
        )
    if image is None:
        images: list[Any] = []
    elif isinstance(image, (list, tuple)):
        images = list(image)
        if not images:
            raise InvalidInputError(f"{where}.image is an empty list")
    else:
        images = [image]
    return text, images, video


def _as_list(values: Any, what: str) -> list[Any]:
    if isinstance(values, (str, bytes, bytearray)):
        raise InvalidInputError(f"{what} must be a list, got a single {type(values).__name__}")
    try:
        return list(values)
    except TypeError:
        raise InvalidInputError(f"{what} must be a list, got {type(values).__name__}") from None


def _values(element: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = []
    for value in element.values():
        out.extend(value if isinstance(value, list) else [value])
    return out
