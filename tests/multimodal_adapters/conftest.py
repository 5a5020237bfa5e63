"""Fixtures for the multimodal adapter tests: the local service and real Pillow images of several colours/shapes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from dashscope_embed.server import LocalService

#: name -> (fill colour, shape); every image differs in its bytes, so each gets its own vector.
SHAPES = {
    "red_circle": ("red", "circle"),
    "green_square": ("green", "square"),
    "blue_triangle": ("blue", "triangle"),
    "yellow_cross": ("yellow", "cross"),
    "purple_circle": ("purple", "circle"),
    "orange_square": ("orange", "square"),
}


def draw_image(colour: str, shape: str, size: int = 64, fmt: str = "PNG") -> bytes:
    """A ``size`` x ``size`` image of one filled shape on white, encoded by Pillow as ``fmt``."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    a, b = size // 8, size - size // 8
    if shape == "circle":
        draw.ellipse((a, a, b, b), fill=colour)
    elif shape == "square":
        draw.rectangle((a, a, b, b), fill=colour)
    elif shape == "triangle":
        draw.polygon([(size // 2, a), (b, b), (a, b)], fill=colour)
    else:
        draw.rectangle((size // 2 - a, a, size // 2 + a, b), fill=colour)
        draw.rectangle((a, size // 2 - a, b, size // 2 + a), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


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
