from pathlib import Path

import pytest

from dashscope_embed import MultimodalEmbedder
from support.mm_fake import FakeMultimodal
from support.mm_images import EXTENSIONS, image_bytes


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
