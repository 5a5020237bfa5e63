"""Result types shared by the engine, the wire protocols and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InvalidInputError

__all__ = ["SparseEmbedding", "Usage", "EmbeddingResult", "RequestReply"]


@dataclass(frozen=True)
class SparseEmbedding:
    """One sparse vector as DashScope returns it (``output.embeddings[i].sparse_embedding``).

    Attributes:
        indices: Qwen token ids, ``(k,)``, unique, in the service's order.
        values: weights ``(k,)`` aligned with ``indices``.
        tokens: token texts aligned with ``indices`` (empty strings when the service sent none).
    """

    indices: tuple[int, ...]
    values: tuple[float, ...]
    tokens: tuple[str, ...] = ()

    def as_dict(self) -> dict[int, float]:
        """``{token_id: weight}``, the form LlamaIndex (``SparseEmbedding``) and Milvus use."""
        return dict(zip(self.indices, self.values, strict=True))

    def token_weights(self) -> dict[str, float]:
        """``{token_text: weight}`` for inspection (tokens that decode alike are summed)."""
        out: dict[str, float] = {}
        for token, value in zip(self.tokens, self.values, strict=False):  # tokens is () when the service sent none
            out[token] = out.get(token, 0.0) + value
        return out

    def __len__(self) -> int:
        return len(self.indices)


@dataclass
class Usage:
    """Token and request counts. ``total_tokens`` is the service's ``usage.total_tokens`` summed over requests."""

    total_tokens: int = 0
    requests: int = 0

    def add(self, total_tokens: int, requests: int = 1) -> None:
        """Count ``requests`` more requests that billed ``total_tokens`` tokens in all."""
        self.total_tokens += total_tokens
        self.requests += requests


@dataclass
class RequestReply:
    """The parsed reply to one request: its request rows' vectors, already in the request's input order.

    Attributes:
        dense: ``(k, d)`` float32, or ``None`` when only sparse vectors were asked for.
        sparse: ``k`` sparse vectors, or ``None`` when they were not asked for.
        total_tokens: the reply's ``usage.total_tokens``.
        request_id: the reply's ``request_id`` (native) or ``id`` (compatible mode).
        lists: the dense rows as the decoder's lists of Python floats (the values as sent, before the float32
            cast), kept only when the request asked for them (``TextRequest.keep_lists``); else ``None``.
    """

    dense: np.ndarray | None
    sparse: list[SparseEmbedding] | None
    total_tokens: int
    request_id: str | None
    lists: list[list[float]] | None = None


@dataclass
class EmbeddingResult:
    """The vectors of one engine call, in input order.

    Attributes:
        dense: ``(n, d)`` float32 array (``d`` = the requested dimension), or ``None`` for ``output_type="sparse"``.
        sparse: ``n`` sparse vectors, or ``None`` unless ``output_type`` includes sparse.
        usage: tokens billed (``usage.total_tokens`` summed) and requests that succeeded.
        request_ids: the ``request_id`` of every successful request, in completion order.
        model: the model that produced the vectors.
        lists: the dense vectors as decoded from the replies (Python floats), when the call asked to keep them;
            ``dense_lists`` returns them instead of converting ``dense``.
    """

    dense: np.ndarray | None
    sparse: list[SparseEmbedding] | None
    usage: Usage = field(default_factory=Usage)
    request_ids: list[str] = field(default_factory=list)
    model: str = ""
    lists: list[list[float]] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        if self.dense is not None:
            return int(self.dense.shape[0])
        return len(self.sparse or [])

    def dense_lists(self) -> list[list[float]]:
        """Dense vectors as ``list[list[float]]`` (what LlamaIndex and LangChain return).

        The decoder's own lists when the call kept them (no conversion: converting a ``(20000, 1024)`` matrix
        with ``tolist`` costs about a second of CPU); else ``dense.tolist()``.

        Raises:
            ValueError: no dense vectors were asked for.
        """
        if self.dense is None:
            raise InvalidInputError("this result holds no dense vectors (output_type='sparse')")
        if self.lists is not None:
            return self.lists
        return self.dense.tolist()


def __getattr__(name: str) -> object:
    # ``BatchReply`` was this class's name: "batch" now names only the Batch File API and async task jobs
    if name == "BatchReply":
        import warnings

        warnings.warn(
            "dashscope_embed.results.BatchReply is deprecated; use RequestReply", DeprecationWarning, stacklevel=2
        )
        return RequestReply
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
