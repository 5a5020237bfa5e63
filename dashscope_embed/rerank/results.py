"""What a rerank call returns: one ``RerankItem`` per ranked document, and the call's usage and cost."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..results import Usage

__all__ = ["RerankItem", "RerankResult"]


@dataclass(frozen=True)
class RerankItem:
    """One ranked document.

    Attributes:
        index: the document's position in the list given to ``rerank`` (0-based).
        relevance_score: the model's score for the (query, document) pair, higher is more relevant (qwen3-rerank
            and gte-rerank-v2 score in ``[0, 1]``). Scores are per pair, so they compare across requests.
        document: the document's text when ``return_documents=True`` was asked for, else ``None``.
    """

    index: int
    relevance_score: float
    document: str | None = None

    def to_dict(self) -> dict[str, object]:
        """``{"index", "relevance_score"}`` (plus ``"document": {"text"}`` when set), the shape of a reply item."""
        out: dict[str, object] = {"index": self.index, "relevance_score": self.relevance_score}
        if self.document is not None:
            out["document"] = {"text": self.document}
        return out


@dataclass
class RerankResult:
    """The ranking of one ``rerank`` call: items by ``relevance_score``, descending (ties: lower index first),
    at most ``top_n`` of them. Iterating, indexing and ``len`` go over ``items``.

    Attributes:
        items: the ranked documents.
        usage: tokens billed (the replies' ``usage.total_tokens`` summed) and requests sent successfully.
        request_ids: the service's ``request_id`` of every request, in request order.
        model: the rerank model.
        price_per_million_tokens_cny: the model's list price (from the rerank catalog), ``None`` when unknown.
    """

    items: list[RerankItem]
    usage: Usage = field(default_factory=Usage)
    request_ids: list[str] = field(default_factory=list)
    model: str = ""
    price_per_million_tokens_cny: float | None = None

    @property
    def cost_cny(self) -> float | None:
        """What the call cost at the list price, in CNY (``None`` when the catalog has no price)."""
        price = self.price_per_million_tokens_cny
        return None if price is None else self.usage.total_tokens / 1e6 * price

    @property
    def indices(self) -> list[int]:
        """The ranked documents' indices, best first."""
        return [item.index for item in self.items]

    @property
    def scores(self) -> list[float]:
        """The ranked documents' relevance scores, best first."""
        return [item.relevance_score for item in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[RerankItem]:
        return iter(self.items)

    def __getitem__(self, position: int) -> RerankItem:
        return self.items[position]
