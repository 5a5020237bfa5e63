"""Shared by the notebook tests: the notebooks' runner (notebooks/run.py, loaded by path) and helpers."""

from __future__ import annotations

import base64
import importlib.util
import io
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_runner() -> Any:
    """``notebooks/run.py`` as a module: the tests check notebooks by the same rules it applies before writing."""
    spec = importlib.util.spec_from_file_location("notebooks_run", NOTEBOOKS / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = load_runner()


def png_outputs(nb: Any) -> list[bytes]:
    """The decoded ``image/png`` outputs of a notebook, in cell order."""
    return [
        base64.b64decode(output["data"]["image/png"])
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of PNG bytes, read by Pillow (raises if they are not a readable PNG)."""
    from PIL import Image

    assert data.startswith(PNG_SIGNATURE), data[:8]
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


def stream_text(nb: Any) -> str:
    """Everything the notebook's code cells printed (stdout and stderr), concatenated."""
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.output_type == "stream"
    )
