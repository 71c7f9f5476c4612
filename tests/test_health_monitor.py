"""servicekit.health: checks run in the background, /health answers from the last round.

The checker is driven by rounds (HealthMonitor.next_round) and a clock the test holds, never by
sleeping on the wall clock: a dependency that goes down shows within two rounds, a round that
is too old is not served as healthy, and any number of readers cost no dependency call.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from servicekit.app import create_app
from servicekit.health import HealthMonitor, health_router
from servicekit.settings import ServiceSettings


class Dependency:
    """A backend a check asks: counts the calls, answers up or down as the test says."""

    def __init__(self) -> None:
        self.calls = 0
        self.up = True

    async def check(self) -> None:
        self.calls += 1
        if not self.up:
            raise ConnectionError("connection refused")


class Stubborn:
    """A check that hangs and swallows its cancellation (a stuck driver) until released."""

    def __init__(self) -> None:
        self.released = asyncio.Event()

    async def check(self) -> None:
        while not self.released.is_set():
            try:
                await self.released.wait()
            except asyncio.CancelledError:
                continue


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(test: Callable[[], Awaitable[None]], limit: float = 30) -> None:
    """Run `test` in an event loop of its own thread: a hang (a stuck check swallows even the
    cancellation of a timeout) fails the test instead of stalling the suite."""
    failure: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(test())
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(f"hung for {limit:g}s")
    if failure:
        raise failure[0]


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running (the health checker inside it), and a client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


@asynccontextmanager
async def watching(monitor: HealthMonitor) -> AsyncIterator[httpx.AsyncClient]:
    """`monitor` running behind nothing but its health routes, and a client."""
    app = FastAPI()
    app.include_router(health_router(monitor))
    transport = httpx.ASGITransport(app=app)
    async with (
        monitor.running(),
        httpx.AsyncClient(transport=transport, base_url="http://service") as client,
    ):
        yield client


def service(checks, critical=None, **settings) -> FastAPI:
    return create_app(
        ServiceSettings(service_name="svc", environment="test", **settings),
        health_checks=checks,
        critical=critical,
        internal=False,
    )


def test_a_dependency_that_goes_down_is_reported_within_two_rounds():
    async def test() -> None:
        db = Dependency()
        app = service({"db": db.check}, health_interval=0.01)
        monitor: HealthMonitor = app.state.health
        async with serving(app) as client:
            await monitor.next_round()
            first = await client.get("/health")
            assert first.status_code == 200, first.text
            assert first.json()["status"] == "ok"
            assert first.json()["checks"]["db"]["status"] == "ok"

            db.up = False
            # The round under way may have asked before the fall; the one after it has not.
            for _ in range(2):
                await monitor.next_round()
                answer = await client.get("/health")
                if answer.status_code == 503:
                    break
            assert answer.status_code == 503, answer.text
            report = answer.json()
            assert report["status"] == "down"
            assert report["checks"]["db"]["detail"] == "ConnectionError: connection refused"

            db.up = True
            for _ in range(2):
                await monitor.next_round()
                answer = await client.get("/health")
                if answer.status_code == 200:
                    break
            assert answer.json()["status"] == "ok"

    run(test)


def test_the_report_says_when_it_was_checked_and_how_long_ago():
    async def test() -> None:
        clock = Clock()
        monitor = HealthMonitor("svc", {"db": Dependency().check}, interval=5, clock=clock)
        async with watching(monitor) as client:
            round_ = await monitor.next_round()
            clock.now += 1.25
            report = (await client.get("/health")).json()
        assert report["checked_at"] == round_.checked_at
        assert report["checked_at"].endswith("+00:00")
        assert report["age_s"] == 1.25
        assert report["detail"] is None

    run(test)


def test_a_stale_round_is_not_served_as_healthy():
    async def test() -> None:
        clock = Clock()
        db, stuck = Dependency(), Stubborn()
        checks = {"db": db.check}
        monitor = HealthMonitor("svc", checks, interval=1, timeout=0.05, clock=clock)
        async with watching(monitor) as client:
            await monitor.next_round()
            assert (await client.get("/health")).status_code == 200
            checks["db"] = stuck.check  # the next round never ends: the checker is stuck
            monitor.checks = checks
            clock.now += monitor.stale_after  # exactly at the limit: still served
            assert (await client.get("/health")).status_code == 200
            clock.now += 0.01
            answer = await client.get("/health")
            stuck.released.set()
        assert answer.status_code == 503, answer.text
        report = answer.json()
        assert report["status"] == "down"
        assert report["detail"].startswith("stale: the last health checks ended")
        assert report["age_s"] > monitor.stale_after
        assert report["checks"]["db"]["status"] == "ok"  # what the last round saw, as it was

    run(test)


def test_concurrent_readers_cause_no_extra_dependency_calls():
    async def test() -> None:
        db = Dependency()
        gate = asyncio.Event()

        async def slow_first_answer() -> None:
            await gate.wait()
            await db.check()

        # One round at start, the next an hour later: every call is the checker's.
        app = service({"db": slow_first_answer}, health_interval=3600)
        async with serving(app) as client:
            # Half of the readers arrive before the first round ends: they wait for it.
            early = [asyncio.create_task(client.get("/health")) for _ in range(50)]
            await asyncio.sleep(0)
            gate.set()
            answers = await asyncio.gather(*early)
            answers += await asyncio.gather(*(client.get("/health") for _ in range(50)))
        assert db.calls == 1
        assert {a.status_code for a in answers} == {200}
        assert len({a.json()["checked_at"] for a in answers}) == 1

    run(test)


def test_the_first_reader_gets_the_first_round_even_when_it_ends_at_once():
    async def test() -> None:
        # No checks: the first round ends without yielding to the loop, before the reader
        # waits. The next round is an hour away and the wait for the first bounded by a
        # minute: a reader that missed the first would hang here (run() fails it at 30 s).
        monitor = HealthMonitor("svc", {}, interval=3600, timeout=60)
        async with watching(monitor) as client:
            answer = await client.get("/health")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "ok"

    run(test)


def test_before_the_first_round_it_answers_starting_not_ok():
    async def test() -> None:
        stuck = Stubborn()
        monitor = HealthMonitor("svc", {"db": stuck.check}, timeout=0.05)
        async with watching(monitor) as client:
            answer = await client.get("/health")
            live = await client.get("/health/live")
            stuck.released.set()
        assert answer.status_code == 503
        assert answer.json()["status"] == "starting"
        assert answer.json()["checks"] == {}
        assert answer.json()["checked_at"] is None
        assert live.status_code == 200 and live.json()["status"] == "alive"

    run(test)


def test_without_its_lifespan_the_app_says_its_checks_are_not_running():
    db = Dependency()
    client = TestClient(service({"db": db.check}))  # no `with`: no lifespan, no checker
    answer = client.get("/health")
    assert answer.status_code == 503
    assert "not running" in answer.json()["detail"]
    assert client.get("/health/live").status_code == 200
    assert db.calls == 0


def test_checks_run_inside_the_service_lifespan():
    events: list[str] = []
    db = Dependency()

    async def check() -> None:
        assert events == ["opened"], events  # the backends are open while checks run
        await db.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("opened")
        yield
        events.append("closed")

    app = create_app(
        ServiceSettings(service_name="svc", environment="test"),
        health_checks={"db": check},
        lifespan=lifespan,
        internal=False,
    )
    with TestClient(app) as client:
        assert client.get("/health").json()["status"] == "ok"
        assert client.get("/health").json()["checks"]["db"]["status"] == "ok"
    calls = db.calls
    assert events == ["opened", "closed"]
    assert app.state.health.latest is not None and calls >= 1


def test_extra_joins_the_report_but_may_not_replace_its_fields():
    async def test() -> None:
        settings = ServiceSettings(service_name="svc", environment="test")
        for extra, expected in (
            (lambda: {"models": {"active": 3}}, 200),
            (lambda: {"age_s": 0}, 500),
        ):
            app = create_app(settings, health_extra=extra, internal=False)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
                    answer = await client.get("/health")
            assert answer.status_code == expected
            if expected == 200:
                assert answer.json()["models"] == {"active": 3}
                assert answer.json()["status"] == "ok" and answer.json()["checks"] == {}

    run(test)


def test_the_interval_must_be_positive():
    with pytest.raises(ValueError):
        HealthMonitor("svc", {}, interval=0)
    with pytest.raises(ValueError):
        ServiceSettings(service_name="svc", environment="test", health_interval=0)
