"""Hybrid (dense + sparse) retrieval without paying twice.

text-embedding-v3/v4 return a dense and a sparse vector for the same text in one request
(``parameters.output_type="dense&sparse"``). Vector stores ask for the two halves separately: LlamaIndex embeds the
nodes (dense), then ``QdrantVectorStore`` calls its ``sparse_doc_fn`` on the same texts; langchain-qdrant calls
``embeddings.embed_documents`` and then ``sparse_embeddings.embed_documents``. Asked naively, that is two billed
requests per framework batch.

``HybridEmbedder.dense`` asks for ``dense&sparse`` and keeps the sparse halves in a ``SparseCache``;
``HybridEmbedder.sparse`` answers from that cache and sends a ``output_type="sparse"`` request only for the texts it
has not seen. Every adapter uses the process-wide ``default_sparse_cache()``, so a dense model configured with
``output_type="dense&sparse"`` and a sparse model built separately (same model, same service) share vectors with no
wiring.

Cache keys are ``(service root, model, text_type, instruct, text)``: the sparse vector depends on the text, the
model, and the query/document side (plus the query instruction), not on the dense ``dimension`` or the workspace.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

from .engine import DashScopeEmbedder, validate_texts
from .errors import InvalidInputError
from .lru import LRUCache
from .results import EmbeddingResult, SparseEmbedding, Usage

__all__ = ["SparseCache", "HybridEmbedder", "default_sparse_cache", "sparse_cache_key"]

TextType = Literal["query", "document"]

# VectorStoreIndex embeds up to 2048 nodes (its insert_batch_size) before handing them to the vector store, whose
# sparse function then reads them back; the bound must hold a whole such group or the reads miss and pay again.
# Twice that leaves room for queries and a second index built alongside. Entries drop the token texts, so one entry
# is a few kilobytes even for long chunks.
DEFAULT_MAX_ENTRIES = 4096


class SparseCache(LRUCache[SparseEmbedding]):
    """A bounded, thread-safe LRU map from ``sparse_cache_key(...)`` to ``SparseEmbedding``.

    Stored vectors keep ``indices`` and ``values`` only (``tokens`` is dropped to bound memory), so a vector read
    from the cache has ``tokens == ()``.

    Args:
        max_entries: how many vectors to keep (>= 1); the least recently used go first.

    Attributes:
        hits / misses: lookups answered / not answered since creation or ``clear()``.

    Raises:
        InvalidInputError: ``max_entries`` < 1.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        super().__init__(max_entries)

    def put_many(self, keys: Sequence[Hashable], vectors: Sequence[SparseEmbedding]) -> None:  # type: ignore[override]  # aligned keys and vectors, not LRUCache's pairs
        """Store ``vectors[i]`` under ``keys[i]``, evicting the least recently used beyond ``max_entries``."""
        super().put_many(
            (key, SparseEmbedding(vec.indices, vec.values)) for key, vec in zip(keys, vectors, strict=True)
        )


_default_cache = SparseCache()


def default_sparse_cache() -> SparseCache:
    """The process-wide cache every adapter shares (``SparseCache`` with ``DEFAULT_MAX_ENTRIES`` entries)."""
    return _default_cache


def sparse_cache_key(
    engine: DashScopeEmbedder, text_type: TextType, text: str, instruct: str | None = None
) -> tuple[str, str, str, str | None, str]:
    """The cache key of ``text`` embedded by ``engine`` on the ``text_type`` side.

    ``instruct`` is the call's instruction; on the query side the engine's own ``instruct`` applies when it is
    ``None`` (as on the wire), and on the document side no instruction is ever sent.
    """
    instruct = (instruct if instruct is not None else engine.instruct) if text_type == "query" else None
    return (engine.settings.root, engine.model, text_type, instruct, text)


