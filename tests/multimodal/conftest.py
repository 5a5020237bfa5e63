import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dashscope_embed import MultimodalEmbedder
from mm_fake import FakeMultimodal

PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "webp": "WEBP", "gif": "GIF", "tiff": "TIFF"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "bmp": "bmp", "webp": "webp", "gif": "gif", "tiff": "tif"}


def image_bytes(fmt: str, size: tuple[int, int] = (16, 12), seed: int = 0, noise: bool = False) -> bytes:
    """A real image file of ``fmt`` encoded by Pillow."""
    rng = np.random.default_rng(seed)
    if noise:
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    else:
        pixels = np.full((size[1], size[0], 3), rng.integers(0, 256, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format=PIL_FORMATS[fmt])
    return buffer.getvalue()


@pytest.fixture
def write_image(tmp_path: Path):
    def write(fmt: str, name: str | None = None, **kwargs) -> Path:
        path = tmp_path / (name or f"img_{fmt}_{kwargs.get('seed', 0)}.{EXTENSIONS[fmt]}")
        path.write_bytes(image_bytes(fmt, **kwargs))
        return path

    return write


@pytest.fixture
def fake():
    return FakeMultimodal()


@pytest.fixture
def make(fake):
    made = []

    def build(model: str, **kwargs) -> MultimodalEmbedder:
        kwargs.setdefault("api_key", "sk-test")
        kwargs.setdefault("max_retries", 0)
        embedder = MultimodalEmbedder(model, transport=fake.transport(), async_transport=fake.async_transport(),
                                      **kwargs)
        made.append(embedder)
        return embedder

    yield build
    for embedder in made:
        embedder.close()
