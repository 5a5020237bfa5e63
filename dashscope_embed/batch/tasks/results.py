"""Reading a task's result: a gzip of JSON lines, one per input line, in no particular order.

The line schema is not documented. Two shapes are read (both seen in user code against the live service):

- nested: ``{"output": {"text_index": 0, "embedding": [...]}}``;
- flat: ``{"text_index": 0, "embedding": [...]}``.

A line with ``code`` / ``message`` (at the top level or inside ``output``) and no ``embedding`` is a failed line.
Lines are keyed by ``text_index`` (0-based input line number); ``read_result`` streams them, one line in memory at
a time, and ``ResultCheck`` verifies that every input line came back exactly once with a vector of the job's
dimension.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ...errors import ResponseFormatError

__all__ = ["ResultLine", "ResultCheck", "parse_line", "read_result"]


@dataclass
class ResultLine:
    """One line of a task's result.

    Attributes:
        text_index: the input line it answers (0-based).
        embedding: ``(d,) float32``, or ``None`` for a failed line.
        code / message: why the line failed (``None`` for a success).
    """

    text_index: int
    embedding: np.ndarray | None
    code: str | None = None
    message: str | None = None


def parse_line(raw: bytes, where: str = "result") -> ResultLine:
    """One result line of either shape (see the module docstring).

    Raises:
        ResponseFormatError: not a JSON object, no integer ``text_index``, or neither an embedding nor a code.
    """
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ResponseFormatError(f"{where}: a line is not JSON: {raw[:80]!r}") from None
    if not isinstance(line, dict):
        raise ResponseFormatError(f"{where}: a line is not a JSON object: {raw[:80]!r}")
    inner: dict[str, Any] = line["output"] if isinstance(line.get("output"), dict) else line
    index = inner.get("text_index", line.get("text_index"))
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ResponseFormatError(f"{where}: a line has no text_index: {raw[:80]!r}")
    embedding = inner.get("embedding", line.get("embedding"))
    if isinstance(embedding, list) and embedding:
        try:
            return ResultLine(index, np.asarray(embedding, dtype=np.float32))
        except (TypeError, ValueError):
            raise ResponseFormatError(f"{where}: line {index} has an embedding that is not numbers") from None
    code = line.get("code") or inner.get("code")
    message = line.get("message") or inner.get("message")
    if not code and not message:
        raise ResponseFormatError(f"{where}: line {index} has neither an embedding nor an error code")
    return ResultLine(index, None, str(code or "UnknownError"), str(message or ""))


def read_result(path: Path) -> Iterator[ResultLine]:
    """The lines of a downloaded result file (gzip, or plain JSON lines), one at a time: memory is one line (a
    ``(1536,)`` float32 vector for text-embedding-async-v1/v2), whatever the file's size.

    Raises:
        ResponseFormatError: a line is not JSON or has neither known shape (``parse_line``).
        OSError, EOFError: the file cannot be read, or its gzip stream is cut short.
    """
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        for raw in handle:
            if raw.strip():
                yield parse_line(raw, where=path.name)


@dataclass
class ResultCheck:
    """Checks that a result answers each of ``lines`` input lines exactly once, each embedding ``(dimension,)``.

    Raises (``see``):
        ResponseFormatError: a ``text_index`` out of range or seen twice, or an embedding of another shape than
            ``(dimension,)`` (``dimension`` ``None``: not checked).
    """

    lines: int
    dimension: int | None = None
    seen: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.seen = np.zeros(self.lines, dtype=bool)

    def see(self, line: ResultLine) -> None:
        """Record ``line`` (raises for an index out of range or seen before)."""
        if line.text_index >= self.lines:
            raise ResponseFormatError(
                f"a result line has text_index {line.text_index}; the input had {self.lines} lines"
            )
        if self.seen[line.text_index]:
            raise ResponseFormatError(f"the result holds text_index {line.text_index} twice")
        self.seen[line.text_index] = True
        if self.dimension is not None and line.embedding is not None and line.embedding.shape != (self.dimension,):
            raise ResponseFormatError(
                f"result line text_index {line.text_index} holds an embedding of shape {line.embedding.shape}; "
                f"the job asks for ({self.dimension},)"
            )

    def missing(self) -> list[int]:
        """Input lines with no answer so far."""
        return [int(i) for i in np.flatnonzero(~self.seen)]
