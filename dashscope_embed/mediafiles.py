"""Local media files: the types ``media`` (checking inputs) and ``uploads`` (the temporary upload) both need.

``Upload`` asks for the temporary upload of a file or in-memory data; ``LocalMedia`` is a checked file or bytes
waiting to be uploaded; ``local_media`` builds one; ``local_path`` and ``read_stream`` are the one place paths and
streams are read. Neither ``media`` nor ``uploads`` is imported here, so the two import this module and not each
other.
"""

from __future__ import annotations

import io
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .errors import InvalidInputError

__all__ = ["Upload", "LocalMedia", "local_media", "local_path", "read_stream"]


@dataclass(frozen=True)
class Upload:
    """Ask for the temporary upload of a local file or in-memory data instead of inlining it.

    Videos given as local paths are uploaded without asking; wrap an image (or in-memory video bytes) in
    ``Upload`` to send it by temporary upload rather than as a base64 ``data:`` URI.

    Attributes:
        source: a path (``str``, ``Path`` or ``file://`` URI), ``bytes`` or a binary stream (``BytesIO``).
        filename: the object's file name (default: the path's name; required for in-memory data of a video).
        content_type: sent as ``x-oss-content-type`` (default: guessed from the file name).
    """

    source: Any
    filename: str | None = None
    content_type: str | None = None


@dataclass(repr=False)
class LocalMedia:
    """A checked local file or in-memory data waiting to be uploaded; stands in a content element until then.

    Attributes:
        kind: ``"image"`` or ``"video"``.
        where: how errors name the input (``"videos[0] (/data/clip.mp4)"``).
        size: bytes.
        filename: the object's file name.
        content_type: MIME type for ``x-oss-content-type``.
        path: the file, or ``None`` for in-memory data (then ``data`` holds it).
    """

    kind: str
    where: str
    size: int
    filename: str
    content_type: str
    path: Path | None = None
    data: bytes | None = None

    def identity(self) -> tuple:
        """What makes two inputs the same upload: the file (path, size, mtime) or the bytes."""
        if self.path is not None:
            stat = self.path.stat()
            return ("path", str(self.path.resolve()), stat.st_size, stat.st_mtime_ns)
        return ("data", hash(self.data), self.size)

    def open(self) -> io.BufferedIOBase:
        """A binary stream over the content (the caller closes it)."""
        if self.path is not None:
            return self.path.open("rb")
        return io.BytesIO(self.data or b"")

    def __repr__(self) -> str:
        return f"LocalMedia({self.kind}, {self.filename!r}, {self.size} bytes)"


def local_media(
    kind: str, source: Any, where: str, *, filename: str | None = None, content_type: str | None = None
) -> LocalMedia:
    """Build a ``LocalMedia`` from a path (``str``, ``Path``, ``file://``) or bytes / a binary stream.

    Raises:
        InvalidInputError: a missing file, empty data, or in-memory data without a file name.
    """
    if isinstance(source, (str, os.PathLike)):
        path = local_path(source)
        if not path.is_file():
            raise InvalidInputError(f"{where} ({path}): no such file")
        size = path.stat().st_size
        name = filename or path.name
        media = LocalMedia(kind, f"{where} ({path})", size, name, _content_type(name, content_type), path=path)
    else:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        elif isinstance(source, io.IOBase) or hasattr(source, "read"):
            data = read_stream(source, where)
        else:
            raise InvalidInputError(f"{where} is a {type(source).__name__}; upload a path, bytes or a binary stream")
        if not filename:
            raise InvalidInputError(f"{where} is in-memory data: pass Upload(data, filename='clip.mp4') to name it")
        media = LocalMedia(kind, where, len(data), filename, _content_type(filename, content_type), data=data)
    if media.size == 0:
        raise InvalidInputError(f"{media.where} is empty (0 bytes)")
    return media


def _content_type(filename: str, given: str | None) -> str:
    return given or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def read_stream(value: io.IOBase, where: str) -> bytes:
    """The bytes of a binary stream (``getvalue()`` or ``read()``), leaving a seekable stream where it was.

    Raises:
        InvalidInputError: not readable, or a text stream (names ``where``).
    """
    getvalue = getattr(value, "getvalue", None)
    if callable(getvalue):
        data = getvalue()
    else:
        read = getattr(value, "read", None)
        if not callable(read):
            raise InvalidInputError(f"{where} is a {type(value).__name__}, not a readable binary stream")
        position = value.tell() if value.seekable() else None
        data = read()
        if position is not None:
            value.seek(position)  # leave the caller's stream where it was
    if isinstance(data, str):
        raise InvalidInputError(f"{where} is a text stream; open images in binary mode")
    return bytes(data)


def local_path(value: str | os.PathLike) -> Path:
    """The local path of a ``str`` / ``PathLike`` / ``file://`` URI, with ``~`` expanded."""
    if isinstance(value, str) and value.lower().startswith("file://"):
        parsed = urlparse(value)
        return Path(unquote((parsed.netloc or "") + parsed.path)).expanduser()
    return Path(os.fspath(value)).expanduser()
