"""The runtime benchmarks without Docker (bench_start, loadgen, bench_resources,
bench_inprocess): figures, bounds of the load, parsing of reports."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from toolkit import catalog, loadgen
from toolkit.bench.measure import http as http_measure
from toolkit.bench.measure import in_process as bench_inprocess
from toolkit.bench.measure import resources as bench_resources
from toolkit.bench.measure import start as bench_start
from toolkit.errors import ToolkitError

CORE = ["api-gateway", "user-service", "database-service"]


@pytest.fixture
def core() -> catalog.Catalog:
    return catalog.load()


def run(coro):
    return asyncio.run(coro)


# ---- figures ---------------------------------------------------------------------------------


def test_percentile_interpolates_between_neighbours() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert loadgen.percentile(values, 0) == 1.0
    assert loadgen.percentile(values, 50) == 3.0
    assert loadgen.percentile(values, 100) == 5.0
    assert loadgen.percentile(values, 95) == pytest.approx(4.8)
    assert loadgen.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        loadgen.percentile([], 50)


def test_tally_counts_non_2xx_and_exceptions_apart() -> None:
    tally = loadgen.Tally(ok_seconds=[0.001, 0.002, 0.003, 0.004])
    tally.statuses.update({200: 4, 429: 2, 503: 1})
    tally.exceptions.update({"ConnectError": 3})
    figures = tally.figures(seconds=2.0, concurrency=8)
    assert figures["p50_ms"] == pytest.approx(2.5)
    assert figures["p99_ms"] <= 4.0
    assert figures["requests"] == 10
    assert figures["ok"] == 4
    assert figures["non_2xx"] == 3
    assert figures["exceptions"] == 3
    assert figures["errors"] == 6
    assert figures["statuses"] == {"200": 4, "429": 2, "503": 1}
    assert figures["rps"] == 2.0
    assert figures["concurrency"] == 8


def test_tally_without_successes_has_no_percentiles() -> None:
    tally = loadgen.Tally()
    tally.statuses[500] = 3
    figures = tally.figures(seconds=1.0, concurrency=1)
    assert figures["p50_ms"] is None and figures["p99_ms"] is None
    assert figures["errors"] == 3 and figures["rps"] == 0.0


# ---- the rate budget -------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rate_budget_keeps_each_fixed_minute_window_within_its_share() -> None:
    clock = FakeClock(120.0 + 50)  # 10 s before a window ends
    budget = loadgen.RateBudget(3, clock=clock)
    assert [budget.reserve() for _ in range(3)] == [170.0, 170.0, 170.0]
    # The window is spent: the next request waits for the next window, and so on.
    assert budget.reserve() == 180.0
    assert budget.spent() == 3
    assert budget.spent(180.0) == 1
    clock.now = 185.0
    assert budget.reserve() == 185.0
    assert budget.reserve() == 185.0
    assert budget.reserve() == 240.0


def test_rate_budget_uses_the_catalogs_limit(core) -> None:
    assert loadgen.gateway_rate_limit(core) == 6000
    with pytest.raises(ValueError):
        loadgen.RateBudget(0)


# ---- HTTP load -------------------------------------------------------------------------------


def counting_transport(handler):
    calls = {"n": 0}

    async def wrapped(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return await handler(request)

    return httpx.MockTransport(wrapped), calls


def test_load_stops_at_its_request_bound() -> None:
    async def ok(request):
        return httpx.Response(200, json={"ok": True})

    transport, calls = counting_transport(ok)
    scenario = loadgen.Scenario("live", "GET", "/health/live", limited=False)
    figures = run(
        loadgen.http_load(
            scenario,
            concurrency=4,
            seconds=30,
            max_requests=50,
            warmup_seconds=5,
            warmup_requests=10,
            transport=transport,
        )
    )
    assert calls["n"] == 60  # 10 warm-up (not counted) + 50 measured
    assert figures["requests"] == 50 and figures["ok"] == 50 and figures["errors"] == 0
    assert figures["seconds"] < 30
    assert figures["p50_ms"] is not None


def test_load_stops_at_its_time_bound() -> None:
    async def slow(request):
        await asyncio.sleep(0.05)
        return httpx.Response(200)

    transport, _ = counting_transport(slow)
    scenario = loadgen.Scenario("slow", "GET", "/x", limited=False)
    began = time.monotonic()
    figures = run(
        loadgen.http_load(
            scenario,
            concurrency=2,
            seconds=0.5,
            max_requests=1_000_000,
            warmup_seconds=0,
            transport=transport,
        )
    )
    assert time.monotonic() - began < 3
    assert 4 <= figures["requests"] <= 2 * (0.5 / 0.05) + 2
    assert figures["p50_ms"] >= 50


def test_load_reports_statuses_and_exceptions_separately() -> None:
    count = {"n": 0}

    async def flaky(request):
        count["n"] += 1
        if count["n"] % 3 == 0:
            raise httpx.ConnectError("refused", request=request)
        if count["n"] % 3 == 1:
            return httpx.Response(429)
        return httpx.Response(200)

    scenario = loadgen.Scenario("flaky", "GET", "/x", limited=False)
    figures = run(
        loadgen.http_load(
            scenario,
            concurrency=1,
            seconds=10,
            max_requests=30,
            warmup_seconds=0,
            transport=httpx.MockTransport(flaky),
        )
    )
    assert figures["requests"] == 30
    assert figures["ok"] == 10
    assert figures["non_2xx"] == 10 and figures["statuses"]["429"] == 10
    assert figures["exceptions"] == 10 and figures["exception_types"] == {"ConnectError": 10}
    assert figures["errors"] == 20


def test_a_limited_scenario_draws_on_the_shared_budget() -> None:
    async def ok(request):
        return httpx.Response(200)

    transport, calls = counting_transport(ok)
    budget = loadgen.RateBudget(25)
    budget._windows[int(time.time() // 60)] = 5  # spent earlier in this window
    scenario = loadgen.Scenario("me", "GET", "/auth/me")
    figures = run(
        loadgen.http_load(
            scenario,
            concurrency=4,
            seconds=1.0,
            max_requests=1000,
            warmup_seconds=0,
            budget=budget,
            transport=transport,
        )
    )
    # 20 left in this window, unless the test straddles a minute boundary.
    assert 20 <= calls["n"] <= 45
    assert figures["rate_budget_per_minute"] == 25
    assert figures["stopped_by_rate_budget"] or calls["n"] > 20


def test_load_goes_to_loopback_only() -> None:
    scenario = loadgen.Scenario("x", "GET", "/", limited=False)
    for url in ("http://example.com:8000", "http://0.0.0.0:8000", "http://localhost:8000"):
        with pytest.raises(ToolkitError, match=r"127\.0\.0\.1"):
            run(loadgen.http_load(scenario, base_url=url))
    with pytest.raises(ToolkitError, match="positive"):
        run(loadgen.http_load(scenario, concurrency=0))


class FakeGateway:
    """Just enough of the gateway and user-service for the scenarios."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.logins = 0
        self.logouts: list[str] = []
        self.me = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        assert request.url.host == "127.0.0.1"
        if path == "/health/live":
            return httpx.Response(200, json={"status": "alive"})
        if path == "/auth/register":
            body = json.loads(request.content)
            if body["username"] in self.users:
                return httpx.Response(409)
            self.users[body["username"]] = body["password"]
            return httpx.Response(201, json={"username": body["username"]})
        if path == "/auth/login":
            body = json.loads(request.content)
            if self.users.get(body["username"]) != body["password"]:
                return httpx.Response(401)
            self.logins += 1
            return httpx.Response(200, json={"access_token": f"token-{self.logins}"})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not token.startswith("token-"):
            return httpx.Response(401)
        if path == "/auth/me":
            self.me += 1
            return httpx.Response(200, json={"username": "x"})
        if path == "/auth/logout":
            self.logouts.append(token)
            return httpx.Response(204)
        return httpx.Response(404)


