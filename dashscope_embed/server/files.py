"""The Files endpoints of the Batch File API under ``/compatible-mode/v1``.

``POST /files`` (multipart ``file``, ``purpose=batch``) answers ``{"id": "file-batch-…", "object": "file",
"bytes", "filename", "purpose": "batch", "status": "processed", "created_at"}``; ``GET /files/{id}``,
``GET /files/{id}/content`` and ``DELETE /files/{id}`` (``{"object": "file", "deleted": true, "id"}``); and
``GET /files?after=&limit=`` (newest first, the OpenAI Files API's list; the Model Studio page does not document
it, and the client copes without it). Files live
in a temporary directory of the service (not in memory) and are removed with it. Limits (``BatchLimits``): bytes
per file, files and bytes stored per account. Source: ``dashscope_embed.batch.limits.BATCH_DOC``.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..batch.limits import LIMITS, BatchLimits
from .replies import ServiceError, json_response
from .validation import invalid

__all__ = ["FileStore", "FilesAPI", "FILES_PATH"]

FILES_PATH = "/compatible-mode/v1/files"
_COPY_BLOCK = 1 << 20


def _not_found(file_id: str) -> ServiceError:
    return ServiceError(404, "NotFound", f"No such file: {file_id}", param="file_id")


def list_page(request: Request, newest: list[dict[str, Any]]) -> Response:
    """One page of an OpenAI-style cursor listing: ``?after=ID&limit=N`` (``limit`` 1-100, default 20) over
    objects already ordered newest first; the reply carries ``data``, ``first_id``, ``last_id``, ``has_more``.

    Raises:
        ServiceError: 400 for a ``limit`` that is not an integer in [1, 100].
    """
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        raise invalid("limit must be an integer", param="limit") from None
    if not 1 <= limit <= 100:
        raise invalid("limit must be within [1, 100]", param="limit")
    after = request.query_params.get("after")
    if after:
        ids = [item["id"] for item in newest]
        newest = newest[ids.index(after) + 1 :] if after in ids else []
    page = newest[:limit]
    return json_response(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(newest) > limit,
        }
    )


class FileStore:
    """Files of one service, on disk in a temporary directory (removed when the store is garbage-collected or the
    process exits). Thread-safe.

    Args:
        limits: the account limits to enforce (documented values by default).
    """

    def __init__(self, limits: BatchLimits = LIMITS) -> None:
        self.limits = limits
        self._dir = tempfile.TemporaryDirectory(prefix="dashscope-embed-files-")
        self.root = Path(self._dir.name)
        self._files: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _reserve(self, size: int) -> None:
        with self._lock:
            if len(self._files) >= self.limits.max_files:
                raise invalid(f"Too many files: an account may store {self.limits.max_files} files.", param="file")
            stored = sum(f["bytes"] for f in self._files.values())
            if stored + size > self.limits.max_storage_bytes:
                raise invalid(
                    f"Storage quota exceeded: an account may store {self.limits.max_storage_bytes} bytes.", param="file"
                )

    def new_path(self) -> tuple[str, Path]:
        """A fresh file id and the path to write its content to (registered by ``register``)."""
        file_id = f"file-batch-{uuid.uuid4().hex[:24]}"
        return file_id, self.root / file_id

    def register(self, file_id: str, filename: str, purpose: str) -> dict[str, Any]:
        """Record the file written at ``new_path``'s path; returns its file object.

        Raises:
            ServiceError: 400 when it would exceed the account's file count or storage.
        """
        path = self.root / file_id
        size = path.stat().st_size
        try:
            self._reserve(size)
        except ServiceError:
            path.unlink(missing_ok=True)
            raise
        meta = {
            "id": file_id,
            "object": "file",
            "bytes": size,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "created_at": int(time.time()),
        }
        with self._lock:
            self._files[file_id] = meta
        return dict(meta)

    def get(self, file_id: str) -> dict[str, Any]:
        """The file object. Raises: ServiceError 404 for an unknown id."""
        with self._lock:
            meta = self._files.get(file_id)
        if meta is None:
            raise _not_found(file_id)
        return dict(meta)

    def path(self, file_id: str) -> Path:
        """Where the content is. Raises: ServiceError 404 for an unknown id."""
        self.get(file_id)
        return self.root / file_id

    def delete(self, file_id: str) -> None:
        """Remove the file. Raises: ServiceError 404 for an unknown id."""
        with self._lock:
            meta = self._files.pop(file_id, None)
        if meta is None:
            raise _not_found(file_id)
        (self.root / file_id).unlink(missing_ok=True)

    def ids(self) -> list[str]:
        """Ids of the stored files (a copy)."""
        with self._lock:
            return list(self._files)

    def listing(self) -> list[dict[str, Any]]:
        """File objects, newest first (copies)."""
        with self._lock:
            return [dict(meta) for meta in reversed(list(self._files.values()))]


class FilesAPI:
    """The ``/files`` routes over a ``FileStore``, authenticated and counted like the embedding endpoints.

    Args:
        service: the ``EmbeddingService`` (authentication, error replies, statistics).
        store: the files.
    """

    def __init__(self, service: Any, store: FileStore) -> None:
        self.service = service
        self.store = store

    def routes(self) -> list[Route]:
        """Starlette routes of the four endpoints."""
        return [
            Route(FILES_PATH, self._guard(self.upload), methods=["POST"]),
            Route(FILES_PATH, self._guard(self.list), methods=["GET"]),
            Route(FILES_PATH + "/{file_id}", self._guard(self.retrieve), methods=["GET"]),
            Route(FILES_PATH + "/{file_id}", self._guard(self.delete), methods=["DELETE"]),
            Route(FILES_PATH + "/{file_id}/content", self._guard(self.content), methods=["GET"]),
        ]

    def _guard(self, handler: Any) -> Any:
        async def run(request: Request) -> Response:
            request_id = str(uuid.uuid4())
            try:
                self.service._authorize(request)
                response = await handler(request)
            except ServiceError as error:
                return self.service.error_response(error, "compat", request_id)
            self.service.stats.reply(response.status_code)
            return response

        return run

    async def upload(self, request: Request) -> Response:
        """``POST /files``: store the ``file`` part (``purpose`` must be ``batch``)."""
        form = await request.form(max_files=1, max_fields=10)
        try:
            upload = form.get("file")
            purpose = form.get("purpose")
            if purpose != "batch":
                raise invalid(f"purpose must be 'batch', got {purpose!r}", param="purpose")
            if upload is None or isinstance(upload, str):
                raise invalid("a multipart 'file' part is required", param="file")
            file_id, path = self.store.new_path()
            size = 0
            with open(path, "wb") as out:
                while True:
                    block = await upload.read(_COPY_BLOCK)
                    if not block:
                        break
                    size += len(block)
                    if size > self.store.limits.max_file_bytes:
                        break
                    out.write(block)
            if size > self.store.limits.max_file_bytes:
                os.unlink(path)
                raise invalid(
                    f"File too large: an input file may hold at most {self.store.limits.max_file_bytes} bytes.",
                    param="file",
                )
            meta = self.store.register(file_id, upload.filename or "input.jsonl", "batch")
        finally:
            await form.close()
        return json_response(meta)

    async def list(self, request: Request) -> Response:
        """``GET /files?after=&limit=``: file objects, newest first, ``limit`` 1-100 (default 20)."""
        return list_page(request, self.store.listing())

    async def retrieve(self, request: Request) -> Response:
        """``GET /files/{id}``: the file object."""
        return json_response(self.store.get(request.path_params["file_id"]))

    async def content(self, request: Request) -> Response:
        """``GET /files/{id}/content``: the bytes, streamed from disk."""
        path = self.store.path(request.path_params["file_id"])
        return FileResponse(path, media_type="application/octet-stream")

    async def delete(self, request: Request) -> Response:
        """``DELETE /files/{id}``."""
        file_id = request.path_params["file_id"]
        self.store.delete(file_id)
        return json_response({"object": "file", "deleted": True, "id": file_id})
