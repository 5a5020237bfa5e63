"""Keeping API keys out of messages: redaction of any text shown to a user.

Every key the package accepts passes ``keys.clean_api_key``, which remembers it here for ``redact``; every error
message and the command line's error printing pass through ``redact``. A message built by another library (httpx
quotes the header it refuses, a proxy echoes a request) therefore never shows the key.
"""

from __future__ import annotations

import re
import threading

__all__ = ["redact", "remember_key", "REDACTED"]

#: What a key is replaced with in messages.
REDACTED = "***"
# Keys shorter than this are not remembered: replacing a two-letter test key everywhere would garble messages.
_MIN_REMEMBERED = 8
_known_keys: set[str] = set()
_lock = threading.Lock()
# A bearer token in a quoted header or a message, and the shape of DashScope keys (``sk-`` + 16 or more characters).
_PATTERNS = (
    re.compile(r"(Bearer\s+)[^\s'\",;)]+", re.I),
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
)


def remember_key(key: str) -> None:
    """Remember ``key`` (a cleaned API key) so that ``redact`` replaces it wherever it appears; keys shorter than 8
    characters are not remembered (replacing a two-letter test key everywhere would garble messages)."""
    if len(key) >= _MIN_REMEMBERED:
        with _lock:
            _known_keys.add(key)


def redact(text: str) -> str:
    """``text`` with every key this process was given, and anything shaped like a bearer token or a DashScope key,
    replaced by ``***``."""
    if not text:
        return text
    with _lock:
        keys = sorted(_known_keys, key=len, reverse=True)
    for key in keys:
        if key in text:
            text = text.replace(key, REDACTED)
    text = _PATTERNS[0].sub(lambda m: m.group(1) + REDACTED, text)
    return _PATTERNS[1].sub("sk-" + REDACTED, text)
