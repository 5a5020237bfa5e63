"""API keys as the package accepts them: surrounding whitespace stripped; empty or non-printable-ASCII keys refused,
since an HTTP header can carry only visible ASCII (RFC 9110 section 5.5); every accepted key remembered by
``redaction`` so that no message shows it.
"""

from __future__ import annotations

from pydantic import SecretStr

from .errors import InvalidInputError
from .redaction import remember_key

__all__ = ["clean_api_key"]


def clean_api_key(value: object, *, source: str = "api_key") -> SecretStr | None:
    """The key with surrounding whitespace removed, as a ``SecretStr`` (``None`` stays ``None``).

    A pasted key or ``$(cat key.txt)`` often ends in a newline: it is stripped here, for keys from the environment,
    arguments and files alike. The message of a refusal never holds the key's text.

    Args:
        source: where the key came from (``api_key``, ``DASHSCOPE_API_KEY``), named in the error.

    Raises:
        InvalidInputError: the key is empty or whitespace only, or holds a character that is not printable ASCII
            (the first such position is named; DashScope keys are ``sk-`` followed by letters and digits).
    """
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
    remember_key(key)
    return SecretStr(key)
