"""The prediction cache: a bounded, thread-safe LRU keyed on (model version, exact features).

A key holds the version, so promoting another version never serves a stale answer: its
requests simply miss until they have been seen under the new version. Values are compared
exactly (float equality), so only a request repeated bit for bit is a hit.
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable


class PredictionCache:
    """Least recently used entries go first once `capacity` is reached; 0 turns it off."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, float] = OrderedDict()
        # Single-row requests run on the event loop, batches in the pool: both reach here.
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> float | None:
        """The cached probability, or None (counted as a miss)."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: float) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def get_many(self, keys: list[Hashable]) -> list[float | None]:
        """`get` for each key under one lock acquisition (a batch)."""
        found: list[float | None] = []
        with self._lock:
            for key in keys:
                value = self._entries.get(key)
                if value is not None:
                    self._entries.move_to_end(key)
                found.append(value)
            hits = sum(value is not None for value in found)
            self.hits += hits
            self.misses += len(keys) - hits
        return found

    def put_many(self, items: list[tuple[Hashable, float]]) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            for key, value in items:
                self._entries[key] = value
                self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def stats(self) -> dict:
        with self._lock:
            lookups = self.hits + self.misses
            return {
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": self.hits / lookups if lookups else 0.0,
                "size": len(self._entries),
                "capacity": self.capacity,
            }
