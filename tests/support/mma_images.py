"""Pillow-drawn test images for the multimodal adapter tests (a module of its own: conftest names collide)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

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
