"""The cost report of a remote job: tokens at the Batch File API (or async task) price beside the real-time price.

The coordinator fills the same fields for every job kind: ``batches`` counts the remote objects this run created
(batches of a Batch File API job; an async task job's tasks), ``batch_tokens`` the tokens collected from them at
the remote price. A job kind words its own summary by subclassing ``BatchSummary`` and overriding ``lines``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..jobs.cost import JobSummary, cost_at, format_money

__all__ = ["BatchSummary"]


@dataclass
class BatchSummary(JobSummary):
    """What a Batch File API run did, and its cost at the batch price beside the real-time price (CNY, China
    (Beijing) list prices from the catalog).

    Attributes (beyond ``JobSummary``; ``requests`` counts lines):
        batches: batches this run created on the service, each counted once: one whose creation reply was lost
            and that was then found by its ``ds_name`` counts once; one an earlier (killed) run created and this
            run only found is not counted.
        batch_tokens: tokens of lines collected from batches by this run.
        fallback_rows / fallback_tokens: rows embedded through the real-time API by this run, and their tokens.
        batch_price_per_million_tokens_cny / price_per_million_tokens_cny: the two prices.
    """

    batches: int = 0
    batch_tokens: int = 0
    fallback_rows: int = 0
    fallback_tokens: int = 0
    batch_price_per_million_tokens_cny: float | None = None
    price_per_million_tokens_cny: float | None = None

    def cost_cny(self) -> float | None:
        """This run's cost: batch tokens at the batch price plus fallback tokens at the real-time price."""
        batch = cost_at(self.batch_tokens, self.batch_price_per_million_tokens_cny)
        realtime = cost_at(self.fallback_tokens, self.price_per_million_tokens_cny)
        return None if batch is None or (self.fallback_tokens and realtime is None) else batch + (realtime or 0.0)

    def realtime_cost_cny(self) -> float | None:
        """What the same tokens would cost through the real-time API."""
        return cost_at(self.batch_tokens + self.fallback_tokens, self.price_per_million_tokens_cny)

    def lines(self) -> list[str]:
        """The human-readable summary."""
        if self.already_complete:
            return self._complete_lines()
        out = [
            self._wrote_line(),
            f"this run: {self.rows_this_run} rows collected, {self.batches} batches created, {self.requests} lines, "
            f"{self.tokens} tokens, {self.seconds:.1f} s",
            f"cost: {format_money(self.cost_cny(), 'CNY')} at the Batch API price "
            f"(real-time price: {format_money(self.realtime_cost_cny(), 'CNY')})",
        ]
        if self.fallback_rows:
            out.append(f"real-time fallback: {self.fallback_rows} rows, {self.fallback_tokens} tokens")
        if self.job_tokens != self.tokens:
            out.append(f"whole job (all runs): {self.job_requests} lines/requests, {self.job_tokens} tokens")
        return out
