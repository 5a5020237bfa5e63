"""The cost report of a job: what a run did, its tokens, and what they cost at the catalog's list prices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["JobSummary", "cost_at", "format_money"]


def cost_at(tokens: int, price_per_million: float | None) -> float | None:
    """Cost of ``tokens`` at ``price_per_million`` (per million tokens), ``None`` when there is no price."""
    return None if price_per_million is None else tokens / 1e6 * price_per_million


def format_money(value: float | None, currency: str = "USD") -> str:
    """``$0.0123`` / ``CNY 0.0123``, or a note that the catalog has no price."""
    if value is None:
        return f"n/a (no {currency} list price in the catalog)"
    return f"${value:.4f}" if currency == "USD" else f"{currency} {value:.4f}"


@dataclass
class JobSummary:
    """What a run did.

    Attributes:
        output: the Parquet file.
        rows: rows in the output (the whole job).
        rows_this_run: rows embedded by this run (the rest came from earlier, interrupted runs).
        skipped_empty: empty rows left out (the whole job).
        requests: requests that succeeded in this run.
        tokens: tokens billed in this run (the service's ``usage.total_tokens``).
        job_tokens / job_requests: the same over every run of the job (requests lost in flight when a run was
            killed are not counted: their replies never arrived).
        seconds: wall time of this run.
        price_per_million_tokens / currency: the model's real-time list price in the currency of the region's price
            table (``ModelSpec.list_price``); ``None`` when the catalog has none.
        price_per_million_tokens_usd: the USD list price, used when ``currency`` is not set.
        already_complete: ``OUTPUT`` already held this job's result; nothing was done.
    """

    output: Path
    rows: int = 0
    rows_this_run: int = 0
    skipped_empty: int = 0
    requests: int = 0
    tokens: int = 0
    job_tokens: int = 0
    job_requests: int = 0
    seconds: float = 0.0
    price_per_million_tokens_usd: float | None = None
    already_complete: bool = False
    price_per_million_tokens: float | None = None
    currency: str | None = None

    @property
    def rows_per_second(self) -> float:
        """Rows embedded by this run per second of wall time."""
        return self.rows_this_run / self.seconds if self.seconds > 0 else 0.0

    def cost_usd(self, tokens: int | None = None) -> float | None:
        """Estimated cost in USD of ``tokens`` (default: this run's) at the USD list price."""
        return cost_at(self.tokens if tokens is None else tokens, self.price_per_million_tokens_usd)

    def cost(self, tokens: int | None = None) -> tuple[float | None, str]:
        """``(estimated cost, currency)`` of ``tokens`` (default: this run's) at the region's list price."""
        if self.currency is None:
            return self.cost_usd(tokens), "USD"
        return cost_at(self.tokens if tokens is None else tokens, self.price_per_million_tokens), self.currency

    def _wrote_line(self) -> str:
        """The first line of every job's summary: the output and its rows."""
        return f"wrote {self.output}: {self.rows} rows" + (
            f" ({self.skipped_empty} empty rows skipped)" if self.skipped_empty else ""
        )

    def _complete_lines(self) -> list[str]:
        return [f"{self.output} is already complete ({self.rows} rows); nothing to do"]

    def lines(self) -> list[str]:
        """The human-readable summary."""
        if self.already_complete:
            return self._complete_lines()
        out = [
            self._wrote_line(),
            f"this run: {self.rows_this_run} rows, {self.requests} requests, {self.tokens} tokens, "
            f"est. cost {format_money(*self.cost())}, {self.seconds:.1f} s, {self.rows_per_second:.1f} rows/s",
        ]
        if self.job_tokens != self.tokens:
            out.append(
                f"whole job (all runs): {self.job_requests} requests, {self.job_tokens} tokens, "
                f"est. cost {format_money(*self.cost(self.job_tokens))}"
            )
        return out