def test_gateway_scenarios_register_measure_and_log_out(core) -> None:
    fake = FakeGateway()
    section = run(
        http_measure.gateway_scenarios(
            core,
            concurrency=4,
            seconds=0.3,
            max_requests=100,
            warmup_seconds=0.1,
            login_requests=3,
            transport=httpx.MockTransport(fake),
        )
    )
    assert set(section) == {"health_live", "auth_me", "auth_login"}
    assert all(figures["errors"] == 0 for figures in section.values())
    assert section["auth_me"]["requests"] == 100
    assert section["auth_login"]["requests"] == 3
    assert section["auth_login"]["concurrency"] == loadgen.LOGIN_CONCURRENCY
    assert "rate_budget_per_minute" not in section["health_live"]
    assert section["auth_me"]["rate_budget_per_minute"] == 4800
    [username] = fake.users
    assert username.startswith("bench_")
    # The set-up session and every login's session are ended.
    assert fake.logins == 4 and len(fake.logouts) == 4


def test_bench_users_are_unique_and_valid() -> None:
    first, second = loadgen.BenchUser.new(), loadgen.BenchUser.new()
    assert first.username != second.username
    assert 3 <= len(first.username) <= 32
    assert first.username not in first.password.lower()
    assert any(c.isdigit() for c in first.password) and any(c.isalpha() for c in first.password)


