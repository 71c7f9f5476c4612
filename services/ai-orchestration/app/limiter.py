"""At most N workflows at once, a bounded FIFO queue behind them, and a refusal beyond it.

A slot that ends is handed straight to the oldest waiter (the running count does not dip), so
nobody who arrives later can overtake the queue. The refusal carries an estimate of when a
slot will be free, from how long recent workflows held theirs.
"""

import asyncio
import math
import statistics
import time
from collections import deque
from dataclasses import dataclass


class QueueFull(Exception):
    """Every slot is busy and the queue is full: try again after `retry_after` seconds."""

    def __init__(self, retry_after: int, running: int, queued: int) -> None:
        super().__init__(
            f"{running} workflows are running and {queued} are waiting (the most this service "
            f"queues); try again in {retry_after} s"
        )
        self.retry_after = retry_after


@dataclass
class Slot:
    """A held place among the running workflows; give it back with WorkflowLimiter.release."""

    acquired_at: float
    waited_s: float
    released: bool = False


class WorkflowLimiter:
    """The running count, the waiters in arrival order and the recent hold times."""

    def __init__(self, max_running: int, queue_limit: int, prior_seconds: float = 5.0) -> None:
        self.max_running = max_running
        self.queue_limit = queue_limit
        self.running = 0
        self.max_running_seen = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Seconds recent workflows held a slot; before any finished, `prior_seconds` stands in.
        self._held: deque[float] = deque(maxlen=50)
        self._prior = prior_seconds

    @property
    def queued(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    def retry_after(self) -> int:
        """Seconds until a place in the queue is likely free: the queue ahead, worked off by
        every slot at the recent median hold time."""
        typical = statistics.median(self._held) if self._held else self._prior
        ahead = self.queued + 1
        return max(1, math.ceil(typical * ahead / self.max_running))

    async def acquire(self) -> Slot:
        """Take a slot now, or wait for one in the queue; QueueFull when the queue is full."""
        arrived = time.monotonic()
        if self.running < self.max_running and not self.queued:
            self._take()
            return Slot(acquired_at=arrived, waited_s=0.0)
        if self.queued >= self.queue_limit:
            raise QueueFull(self.retry_after(), self.running, self.queued)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # The slot was handed over just as the caller went away: pass it on.
                self._hand_over()
            else:
                self._waiters.remove(waiter)
            raise
        now = time.monotonic()
        return Slot(acquired_at=now, waited_s=now - arrived)

    def release(self, slot: Slot) -> None:
        """Give a slot back (once; later calls do nothing) and remember how long it was held."""
        if slot.released:
            return
        slot.released = True
        self._held.append(time.monotonic() - slot.acquired_at)
        self._hand_over()

    def _take(self) -> None:
        self.running += 1
        self.max_running_seen = max(self.max_running_seen, self.running)

    def _hand_over(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: `running` stays the same
                return
        self.running -= 1
