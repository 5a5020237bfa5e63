"""Fixtures for the multimodal adapter tests: the local service and real Pillow images of several colours/shapes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest


from support.mma_images import SHAPES, draw_image

from dashscope_embed.server import LocalService


@pytest.fixture(scope="module")
def service():
    with LocalService(backend="hash") as svc:
        yield svc


@pytest.fixture
def image_files(tmp_path: Path) -> dict[str, Path]:
    """One PNG file per entry of ``SHAPES``."""
    paths = {}
    for name, (colour, shape) in SHAPES.items():
        path = tmp_path / f"{name}.png"
        path.write_bytes(draw_image(colour, shape))
        paths[name] = path
    return paths


class RecordingTransport(httpx.HTTPTransport):
    """A real HTTP transport that also keeps every JSON request body it sends (``bodies``)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.read()))
        return super().handle_request(request)


@pytest.fixture
def recording() -> RecordingTransport:
    return RecordingTransport()