def _admin_gateway(answers: dict[str, int]) -> tuple[httpx.MockTransport, list[dict]]:
    sent: list[dict] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/auth/login"
        sent.append(json.loads(request.content))
        status = answers.get(sent[-1]["password"], 401)
        body = {"access_token": "admin-token"} if status == 200 else {"detail": "no"}
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handle), sent


def test_the_admin_logs_in_with_the_env_files_credentials(tmp_path) -> None:
    env = tmp_path / "compose.env"
    env.write_text("ADMIN_USERNAME=ops\nADMIN_PASSWORD=Secret-from-inv-env-1\n")
    transport, sent = _admin_gateway({"Secret-from-inv-env-1": 200})

    async def login() -> dict:
        async with httpx.AsyncClient(base_url="http://gateway", transport=transport) as client:
            return await loadgen.admin_login(client, loadgen.RateBudget(60), env)

    assert run(login()) == {"access_token": "admin-token"}
    assert sent == [{"username": "ops", "password": "Secret-from-inv-env-1"}]


def test_no_admin_in_the_env_file_says_to_run_inv_env(tmp_path) -> None:
    env = tmp_path / "compose.env"
    env.write_text("JWT_SECRET=x\n")
    with pytest.raises(ToolkitError) as caught:
        loadgen.admin_credentials(env)
    assert "ADMIN_PASSWORD" in caught.value.problem and "inv env" in caught.value.fix


def test_a_refused_admin_login_says_why_it_may_be(tmp_path) -> None:
    env = tmp_path / "compose.env"
    env.write_text("ADMIN_USERNAME=admin\nADMIN_PASSWORD=Changed-since-1\n")
    transport, _ = _admin_gateway({})

    async def login() -> dict:
        async with httpx.AsyncClient(base_url="http://gateway", transport=transport) as client:
            return await loadgen.admin_login(client, loadgen.RateBudget(60), env)

    with pytest.raises(ToolkitError) as caught:
        run(login())
    assert "401" in caught.value.problem
    assert "ADMIN_PASSWORD" in caught.value.fix


# ---- memory ----------------------------------------------------------------------------------


def test_used_bytes_subtracts_inactive_file_cache_like_the_cli() -> None:
    v1 = {"usage": 100, "stats": {"total_inactive_file": 30, "inactive_file": 10, "cache": 50}}
    assert bench_resources.used_bytes(v1) == 70
    assert bench_resources.used_bytes({"usage": 100, "stats": {"inactive_file": 40}}) == 60
    assert bench_resources.used_bytes({"usage": 100, "stats": {"total_inactive_file": 200}}) == 100
    assert bench_resources.used_bytes({"usage": 100}) == 100


class FakeContainer:
    def __init__(self, name: str, idle: int, busy: int, load: dict) -> None:
        self.name = name
        self.labels = {"com.docker.compose.service": name}
        self.idle, self.busy, self.load = idle, busy, load

    def stats(self, stream: bool = False) -> dict:
        time.sleep(0.01)
        usage = self.busy if self.load["on"] else self.idle
        return {"memory_stats": {"usage": usage, "stats": {"total_inactive_file": 1_000_000}}}


def test_memory_at_idle_and_the_peak_under_load(core, monkeypatch) -> None:
    load = {"on": False}
    containers = {
        "api-gateway": FakeContainer("gw", 51_000_000, 91_000_000, load),
        "user-service": FakeContainer("us", 61_000_000, 71_000_000, load),
    }
    monkeypatch.setattr(bench_resources, "_running", lambda names: containers)

    def during() -> None:
        load["on"] = True
        time.sleep(0.2)
        load["on"] = False

    section = bench_resources.memory(core, ["api-gateway", "user-service"], during=during)
    assert section["api-gateway"]["idle_mb"] == 50.0
    assert section["api-gateway"]["load_mb"] == 90.0
    assert section["user-service"]["load_mb"] == 70.0
    assert section["user-service"]["load_samples"] > 1
    without_load = bench_resources.memory(core, ["api-gateway"])
    assert without_load["api-gateway"] == {"idle_mb": 50.0, "load_mb": None, "load_samples": 0}


def test_memory_names_an_unknown_service(core) -> None:
    with pytest.raises(ToolkitError, match="unknown service"):
        bench_resources.memory(core, ["no-such-service"])