class HybridEmbedder:
    """Dense and sparse vectors of the same texts for the price of one request per framework batch.

    Args:
        engine: a ``DashScopeEmbedder`` for a model with sparse output (text-embedding-v3/v4, native protocol).
        cache: where sparse vectors wait to be read (default: ``default_sparse_cache()``).

    Raises:
        InvalidInputError: the engine's model or protocol cannot return sparse vectors.
    """

    def __init__(self, engine: DashScopeEmbedder, cache: SparseCache | None = None) -> None:
        if not engine.spec.sparse:
            raise InvalidInputError(
                f"{engine.model} has no sparse output; hybrid retrieval needs text-embedding-v3 or text-embedding-v4"
            )
        if engine.protocol != "dashscope":
            raise InvalidInputError("sparse vectors need protocol='dashscope' (the compatible mode is dense only)")
        self.engine = engine
        self.cache = cache if cache is not None else default_sparse_cache()

    def _keys(self, texts: Sequence[str], text_type: TextType, instruct: str | None) -> list[tuple]:
        return [sparse_cache_key(self.engine, text_type, t, instruct) for t in texts]

    # ------------------------------------------------------------------ dense side (fills the cache)

    def dense(
        self, texts: Sequence[str], *, text_type: TextType = "document", instruct: str | None = None
    ) -> EmbeddingResult:
        """Embed with ``output_type="dense&sparse"``; keep the sparse halves for ``sparse``.

        Returns:
            ``EmbeddingResult`` with ``dense`` ``(n, d)`` float32 and ``sparse`` (n vectors).

        Raises:
            InvalidInputError: bad texts or parameters. APIError: a request failed after its retries.
        """
        items = validate_texts(texts)
        result = self.engine.embed(items, text_type=text_type, output_type="dense&sparse", instruct=instruct)
        self.cache.put_many(self._keys(items, text_type, instruct), result.sparse or [])
        return result

    async def adense(
        self, texts: Sequence[str], *, text_type: TextType = "document", instruct: str | None = None
    ) -> EmbeddingResult:
        """Async ``dense``."""
        items = validate_texts(texts)
        result = await self.engine.aembed(items, text_type=text_type, output_type="dense&sparse", instruct=instruct)
        self.cache.put_many(self._keys(items, text_type, instruct), result.sparse or [])
        return result

    # ------------------------------------------------------------------ sparse side (reads the cache)

    def _lookup(
        self, texts: Sequence[str], text_type: TextType, instruct: str | None
    ) -> tuple[list[str], list[SparseEmbedding | None], list[str]]:
        items = validate_texts(texts)
        found = self.cache.get_many(self._keys(items, text_type, instruct))
        # each distinct text once
        missing = list(dict.fromkeys(t for t, v in zip(items, found, strict=True) if v is None))
        return items, found, missing

    def _merge(
        self,
        items: list[str],
        found: list[SparseEmbedding | None],
        missing: list[str],
        fetched: EmbeddingResult | None,
        text_type: TextType,
        instruct: str | None,
    ) -> EmbeddingResult:
        usage, request_ids = Usage(), []
        fresh: dict[str, SparseEmbedding] = {}
        if fetched is not None:
            fresh = dict(zip(missing, fetched.sparse or [], strict=True))
            self.cache.put_many(self._keys(missing, text_type, instruct), fetched.sparse or [])
            usage, request_ids = fetched.usage, fetched.request_ids
        # every text the cache lacked is in ``missing``, so ``fresh`` holds it
        sparse = [v if v is not None else fresh[t] for t, v in zip(items, found, strict=True)]
        return EmbeddingResult(dense=None, sparse=sparse, usage=usage, request_ids=request_ids, model=self.engine.model)

    def sparse(
        self, texts: Sequence[str], *, text_type: TextType = "document", instruct: str | None = None
    ) -> EmbeddingResult:
        """Sparse vectors of ``texts``: from the cache where a ``dense`` call left them, fetched otherwise.

        Only the texts not in the cache are sent (each distinct text once, ``output_type="sparse"``).

        Returns:
            ``EmbeddingResult`` with ``dense=None`` and ``sparse`` (n vectors in input order); ``usage`` counts
            only the requests this call sent (zero when everything was cached).

        Raises:
            InvalidInputError: bad texts. APIError: a request failed after its retries.
        """
        items, found, missing = self._lookup(texts, text_type, instruct)
        fetched = None
        if missing:
            fetched = self.engine.embed(missing, text_type=text_type, output_type="sparse", instruct=instruct)
        return self._merge(items, found, missing, fetched, text_type, instruct)

    async def asparse(
        self, texts: Sequence[str], *, text_type: TextType = "document", instruct: str | None = None
    ) -> EmbeddingResult:
        """Async ``sparse``."""
        items, found, missing = self._lookup(texts, text_type, instruct)
        fetched = None
        if missing:
            fetched = await self.engine.aembed(missing, text_type=text_type, output_type="sparse", instruct=instruct)
        return self._merge(items, found, missing, fetched, text_type, instruct)

    def __repr__(self) -> str:
        return f"HybridEmbedder(engine={self.engine!r}, cache={self.cache!r})"
