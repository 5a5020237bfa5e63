"""Wire protocols: build request bodies and parse replies, one module per protocol. No I/O happens here."""

from .base import TextRequest, TextWireProtocol, load_reply
from .native_text import NativeTextProtocol
from .openai_compat import OpenAICompatProtocol

__all__ = [
    "TextRequest",
    "TextWireProtocol",
    "NativeTextProtocol",
    "OpenAICompatProtocol",
    "load_reply",
    "get_protocol",
]


def get_protocol(name: str) -> TextWireProtocol:
    """The text protocol for ``"dashscope"`` (native) or ``"openai"`` (compatible mode)."""
    if name == "openai":
        return OpenAICompatProtocol()
    return NativeTextProtocol()
