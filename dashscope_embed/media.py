"""Image and video inputs: turn whatever the caller holds into what DashScope accepts, or refuse it early.

The multimodal API takes an image as a public URL or a ``data:image/{format};base64,...`` URI, and a video as a
public URL only ("Multimodal embedding API", https://help.aliyun.com/en/model-studio/multimodal-embedding-api-reference).
Local images and in-memory bytes are therefore inlined as data URIs; their format is read from the magic bytes,
because an extension can lie and ``BytesIO`` has none. Size and format are checked against the model's catalog
entry here, so an oversize or unsupported image never costs a request.

Local videos cannot be inlined (the service refuses base64 video): a local video file becomes a ``LocalMedia`` that
the engine sends through DashScope's temporary upload (``dashscope_embed.uploads``) as an ``oss://`` URL. So does a
local image over ``INLINE_IMAGE_MAX_BYTES`` (within the model's limit), and any input wrapped in ``Upload(...)``.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from typing import Any

from .catalog import ModelSpec
from .errors import InvalidInputError
from .mediafiles import LocalMedia, Upload, local_media, local_path, read_stream

__all__ = [
    "ImageInput",
    "sniff_image_format",
    "image_to_uri",
    "video_to_uri",
    "is_remote",
    "uses_oss",
    "OSS_RESOLVE_HEADER",
    "INLINE_IMAGE_MAX_BYTES",
    "Upload",
    "LocalMedia",
]

#: What ``image_to_uri`` accepts: a path (``str`` or ``Path``), ``file://`` URI, http(s)/``oss://`` URL,
#: ``data:`` URI, raw bytes, or a binary file object such as ``io.BytesIO``.
ImageInput = str | os.PathLike | bytes | bytearray | memoryview | io.IOBase

#: Header that lets the service read ``oss://`` values produced by DashScope's temporary upload.
OSS_RESOLVE_HEADER = {"X-DashScope-OssResourceResolve": "enable"}

_REMOTE = ("http://", "https://", "oss://")
_MB = 1024 * 1024
#: Local images above this many bytes (and within the model's limit) go by temporary upload rather than inline:
#: a 5 MB image is already a 6.7 MB base64 request body.
INLINE_IMAGE_MAX_BYTES = 5 * _MB

# Aliases so a catalog entry may list either the extension or the format name.
_CANONICAL = {"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff", "dib": "bmp"}


def _canonical(fmt: str) -> str:
    fmt = fmt.lower().strip().lstrip(".")
    if fmt.startswith("x-"):
        fmt = fmt[2:]
    return _CANONICAL.get(fmt, fmt)


def sniff_image_format(data: bytes) -> str | None:
    """The image format named by ``data``'s magic bytes, or ``None`` when it is not a known image.

    Returns one of ``"jpeg"``, ``"png"``, ``"bmp"``, ``"webp"``, ``"gif"``, ``"tiff"``, ``"ico"``, ``"icns"``,
    ``"sgi"``.
    """
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ico"
    if head.startswith(b"icns"):
        return "icns"
    if head.startswith(b"\x01\xda"):
        return "sgi"
    return None


def is_remote(value: Any) -> bool:
    """Whether ``value`` is an http(s) or ``oss://`` URL string, which the service fetches itself."""
    return isinstance(value, str) and value.lower().startswith(_REMOTE)


def uses_oss(value: Any) -> bool:
    """Whether ``value`` is an ``oss://`` URL (the request then needs ``OSS_RESOLVE_HEADER``)."""
    return isinstance(value, str) and value.lower().startswith("oss://")


def _limit_text(limit: int) -> str:
    return f"{limit} bytes ({limit / _MB:g} MB)"


def _size_text(size: int) -> str:
    return f"{size} bytes ({size / _MB:.2f} MB)"


def _check_image(data: bytes, spec: ModelSpec, where: str, *, declared: str | None = None) -> str:
    """Check size and format; return the canonical format name."""
    if not data:
        raise InvalidInputError(f"{where} is empty (0 bytes)")
    limit = spec.image_max_bytes
    if limit is not None and len(data) > limit:
        raise InvalidInputError(
            f"{where} is {_size_text(len(data))}; {spec.name} accepts images of at most {_limit_text(limit)} "
            f"(source: {spec.source}). Resize or recompress it, or pass a public URL."
        )
    fmt = sniff_image_format(data)
    if fmt is None:
        hint = f" (declared {declared!r})" if declared else ""
        raise InvalidInputError(f"{where} is not a recognised image{hint}: its first bytes match no image format")
    allowed = {_canonical(f) for f in spec.image_formats}
    if allowed and fmt not in allowed:
        raise InvalidInputError(
            f"{where} is a {fmt.upper()} image ({_size_text(len(data))}); {spec.name} accepts "
            f"{', '.join(sorted(allowed))} (source: {spec.source})"
        )
    return fmt


def _data_uri(data: bytes, fmt: str) -> str:
    # The reference spells inline images as data:image/{format};base64,...
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode('ascii')}"


def _check_data_uri(value: str, spec: ModelSpec, where: str) -> None:
    header, sep, payload = value.partition(",")
    if not sep or not header.lower().startswith("data:image/") or ";base64" not in header.lower():
        raise InvalidInputError(f"{where} must be a data:image/<format>;base64,... URI, got {value[:40]!r}...")
    declared = header[len("data:image/") :].split(";", 1)[0]
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{where} is a data URI whose payload is not valid base64") from None
    fmt = _check_image(data, spec, f"{where} (data URI)", declared=declared)
    if _canonical(declared) != fmt:
        raise InvalidInputError(f"{where} declares image/{declared} but its bytes are {fmt.upper()}")


