"""tasks.py: command errors are one line and exit 1, and they come before Docker is touched."""

from __future__ import annotations

import importlib.util
import os
import subprocess

import pytest
from invoke import Collection, Context, Exit, Program

from toolkit import builds, catalog, engine, health, images, names, render, stack, wheels
from toolkit.errors import ToolkitError

ROOT = catalog.ROOT
INV = ROOT / ".venv" / "bin" / "inv"
CORE = ["api-gateway", "user-service", "database-service"]
DATA = ["data-bridge", "trading-engine"]
AI = ["ai-provider", "ai-orchestration"]
MODELS = ["ml-processing", "deep-learning"]
INFRA = ["postgres", "redis", "clickhouse"]


def _load_tasks():
    spec = importlib.util.spec_from_file_location("toolkit_tasks_under_test", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tasks = _load_tasks()


@pytest.fixture
def no_docker(monkeypatch):
    """Every way the tasks reach Docker fails the test loudly."""

    def forbidden(*args, **kwargs):
        raise AssertionError("Docker was touched")

    for module, attributes in (
        (
            stack,
            "compose build image_present port_conflicts up down logs containers restart "
            "follow_logs exec_in remove_images",
        ),
        (engine, "client"),
        (images, "ensure_all missing"),
        (health, "wait_healthy probe_all"),
        (wheels, "fill target_environment"),
    ):
        for name in attributes.split():
            monkeypatch.setattr(module, name, forbidden)


# Real `inv` processes (each takes seconds to import the toolkit, so they run side by side).
CLI_RUNS = {
    "up": ["up", "--profile", "nope"],
    "logs": ["logs", "nope"],
}


@pytest.fixture(scope="module")
def cli():
    env = {
        **os.environ,
        "PATH": f"{INV.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        # were Docker touched, it would fail differently from what these tests expect
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    running = {
        key: subprocess.Popen(
            [str(INV), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key, args in CLI_RUNS.items()
    }
    results = {}
    for key, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        results[key] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return results


def inv(*args: str) -> int:
    """Run `inv <args>` in this process (invoke's Program, as the `inv` script does); its
    exit code."""
    program = Program(namespace=Collection.from_module(tasks), name="inv", binary="inv")
    try:
        program.run(["inv", *args])
    except SystemExit as exc:
        return exc.code
    return 0


@pytest.fixture
def uv_on_path(monkeypatch):
    monkeypatch.setenv("PATH", f"{INV.parent}{os.pathsep}{os.environ.get('PATH', '')}")


# ---- through the `inv` command line ----------------------------------------------------


def test_cli_up_unknown_profile(cli):
    result = cli["up"]
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "unknown profile 'nope'" in output
    assert "core, data, ai, full" in output
    assert "Traceback" not in output
    assert "docker" not in output.lower()


def test_cli_logs_unknown_service(cli):
    result = cli["logs"]
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "unknown service 'nope'" in output
    for name in [*CORE, *INFRA]:
        assert name in output
    assert "Traceback" not in output


def test_inv_render_check_passes_on_the_committed_repo(uv_on_path, capsys):
    code = inv("render", "--check")
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "generated files match" in out


def test_inv_up_and_logs_unknown_names_exit_1(no_docker, capsys):
    assert inv("up", "--profile", "nope") == 1
    out, _ = capsys.readouterr()
    assert "unknown profile 'nope'" in out and "core, data, ai, full" in out
    assert inv("logs", "nope") == 1
    _, err = capsys.readouterr()
    assert "unknown service 'nope'" in err


def test_inv_lists_the_tasks(capsys):
    assert inv("--list") == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert {"doctor", "images", "wheels", "render", "env", "build", "up", "down", "logs"} <= listed


# ---- through invoke's programmatic API ----------------------------------------------------


def test_up_unknown_profile_fails_before_docker(no_docker, capsys):
    with pytest.raises(Exit) as info:
        tasks.up(Context(), profile="nope")
    assert info.value.code == 1
    out = capsys.readouterr().out
    assert "error: unknown profile 'nope'" in out
    assert "fix: choose one of: core, data, ai, full" in out


def test_build_unknown_service_fails_before_docker(no_docker, capsys):
    with pytest.raises(Exit) as info:
        tasks.build(Context(), services="user-service,nope")
    assert info.value.code == 1
    assert "unknown service 'nope'" in capsys.readouterr().out


def test_wheels_unknown_tier_fails_before_docker(no_docker, capsys):
    with pytest.raises(Exit) as info:
        tasks.wheels_(Context(), tier="9")
    assert info.value.code == 1
    assert "unknown tier 9" in capsys.readouterr().out


def test_down_unknown_profile_fails_before_docker(no_docker, capsys):
    with pytest.raises(Exit) as info:
        tasks.down(Context(), profile="nope")
    assert info.value.code == 1
    assert "unknown profile 'nope'" in capsys.readouterr().out


def test_down_with_no_profile_stops_everything_that_runs(monkeypatch, capsys):
    # After `inv up --profile ai`, a plain `inv down` once stopped only the core tier and
    # left tiers 2-4 running without their database.
    calls = []
    monkeypatch.setattr(stack, "down", lambda *args: calls.append(args))
    tasks.down(Context())
    assert calls == [(None, None, False)]
    assert "stopped every container" in capsys.readouterr().out


def test_down_one_profile_keeps_what_a_heavier_tier_still_uses(monkeypatch):
    calls = []
    monkeypatch.setattr(stack, "down", lambda *args: calls.append(args))
    monkeypatch.setattr(stack, "containers", lambda: {"trading-engine": object()})
    tasks.down(Context(), profile="core")
    ((profile, names, volumes),) = calls
    assert profile == "core" and volumes is False
    assert set(CORE) <= set(names) and "clickhouse" in names and "redis" not in names


def test_logs_unknown_service_fails_before_docker(no_docker):
    with pytest.raises(Exit) as info:
        tasks.logs(Context(), "nope")
    assert info.value.code == 1
    assert "unknown service 'nope'" in info.value.message
    assert ", ".join([*CORE, *DATA, *AI, *MODELS, *INFRA]) in info.value.message


@pytest.mark.parametrize("name", ["redis", "user-service"])
def test_logs_accepts_services_and_infrastructure(monkeypatch, capsys, name):
    calls = []
    monkeypatch.setattr(stack, "logs", lambda service, tail: calls.append((service, tail)) or "l\n")
    tasks.logs(Context(), name, tail="5")
    assert calls == [(name, 5)]
    assert capsys.readouterr().out == "l\n"


def test_up_core_starts_infrastructure_and_services(no_docker, monkeypatch):
    calls = []
    monkeypatch.setattr(
        builds, "ensure_built", lambda cat, selected, force: calls.append(("build", selected))
    )
    monkeypatch.setattr(stack, "port_conflicts", lambda cat, selected: [])
    monkeypatch.setattr(
        stack, "up", lambda profile, selected: calls.append(("up", profile, selected))
    )

    def wait(cat, names, started, timeout, failed, settled, **options):
        calls.append(("wait", names, timeout))
        assert failed() is None
        return [health.ServiceState(n, "running", "healthy", 1.0, "") for n in names]

    monkeypatch.setattr(health, "wait_healthy", wait)
    tasks.up(Context(), profile="core", timeout="7")
    # compose starts in the background while health is polled, so either may log first.
    by_kind = {call[0]: call for call in calls}
    (_, profile, selected), (_, names, timeout) = by_kind["up"], by_kind["wait"]
    assert profile == "core"
    assert [s.name for s in selected] == CORE
    assert [s.name for s in by_kind["build"][1]] == CORE  # built first when out of date
    assert calls[0][0] == "build"
    assert names == [*INFRA, *CORE]
    assert timeout == 7.0


def test_up_stops_on_a_port_conflict_before_starting(no_docker, monkeypatch):
    monkeypatch.setattr(builds, "ensure_built", lambda cat, selected, force: None)
    monkeypatch.setattr(
        stack, "port_conflicts", lambda cat, selected: ["port 8000 (api-gateway) is already taken"]
    )
    with pytest.raises(Exit) as info:
        tasks.up(Context(), profile="core")
    assert info.value.code == 1
    assert "port 8000 (api-gateway) is already taken" in info.value.message


def test_render_check_names_drifted_files(monkeypatch):
    monkeypatch.setattr(render, "drifted", lambda cat: [names.COMPOSE_FILE])
    monkeypatch.setattr(render, "write", lambda cat: pytest.fail("--check must not write"))
    with pytest.raises(Exit) as info:
        tasks.render_(Context(), check=True)
    assert info.value.code == 1
    assert "compose/compose.yaml" in info.value.message
    assert "inv render" in info.value.message


def test_friendly_turns_toolkit_error_into_exit_1(capsys):
    @tasks.friendly
    def failing():
        raise ToolkitError("it broke", "do this")

    with pytest.raises(Exit) as info:
        failing()
    assert info.value.code == 1
    assert capsys.readouterr().out.splitlines() == ["error: it broke", "fix: do this"]


def test_services_selection():
    assert [s.name for s in tasks.services_of("1", "")] == CORE
    assert [s.name for s in tasks.services_of(None, "database-service user-service")] == [
        "user-service",
        "database-service",
    ]
    assert [s.name for s in tasks.services_of(None, "", "core")] == CORE
    with pytest.raises(ToolkitError):
        tasks.services_of(None, "", "nope")


# ---- the commands users of compose reach for ---------------------------------------------


class _State:
    def __init__(self, status, health=None):
        self.status = status
        self.health = type("H", (), {"status": health})() if health else None


class _Container:
    def __init__(self, image):
        self.state = _State("running", "healthy")
        self.restart_count = 0
        self.config = type("C", (), {"image": image})()


def test_ps_says_what_to_do_when_nothing_runs(monkeypatch, capsys):
    monkeypatch.setattr(stack, "containers", dict)
    tasks.ps(Context())
    assert "nothing runs: `inv up --profile core`" in capsys.readouterr().out


def test_ps_shows_where_each_service_is_reached(monkeypatch, capsys):
    from toolkit.console import console

    monkeypatch.setattr(console, "width", 200)
    monkeypatch.setattr(
        stack,
        "containers",
        lambda: {"api-gateway": _Container("tiered/api-gateway:latest"), "redis": _Container("r")},
    )
    tasks.ps(Context())
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000" in out  # the gateway, the one published port
    assert "internal" in out


def test_logs_of_several_services_or_all(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(stack, "logs", lambda names, tail: calls.append((names, tail)) or "x\n")
    monkeypatch.setattr(stack, "containers", lambda: {"redis": 1, "api-gateway": 2})
    tasks.logs(Context(), "user-service,redis", tail="3")
    tasks.logs(Context(), "all")
    assert calls == [(["user-service", "redis"], 3), (["redis", "api-gateway"], 100)]


def test_logs_follow_streams_and_exits_with_compose(monkeypatch):
    monkeypatch.setattr(stack, "follow_logs", lambda names, tail: 130 if names == ["redis"] else 9)
    with pytest.raises(Exit) as info:
        tasks.logs(Context(), "redis", follow=True)
    assert info.value.code == 130


def test_restart_waits_for_health_and_refuses_unknown_names(no_docker, monkeypatch, capsys):
    with pytest.raises(Exit) as info:
        tasks.restart(Context(), "nope")
    assert "unknown service 'nope'" in info.value.message
    calls = []

    def wait_healthy(cat, names, started, timeout):
        calls.append(("wait", names, timeout))
        return [health.ServiceState(n, "running", "healthy", 1.5, "") for n in names]

    monkeypatch.setattr(stack, "restart", lambda names: calls.append(("restart", names)))
    monkeypatch.setattr(health, "wait_healthy", wait_healthy)
    tasks.restart(Context(), "user-service,redis", timeout="9")
    names = ["user-service", "redis"]
    assert calls == [("restart", names), ("wait", names, 9.0)]  # restarted, then waited


def test_exec_runs_the_command_given_or_a_shell(monkeypatch):
    calls = []
    monkeypatch.setattr(
        stack, "exec_in", lambda name, argv, tty: calls.append((name, argv, tty)) or 0
    )
    for command in ("python -V", ""):
        with pytest.raises(Exit):
            tasks.exec_(Context(), "user-service", command=command)
    assert calls == [("user-service", ["python", "-V"], False), ("user-service", ["sh"], False)]
    with pytest.raises(Exit) as info:
        tasks.exec_(Context(), "nope")
    assert info.value.code == 1


def test_clean_stops_and_removes_the_stacks_images_and_records(monkeypatch, capsys):
    from toolkit import fingerprint

    calls = []
    monkeypatch.setattr(stack, "down", lambda *args: calls.append(("down", args)))
    monkeypatch.setattr(stack, "remove_images", lambda tags: calls.append(("rm", tags)) or tags)
    monkeypatch.setattr(fingerprint, "forget_all", lambda: 4)
    tasks.clean(Context())
    (_, down), (_, tags) = calls
    assert down == (None, None, False)
    for stage in ("latest", "test", "dev"):
        assert f"tiered/user-service:{stage}" in tags
    assert not any(t.startswith("tiered/postgres") for t in tags)  # base images stay
    assert "4 build record(s)" in capsys.readouterr().out


def test_up_some_services_starts_what_they_need(no_docker, monkeypatch):
    calls = []
    monkeypatch.setattr(builds, "ensure_built", lambda cat, selected, force: None)
    monkeypatch.setattr(stack, "port_conflicts", lambda cat, selected: [])

    def start_and_wait(cat, names, start, timeout, on_change):
        calls.append(names)
        return [health.ServiceState(n, "running", "healthy", 1.0, "") for n in names]

    monkeypatch.setattr(health, "start_and_wait", start_and_wait)
    tasks.up(Context(), services="trading-engine")
    (names,) = calls
    assert names == ["postgres", "redis", "clickhouse", "database-service", "trading-engine"]


# ---- the swarm commands --------------------------------------------------------------------


def test_deploy_status_says_what_to_do_when_no_stack_runs(monkeypatch, capsys):
    from toolkit.stack import swarm

    monkeypatch.setattr(swarm, "status", list)
    tasks.deploy(Context(), status=True)
    assert "no stack on the swarm: `inv deploy --profile core`" in capsys.readouterr().out


def test_deploy_refuses_while_compose_publishes_the_gateway(no_docker, monkeypatch):
    running = type("C", (), {"state": type("S", (), {"running": True})()})()
    monkeypatch.setattr(stack, "containers", lambda: {"api-gateway": running})
    with pytest.raises(Exit) as info:
        tasks.deploy(Context(), profile="core")
    assert info.value.code == 1
    assert "holds port 8000: `inv down` first" in info.value.message


def test_scale_refuses_a_service_with_state(no_docker):
    with pytest.raises(Exit) as info:
        tasks.scale(Context(), "data-bridge", "2")
    assert "runs one replica" in info.value.message
