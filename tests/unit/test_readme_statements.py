"""What the README promises about keys, Ctrl-C and caching is written there, and its error example is real."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashscope_embed import InvalidInputError
from dashscope_embed.base import validate_texts

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n#", start + len(title))
    return README[start:end]


def test_readme_states_what_a_key_may_contain():
    text = _section("### What a key may contain")
    for promise in ("printable ASCII", "Surrounding whitespace", "stripped", "refused when the object is built",
                    "never the key itself"):
        assert promise in text


def test_readme_states_what_ctrl_c_does():
    text = _section("### Ctrl-C and cancellation")
    for promise in ("KeyboardInterrupt", "cancels every", "`max_concurrency` requests already in flight", "aembed",
                    "rerun the same command to resume"):
        assert promise in text


def test_readme_says_cache_backed_embeddings_needs_langchain_classic():
    text = _section("## Caching embeddings")
    assert "pip install langchain-classic" in text
    assert text.index("pip install langchain-classic") < text.index("from langchain_classic")


def test_readme_error_example_is_what_the_engine_says():
    line = next(x for x in README.splitlines() if x.startswith("InvalidInputError: 2 of 5 texts"))
    with pytest.raises(InvalidInputError) as info:
        validate_texts(["a", "", "b", None, "c"])
    assert line == f"InvalidInputError: {info.value}"