def image_to_uri(value: Any, spec: ModelSpec, where: str) -> str | LocalMedia:
    """What to send as an ``image`` value for ``value``.

    - http(s) and ``oss://`` URLs: unchanged (the service fetches them; size is checked there).
    - ``data:`` URIs: unchanged, after checking the declared format matches the bytes, the format and the size.
    - a local path (``str``, ``Path``, ``file://``), ``bytes`` or a binary stream (``io.BytesIO``): read, format
      sniffed from the magic bytes, checked, and inlined as ``data:image/{format};base64,...``; above
      ``INLINE_IMAGE_MAX_BYTES`` or wrapped in ``Upload(...)``: a ``LocalMedia`` for the temporary upload instead.

    Args:
        spec: the model whose ``image_max_bytes`` (bytes) and ``image_formats`` apply.
        where: how to name the input in errors, e.g. ``"images[3]"``.

    Raises:
        InvalidInputError: missing file, empty or unrecognised data, a format the model does not accept, or more
            than ``spec.image_max_bytes`` bytes; the message names the input, its size and the documented limit.
    """
    if isinstance(value, Upload):
        media = local_media(
            "image",
            value.source,
            where,
            filename=value.filename or _image_name(value.source),
            content_type=value.content_type,
        )
        with media.open() as stream:
            data = stream.read()
        fmt = _check_image(data, spec, media.where)
        if value.content_type is None:
            media.content_type = f"image/{fmt}"
        if value.filename is None and media.path is None:
            media.filename = f"image.{fmt}"
        return media
    if isinstance(value, str):
        if not value.strip():
            raise InvalidInputError(f"{where} is an empty string")
        if is_remote(value):
            return value
        if value.lower().startswith("data:"):
            _check_data_uri(value, spec, where)
            return value
    if isinstance(value, (str, os.PathLike)):
        path = local_path(value)
        label = f"{where} ({path})"
        if not path.is_file():
            raise InvalidInputError(
                f"{label}: no such file; an image must be an existing file, an http(s) URL or a data: URI"
            )
        data = path.read_bytes()
        fmt = _check_image(data, spec, label)
        if len(data) > INLINE_IMAGE_MAX_BYTES:
            return local_media("image", path, where, content_type=f"image/{fmt}")
        return _data_uri(data, fmt)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, io.IOBase) or hasattr(value, "read"):
        data = read_stream(value, where)
    else:
        raise InvalidInputError(
            f"{where} is a {type(value).__name__}; pass a path, URL, data URI, bytes or a binary stream (BytesIO)"
        )
    fmt = _check_image(data, spec, where)
    if len(data) > INLINE_IMAGE_MAX_BYTES:
        return local_media("image", data, where, filename=f"image.{fmt}", content_type=f"image/{fmt}")
    return _data_uri(data, fmt)


def _image_name(source: Any) -> str | None:
    # in-memory images get a name from their format later; a placeholder keeps local_media from refusing them
    return None if isinstance(source, (str, os.PathLike)) else "image"


def video_to_uri(value: Any, spec: ModelSpec, where: str) -> str | LocalMedia:
    """What to send as a ``video`` value: an http(s) or ``oss://`` URL unchanged, or a ``LocalMedia`` for a local
    file (or ``Upload(...)``) that the engine sends through the temporary upload.

    The service takes video by URL only ("value必须是公开可访问的URL"; base64 video is not accepted). A local file is
    checked against ``spec.video_max_bytes`` here, before any request; a URL is checked by the service.

    Raises:
        InvalidInputError: bytes, a stream or a ``data:`` URI (wrap in-memory video in ``Upload(data,
            filename=...)``), a path that is not a file, or a file over the model's limit (size and limit named).
    """
    if is_remote(value):
        return value
    limit = spec.video_max_bytes
    limit_note = f"; {spec.name} accepts videos of at most {_limit_text(limit)}" if limit else ""
    advice = (
        "DashScope takes video as a public http(s) URL, an oss:// URL, or a local file (sent by temporary "
        f"upload) (source: {spec.source})"
    )
    if isinstance(value, Upload):
        media = local_media("video", value.source, where, filename=value.filename, content_type=value.content_type)
    elif isinstance(value, str) and value.lower().startswith("data:"):
        raise InvalidInputError(f"{where} is a data: URI; {advice}")
    elif isinstance(value, (str, os.PathLike)) and str(value).strip():
        path = local_path(value)
        if not path.is_file():
            raise InvalidInputError(f"{where} ({value!s}) is neither a URL nor an existing file; {advice}")
        media = local_media("video", path, where)
    elif isinstance(value, (bytes, bytearray, memoryview, io.IOBase)):
        raise InvalidInputError(
            f"{where} is in-memory video data{limit_note}; wrap it as Upload(data, filename='clip.mp4') to send it by "
            f"temporary upload, or {advice[0].lower()}{advice[1:]}"
        )
    else:
        raise InvalidInputError(f"{where} is a {type(value).__name__}; {advice}")
    if limit is not None and media.size > limit:
        raise InvalidInputError(
            f"{media.where} is a video of {_size_text(media.size)}{limit_note} (source: {spec.source})"
        )
    return media
