"""Replays of the real historical series: bars turned into ticks, paced by `speed`.

`speed` is the acceleration factor: 1 replays in real time (an hourly bar's four ticks fifteen
minutes apart), 60 one hour per minute, 0 as fast as the outbox takes them. Ticks keep their
historical timestamps, so candles rebuilt from them line up with the source bars; a replay is
therefore refused (409) for a symbol that already holds newer ticks than the series' start,
since every tick would be rejected as out of order: replay into another symbol instead.
While the outbox is full a replay pauses (state `paused`) and its clock waits with it.
"""

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from app.core.bars import series_ticks
from app.core.pipeline import Pipeline, Tally, TooManyError
from app.core.series import load
from app.core.ticks import Tick

log = logging.getLogger("data-bridge.replays")

# Ticks handed to the pipeline at once when nothing paces them.
CHUNK = 500


@dataclass(frozen=True)
class TickArrays:
    """A replay's ticks as arrays (a few bytes per tick); Tick objects are made per chunk."""

    symbol: str
    times: np.ndarray
    prices: np.ndarray
    volumes: np.ndarray

    def slice(self, start: int, stop: int) -> list[Tick]:
        return [
            Tick(self.symbol, ts, price, volume)
            for ts, price, volume in zip(
                self.times[start:stop].tolist(),
                self.prices[start:stop].tolist(),
                self.volumes[start:stop].tolist(),
                strict=True,
            )
        ]


class ReplayConflictError(Exception):
    """The target symbol already has ticks newer than the replay would write."""


@dataclass
class Replay:
    replay_id: str
    series: str
    symbol: str
    speed: float
    ticks: int
    state: str = "running"
    emitted: int = 0
    tally: Tally = field(default_factory=Tally)
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    task: asyncio.Task | None = None

    @property
    def source(self) -> str:
        return f"replay:{self.replay_id}"


class ReplayManager:
    """Starts, tracks and stops replays."""

    def __init__(self, pipeline: Pipeline, max_running: int) -> None:
        self.pipeline = pipeline
        self.max_running = max_running
        self.replays: dict[str, Replay] = {}

    def running(self) -> int:
        return sum(1 for replay in self.replays.values() if replay.state in ("running", "paused"))

    def start(
        self, series_name: str, symbol: str | None, speed: float, limit: int | None
    ) -> Replay:
        """Start a replay (UnknownSeriesError, ValueError, ReplayConflictError, TooManyError)."""
        if self.running() >= self.max_running:
            raise TooManyError(f"at most {self.max_running} replays may run at once")
        series = load(series_name)
        times, prices, volumes = series_ticks(series, limit)
        target = self.pipeline.registry.declare([symbol or series.name])[0]
        validator = self.pipeline.validator
        newest = validator.watermarks.get(target)
        if newest is not None and int(times[0]) < newest - validator.tolerance_ms:
            raise ReplayConflictError(
                f"{target} already holds ticks up to ts_ms={newest}, after this series starts; "
                "replay into another symbol"
            )
        replay = Replay(uuid.uuid4().hex[:12], series.name, target, speed, len(times))
        ticks = TickArrays(target, times, prices, volumes)
        replay.task = asyncio.create_task(self._run(replay, ticks), name=replay.source)
        self.replays[replay.replay_id] = replay
        self._forget_finished()
        return replay

    def _forget_finished(self, keep: int = 1000) -> None:
        finished = [r for r in self.replays.values() if r.state not in ("running", "paused")]
        for replay in finished[: max(0, len(finished) - keep)]:
            del self.replays[replay.replay_id]

    async def cancel(self, replay: Replay) -> None:
        if replay.task is not None and not replay.task.done():
            replay.task.cancel()
            await asyncio.gather(replay.task, return_exceptions=True)

    async def stop_all(self) -> None:
        for replay in list(self.replays.values()):
            await self.cancel(replay)

    async def _run(self, replay: Replay, ticks: TickArrays) -> None:
        try:
            if replay.speed > 0:
                await self._paced(replay, ticks)
            else:
                for start in range(0, len(ticks.times), CHUNK):
                    await self._emit(replay, ticks.slice(start, start + CHUNK))
            replay.state = "done"
        except asyncio.CancelledError:
            replay.state = "cancelled"
            raise
        except Exception as exc:
            log.exception("replay %s failed", replay.replay_id)
            replay.state, replay.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            replay.finished_at = time.time()

    async def _paced(self, replay: Replay, ticks: TickArrays) -> None:
        """Emit each tick when its time comes, scaled by speed; pauses shift the clock."""
        times = ticks.times
        origin = int(times[0])
        clock = time.monotonic()
        index = 0
        while index < len(times):
            elapsed_ms = (time.monotonic() - clock) * 1000 * replay.speed
            due = int(np.searchsorted(times, origin + elapsed_ms, side="right"))
            due = min(due, index + CHUNK)
            if due <= index:
                await asyncio.sleep((int(times[index]) - origin - elapsed_ms) / 1000 / replay.speed)
                continue
            clock += await self._emit(replay, ticks.slice(index, due))
            index = due

    async def _emit(self, replay: Replay, ticks: list[Tick]) -> float:
        """Hand ticks to the pipeline after any backpressure; returns seconds paused."""
        pipeline = self.pipeline
        paused = 0.0
        if pipeline.outbox.full():
            replay.state = "paused"
            started = time.monotonic()
            await pipeline.outbox.wait_room()
            paused = time.monotonic() - started
            replay.state = "running"
        await pipeline.ingest_parsed(ticks, replay.source, replay.tally)
        replay.emitted += len(ticks)
        await asyncio.sleep(0)  # let requests and subscribers in between chunks
        return paused

    def public(self, replay: Replay) -> dict:
        return {
            "replay_id": replay.replay_id,
            "source": replay.source,
            "series": replay.series,
            "symbol": replay.symbol,
            "speed": replay.speed,
            "state": replay.state,
            "ticks": replay.ticks,
            "emitted": replay.emitted,
            **replay.tally.public(),
            "stored": self.pipeline.outbox.stored_by_source[replay.source],
            "error": replay.error,
            "started_at": replay.started_at,
            "finished_at": replay.finished_at,
        }