# ---- layers ----------------------------------------------------------------------------------


def test_layer_figures_from_a_dive_report() -> None:
    report = {
        "layer": [{}, {}, {}],
        "image": {"sizeBytes": 132_816_646, "inefficientBytes": 2_500_000, "efficiencyScore": 0.98},
    }
    assert bench_resources.layer_figures(report) == {
        "efficiency": 0.98,
        "wasted_mb": 2.5,
        "image_mb": 132.8,
        "layers": 3,
    }
    with pytest.raises(ToolkitError, match="unexpected dive report"):
        bench_resources.layer_figures({"image": {"sizeBytes": 1}})


def test_dive_comes_from_the_environment() -> None:
    assert Path(bench_resources.dive_binary()).name == "dive"


# ---- in-process benchmarks -------------------------------------------------------------------

PYTEST_BENCHMARK_REPORT = {
    "benchmarks": [
        {
            "name": "test_decode_access_token",
            "extra_info": {},
            "stats": {"min": 6.1e-05, "max": 0.0056, "median": 8.0e-05, "rounds": 677},
        },
        {
            "name": "test_verify_password_at_test_cost",
            "extra_info": {"bcrypt_rounds": 4},
            "stats": {"min": 0.001, "max": 0.003, "median": 0.0012, "rounds": 50},
        },
    ]
}


def test_benchmark_figures_in_microseconds() -> None:
    figures = bench_inprocess.benchmark_figures(PYTEST_BENCHMARK_REPORT)
    assert figures["test_decode_access_token"] == {
        "median_us": 80.0,
        "min_us": 61.0,
        "max_us": 5600.0,
        "rounds": 677,
    }
    assert figures["test_verify_password_at_test_cost"]["extra"] == {"bcrypt_rounds": 4}


@pytest.fixture
def fake_compose(monkeypatch):
    fake = type("Cli", (), {"argv": lambda self, *args: ["docker", "compose", *args]})()
    monkeypatch.setattr(bench_inprocess.stack, "cli", lambda *files, profiles=(): fake)
    prepared = []
    monkeypatch.setattr(
        bench_inprocess.testing, "prepare", lambda cat, service: prepared.append(service.name)
    )
    return prepared


def _mounted_dir(command: list[str]) -> Path:
    volume = command[command.index("--volume") + 1]
    host, container = volume.rsplit(":", 1)
    assert container == bench_inprocess.CONTAINER_OUTPUT
    return Path(host)


def test_in_process_runs_the_benchmarks_in_the_test_container(core, fake_compose, monkeypatch):
    seen = {}

    def fake_run(command, **kwargs):
        seen["command"] = command
        seen["dir"] = _mounted_dir(command)
        (seen["dir"] / "benchmarks.json").write_text(json.dumps(PYTEST_BENCHMARK_REPORT))
        return bench_inprocess.subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(bench_inprocess.subprocess, "run", fake_run)
    figures = bench_inprocess.in_process(core, "user-service", quick=True)
    assert fake_compose == ["user-service"]  # the test image is rebuilt first
    command = seen["command"]
    assert command[command.index("run") :][:4] == ["run", "--rm", "--quiet-pull", "--no-TTY"]
    assert "user-service-tests" in command
    assert "tests/benchmarks" in command and "--benchmark-only" in command
    assert f"--benchmark-json={bench_inprocess.CONTAINER_OUTPUT}/benchmarks.json" in command
    assert "--benchmark-max-time=0.2" in command
    assert set(figures) == {"test_decode_access_token", "test_verify_password_at_test_cost"}
    assert not seen["dir"].exists()  # the temporary directory is removed


def test_in_process_failure_shows_pytests_last_lines(core, fake_compose, monkeypatch):
    def failing(command, **kwargs):
        return bench_inprocess.subprocess.CompletedProcess(
            command, 1, "FAILED tests/benchmarks/test_bench_auth.py::test_me_cached\n", ""
        )

    monkeypatch.setattr(bench_inprocess.subprocess, "run", failing)
    with pytest.raises(ToolkitError) as info:
        bench_inprocess.in_process(core, "user-service")
    assert "pytest exit 1" in info.value.problem
    assert "test_me_cached" in info.value.problem
    assert "tests(user-service)" in info.value.fix


def test_every_service_has_benchmarks(core) -> None:
    for service in core.services.values():
        directory = service.directory / bench_inprocess.IN_PROCESS_DIR
        assert sorted(p.name for p in directory.glob("test_bench_*.py")), service.name


