"""Token counting with the Qwen tokenizer that ships inside the ``dashscope`` package (no download).

DashScope's text embedding limits (8,192 tokens per row for text-embedding-v3/v4, 2,048 for v1/v2) are counted in
Qwen tokens. The tokenizer loads lazily (about 0.8 s, once per process) and only for texts that could be over a
limit: a byte-level BPE token covers at least one UTF-8 byte, so a text of at most ``limit`` bytes fits for sure.
"""

from __future__ import annotations

import threading
from typing import Any

from .errors import InvalidInputError

__all__ = ["get_tokenizer", "count_tokens", "encode", "decode", "fits", "split_by_tokens", "truncate"]

_lock = threading.Lock()
_tokenizer: Any = None


def get_tokenizer() -> Any:
    """The process-wide Qwen tokenizer (``dashscope.tokenizers.get_tokenizer("qwen-plus")``).

    It has ``encode(str) -> list[int]`` and ``decode(list[int]) -> str``.
    """
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                from dashscope.tokenizers import get_tokenizer as _get

                _tokenizer = _get("qwen-plus")
    return _tokenizer


def encode(text: str) -> list[int]:
    """Qwen token ids of ``text``."""
    return get_tokenizer().encode(text)


def decode(ids: list[int]) -> str:
    """Text of Qwen token ids (an incomplete UTF-8 sequence at either end becomes U+FFFD)."""
    return get_tokenizer().decode(ids)


def count_tokens(text: str) -> int:
    """Number of Qwen tokens in ``text``."""
    return len(encode(text))


def fits(text: str, max_tokens: int | None) -> bool:
    """Whether ``text`` holds at most ``max_tokens`` tokens; tokenizes only when the byte length could exceed it."""
    if max_tokens is None:
        return True
    if len(text) * 4 <= max_tokens or len(text.encode("utf-8")) <= max_tokens:
        return True
    return count_tokens(text) <= max_tokens


def split_by_tokens(text: str, max_tokens: int) -> list[tuple[str, int]]:
    """Split ``text`` on token boundaries into pieces of at most ``max_tokens`` tokens.

    Returns:
        ``[(piece_text, piece_token_count), ...]`` in order; a single element when the text already fits.
    """
    if max_tokens < 1:
        raise InvalidInputError("max_tokens must be >= 1")
    ids = encode(text)
    if len(ids) <= max_tokens:
        return [(text, len(ids))]
    pieces = []
    for start in range(0, len(ids), max_tokens):
        chunk = ids[start : start + max_tokens]
        pieces.append((decode(chunk), len(chunk)))
    return pieces


def truncate(text: str, max_tokens: int) -> str:
    """The longest prefix of ``text`` that holds at most ``max_tokens`` tokens (cut on a token boundary)."""
    ids = encode(text)
    if len(ids) <= max_tokens:
        return text
    return decode(ids[:max_tokens])
