"""Fault injection: SIGKILL one component under bounded load, let it come back, and count.

Each fault runs a bounded load through the gateway (tick posts, a replay, registrations),
kills one container's main process with SIGKILL in the middle of it (what an OOM kill or a
crash does: no shutdown hook runs), waits until the container's restart policy has it healthy
again, and then asks the stores themselves (ClickHouse `count()`, PostgreSQL rows) what they
hold. Every acknowledged item must be there exactly once: `lost` and `duplicated` must be 0.
Requests refused or failed during the outage are counted, not retried: they were never
acknowledged, so the caller knows to send them again.

Everything goes to 127.0.0.1 (the gateway) or into the project's own containers, and every
load is bounded in requests and seconds.

The package: `load` (the outcome, the tick load, the kill and the wait), `faults` (each fault
and FAULTS), `cli` (`python -m toolkit.chaos`: the run, its table and results).
"""

from toolkit.chaos.cli import main, render_table
from toolkit.chaos.faults import FAULTS
from toolkit.chaos.load import RANGE_MS, Outcome, TickLoad

__all__ = ["FAULTS", "RANGE_MS", "Outcome", "TickLoad", "main", "render_table"]