# ---- start times -----------------------------------------------------------------------------


def test_profile_for_picks_the_smallest_profile(core, multi_tier) -> None:
    assert bench_start.profile_for(core, core.tier(1)) == "core"
    assert bench_start.profile_for(multi_tier, multi_tier.tier(3)) == "ai"
    assert bench_start.profile_for(multi_tier, multi_tier.select(["training-service"])) == "full"


def test_start_times_needs_built_images(core, monkeypatch) -> None:
    monkeypatch.setattr(bench_start.stack, "image_present", lambda service: False)
    with pytest.raises(ToolkitError, match="no image for api-gateway") as info:
        bench_start.start_times(core, "core", rounds=1)
    assert "inv build --profile core" in info.value.fix
    with pytest.raises(ToolkitError, match="rounds"):
        bench_start.start_times(core, "core", rounds=0)


def test_docker_timestamps() -> None:
    assert bench_start._epoch("0001-01-01T00:00:00Z") is None
    assert bench_start._epoch("") is None
    assert bench_start._epoch("1970-01-01T00:00:01.500000000Z") == 1.5


def test_a_disturbed_start_round_is_measured_again(core, monkeypatch) -> None:
    outcomes = [bench_start.Disturbed("redis was started before this round's `compose up`")]

    def once(catalog, profile, names, timeout):
        if outcomes:
            raise outcomes.pop()
        return {"redis": 3.0}, {"redis": 2.0}

    monkeypatch.setattr(bench_start, "_start_once", once)
    assert bench_start._start_round(core, "core", ["redis"], 60) == (
        {"redis": 3.0},
        {"redis": 2.0},
    )
    monkeypatch.setattr(
        bench_start,
        "_start_once",
        lambda *args: (_ for _ in ()).throw(bench_start.Disturbed("always")),
    )
    with pytest.raises(ToolkitError, match="disturbed 3 times"):
        bench_start._start_round(core, "core", ["redis"], 60)


def test_a_start_round_times_each_container_from_compose_up(core, monkeypatch) -> None:
    events = []
    wall = time.time()
    monkeypatch.setattr(bench_start.time, "time", lambda: wall)
    monkeypatch.setattr(bench_start.stack, "down", lambda *args, **kw: events.append("down"))
    monkeypatch.setattr(
        bench_start.stack, "up", lambda profile, services: events.append(("up", profile))
    )
    states = [
        bench_start.health.ServiceState("redis", "running", "healthy", 3.0, ""),
        bench_start.health.ServiceState("api-gateway", "running", "healthy", 9.0, ""),
    ]

    def wait(*args, **options):
        options["failed"]()  # the background start has run by the time health says healthy
        return states

    monkeypatch.setattr(bench_start.health, "wait_healthy", wait)
    monkeypatch.setattr(
        bench_start, "_started_at", lambda names: {"redis": wall + 1.0, "api-gateway": wall + 6.5}
    )
    since_up, own = bench_start._start_once(core, "core", ["redis", "api-gateway"], 60)
    assert events == ["down", ("up", "core")]
    assert since_up == {"redis": 3.0, "api-gateway": 9.0}
    assert own == {"redis": pytest.approx(2.0), "api-gateway": pytest.approx(2.5)}
    monkeypatch.setattr(
        bench_start, "_started_at", lambda names: {"redis": wall - 30, "api-gateway": wall + 6.5}
    )
    with pytest.raises(bench_start.Disturbed, match="redis"):
        bench_start._start_once(core, "core", ["redis", "api-gateway"], 60)


def test_ensure_up_builds_what_is_out_of_date_then_waits_for_the_profile(core, monkeypatch):
    built, waited = [], []
    monkeypatch.setattr(bench_start.builds, "ensure_built", lambda cat, s: built.extend(s))
    monkeypatch.setattr(bench_start.stack, "port_conflicts", lambda cat, services: [])

    def up_and_wait(cat, profile, names, timeout):
        waited.append(names)
        return names

    monkeypatch.setattr(bench_start, "_up_and_wait", up_and_wait)
    bench_start.ensure_up(core, "core")
    assert [s.name for s in built] == CORE
    assert waited == [["postgres", "redis", "clickhouse", *CORE]]
    taken = "port 8000 (api-gateway) is already taken on 127.0.0.1"
    monkeypatch.setattr(bench_start.stack, "port_conflicts", lambda cat, services: [taken])
    with pytest.raises(ToolkitError, match="port 8000"):
        bench_start.ensure_up(core, "core")
