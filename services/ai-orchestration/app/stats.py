"""Counters of this process's workflows and the latency of recent ones (GET /stats).

In memory, like the limiter: the service runs one worker, so these are the whole service's.
"""

import math
from collections import deque
from dataclasses import dataclass, field

# Recent runs kept per kind for the percentiles.
WINDOW = 500


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)


@dataclass
class WorkflowStats:
    """What happened to the workflows this process answered."""

    completed: int = 0
    partial: int = 0
    failed: int = 0
    rejected: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    _cached_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    _uncached_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))

    def record(self, status: str, cached: bool, total_ms: float) -> None:
        """A workflow answered 200: `status` is complete or partial."""
        if status == "partial":
            self.partial += 1
        else:
            self.completed += 1
        (self._cached_ms if cached else self._uncached_ms).append(total_ms)

    def snapshot(self) -> dict:
        lookups = self.cache_hits + self.cache_misses
        cached, uncached = list(self._cached_ms), list(self._uncached_ms)
        return {
            "completed": self.completed,
            "partial": self.partial,
            "failed": self.failed,
            "rejected": self.rejected,
            "cache": {
                "hits": self.cache_hits,
                "misses": self.cache_misses,
                "hit_rate": round(self.cache_hits / lookups, 4) if lookups else 0.0,
            },
            "latency_ms": {
                "cached": {
                    "runs": len(cached),
                    "p50": percentile(cached, 50),
                    "p95": percentile(cached, 95),
                },
                "uncached": {
                    "runs": len(uncached),
                    "p50": percentile(uncached, 50),
                    "p95": percentile(uncached, 95),
                },
            },
        }
