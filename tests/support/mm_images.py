"""Real image files of every format, encoded by Pillow."""

import io

import numpy as np
from PIL import Image

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
