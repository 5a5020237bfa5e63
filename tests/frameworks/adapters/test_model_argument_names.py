"""Each framework's name for the model argument: passing the other one says which name this class uses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError


@pytest.mark.parametrize("cls_path, wrong, right, framework", [
    ("llama_index_dashscope_embed:DashScopeEmbedding", "model", "model_name", "LlamaIndex"),
    ("llama_index_dashscope_embed:DashScopeSparseEmbedding", "model", "model_name", "LlamaIndex"),
    ("langchain_dashscope_embed:DashScopeEmbeddings", "model_name", "model", "LangChain"),
    ("langchain_dashscope_embed:DashScopeSparseEmbeddings", "model_name", "model", "LangChain"),
])
def test_the_other_frameworks_model_name_is_explained(cls_path, wrong, right, framework):
    import importlib

    module, name = cls_path.split(":")
    cls = getattr(importlib.import_module(module), name)
    with pytest.raises(ValidationError) as info:
        cls(**{wrong: "text-embedding-v3"}, api_key="sk-test")
    message = str(info.value)
    assert f"{name} takes the model as {right}= ({framework}'s name for it), not {wrong}=" in message
    assert f"pass {right}='text-embedding-v3'" in message
    assert cls(**{right: "text-embedding-v3"}, api_key="sk-test").engine.model == "text-embedding-v3"
