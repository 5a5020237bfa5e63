"""Keeping API keys out of messages: key cleaning at construction and redaction of any text shown to a user.

Every key the package accepts passes ``clean_api_key`` (surrounding whitespace stripped; empty or non-printable-ASCII
keys refused, since an HTTP header can carry only visible ASCII, RFC 9110 section 5.5) and is remembered for
``redact``, which every error message and the command line's error printing pass through. A message built by
another library (httpx quotes the header it refuses, a proxy echoes a request) therefore never shows the key.
"""

from __future__ import annotations

import re
import threading
from typing import Optional, Union

from pydantic import SecretStr

__all__ = ["clean_api_key", "redact", "REDACTED"]

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


def clean_api_key(value: Union[str, SecretStr, None], *, source: str = "api_key") -> Optional[SecretStr]:
    """The key with surrounding whitespace removed, as a ``SecretStr`` (``None`` stays ``None``).

    A pasted key or ``$(cat key.txt)`` often ends in a newline: it is stripped here, for keys from the environment,
    arguments and files alike. The message of a refusal never holds the key's text.

    Args:
        source: where the key came from (``api_key``, ``DASHSCOPE_API_KEY``), named in the error.

    Raises:
        InvalidInputError: the key is empty or whitespace only, or holds a character that is not printable ASCII
            (the first such position is named; DashScope keys are ``sk-`` followed by letters and digits).
    """
    from .errors import InvalidInputError

    if value is None:
        return None
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(raw, str):
        raise InvalidInputError(f"{source} must be a string, got {type(raw).__name__}")
    key = raw.strip()
    if not key:
        raise InvalidInputError(
            f"{source} is empty{' (whitespace only)' if raw else ''}: pass the DashScope API key "
            "(https://help.aliyun.com/en/model-studio/get-api-key)"
        )
    for position, char in enumerate(key):
        if not ("\x21" <= char <= "\x7e"):
            what = "a space or control character" if char.isspace() or ord(char) < 32 else "a non-ASCII character"
            raise InvalidInputError(
                f"{source} holds {what} at position {position} (of {len(key)}): an API key is printable ASCII "
                "with no inner spaces; check that the whole key and nothing else was pasted"
            )
    if len(key) >= _MIN_REMEMBERED:
        with _lock:
            _known_keys.add(key)
    return SecretStr(key)


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
