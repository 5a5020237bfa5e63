"""The progress bar of a remote job: rows collected out of the non-empty rows, with its remote objects' states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .collect import done_mask
from .state import JobState

__all__ = ["Progress"]


class Progress:
    """A tqdm bar when ``enabled`` (tqdm is imported only then); every method is a no-op otherwise."""

    def __init__(self, enabled: bool, desc: str = "rows collected") -> None:
        self.enabled = enabled
        self.desc = desc
        self._bar: Any = None

    def open(self, state: JobState, work: Path, kept_rows: int) -> None:
        """Start at the rows already journaled (a resumed job) out of ``kept_rows``."""
        if not self.enabled:
            return
        from tqdm import tqdm

        done = sum(int(done_mask(shard, work, state.chunk_size).sum()) for shard in state.shards)
        self._bar = tqdm(total=kept_rows, initial=done, unit="row", desc=self.desc, dynamic_ncols=True)

    def update(self, rows: int) -> None:
        """``rows`` more collected."""
        if self._bar is not None:
            self._bar.update(rows)

    def show_states(self, state: JobState) -> None:
        """Counts of attempts by last seen status, as the bar's postfix."""
        if self._bar is None:
            return
        counts: dict[str, int] = {}
        for shard in state.shards:
            for attempt in shard.attempts:
                counts[attempt.status or "new"] = counts.get(attempt.status or "new", 0) + 1
        self._bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))

    def close(self) -> None:
        """Close the bar (again is harmless)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
