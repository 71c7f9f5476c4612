"""Nox sessions: lint, the toolkit's tests, each service's tests in its container, e2e.

Sessions run in the project's uv environment (`uv sync` made it; nothing is installed per
session), so dependencies are declared once, in pyproject.toml and uv.lock. The two that need
packages it does not carry (clickhouse_sql: chDB; fuzz: schemathesis) get an environment of
their own under .nox/, synced from the same lock with their dependency group (`own_environment`),
so .venv stays exactly what `uv sync` made.
"""

from __future__ import annotations

import glob
import logging
import os
import sys
import tempfile
from pathlib import Path

import nox

from toolkit import catalog as catalog_mod
from toolkit import envfile, fingerprint, stack, testing, usermachine, wheels
from toolkit.catalog import ROOT
from toolkit.errors import ToolkitError
from toolkit.names import COMPOSE_TEST_FILE

nox.options.default_venv_backend = "none"
# Sessions run the tools of the environment nox itself runs in (.venv), whatever PATH says:
# a globally installed `inv` or `pytest` must never stand in for the locked ones.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
nox.options.sessions = ["lint", "toolkit", "tests"]
nox.options.error_on_external_run = True

# nox turns on debug logging; the engine client's HTTP chatter is not what a reader wants.
for noisy in ("urllib3", "docker"):
    logging.getLogger(noisy).setLevel(logging.WARNING)

try:
    CATALOG = catalog_mod.load()
    SERVICES = list(CATALOG.services)
except ToolkitError as exc:  # still list the sessions; `tests(catalog-error)` fails with it
    print(f"nox > {catalog_mod.one_line(exc)}", file=sys.stderr)
    CATALOG, SERVICES = catalog_mod.Unloaded(exc), ["catalog-error"]


def own_environment(session: nox.Session, *groups: str) -> None:
    """Sync the session's own environment (.nox/<session>, made by uv) from uv.lock: the
    project with its dev dependencies and `groups`. uv links from its cache, so a second run
    takes a second or two."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--quiet",
        *(f"--group={group}" for group in groups),
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )


@nox.session(tags=["ci", "fast"])
def lint(session: nox.Session) -> None:
    """Ruff, drift of generated files, compose config, hadolint on every Dockerfile."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("inv", "render", "--check")
    for extra in ((), (COMPOSE_TEST_FILE,)):
        session.run(*stack.cli(*extra).argv("config", "--quiet"), external=True)
    dockerfiles = sorted(glob.glob("services/*/Dockerfile") + glob.glob("images/*/Dockerfile"))
    session.run("hadolint", "--config", ".hadolint.yaml", *dockerfiles)


@nox.session(tags=["ci", "fast"])
def toolkit(session: nox.Session) -> None:
    """The toolkit's own tests (catalog, render, wheels, env file, command errors)."""
    # tests/compat needs chDB, which only `clickhouse_sql` installs; pre-commit runs this too.
    session.run("pytest", "tests", "-m", "not docker", "--ignore=tests/compat", *session.posargs)


@nox.session(tags=["ci"])
def precommit(session: nox.Session) -> None:
    """The pre-commit hooks on a fresh clone of HEAD, right after bootstrap, offline."""
    with tempfile.TemporaryDirectory(prefix="tiered-clone-") as scratch:
        clone = Path(scratch) / "clone"
        session.run("git", "clone", "--quiet", "--no-local", str(ROOT), str(clone), external=True)
        # Offline: uv takes every package from its cache, as a machine with no network would.
        env = {"UV_OFFLINE": "1"}
        with session.chdir(clone):
            session.run("bash", "scripts/bootstrap.sh", external=True, env=env)
            session.run(
                ".venv/bin/pre-commit",
                "run",
                "--all-files",
                "--show-diff-on-failure",
                external=True,
                env=env,
            )


@nox.session(tags=["ci", "fast"], venv_backend="uv")
def clickhouse_sql(session: nox.Session) -> None:
    """database-service's market SQL on a current ClickHouse (chDB, embedded).

    The toolkit's own ClickHouse 18.16 runs the same SQL in `tests(database-service)`."""
    own_environment(session, "compat")
    session.run("pytest", "tests/compat", *session.posargs)


@nox.session(tags=["ci"])
def offline_build(session: nox.Session) -> None:
    """Every service's image builds from the wheelhouse with the build's network disabled."""
    session.run("inv", "images")
    for tier in wheels.OFFLINE_TIERS:
        session.run("inv", "wheels", "--tier", str(tier))
    session.run("pytest", "tests/docker", "-m", "docker", *session.posargs)


@nox.session(tags=["ci"])
@nox.parametrize("service", [nox.param(name, id=name) for name in SERVICES])
def tests(session: nox.Session, service: str) -> None:
    """A service's test suite, in its test image.

    Skipped when nothing changed since its last green run (`-- --force` or TIERED_FORCE=1 runs
    it anyway; other arguments go to pytest)."""
    force, args = fingerprint.split_force(session.posargs)
    pytest_args = args or ["-q"]
    target = CATALOG.service(service)
    decision = fingerprint.decide(CATALOG, target, "tests", force=force, extra=pytest_args)
    if decision.skip:
        session.skip(f"{service}: {decision.reason}")
    session.log(f"{service}: running: {decision.reason}")
    try:
        code = testing.run(CATALOG, target, pytest_args)
    except ToolkitError as exc:  # a build that failed, the engine away: say what, not a traceback
        session.error(str(exc))
    if code != 0:
        session.error(f"{service}: tests failed (pytest exit {code})")
    fingerprint.record(CATALOG, target, "tests", decision)


@nox.session(tags=["ci"])
def user_machine(session: nox.Session) -> None:
    """The README's first command's path on a simulated user machine: no local wheel folder.

    Every mirror folder of pyproject.toml is hidden (an empty mount over it, in a mount
    namespace of its own), PyTorch's CPU index is answered by a local stand-in serving the
    locked file, torch leaves the wheelhouse, and then: render check, wheels, one image per
    tier built."""
    with usermachine.simulated(session.log) as (env, wrap):
        one_per_tier = ",".join(CATALOG.tier(t)[0].name for t in sorted(CATALOG.tiers))
        output = session.run(
            *wrap(
                "inv render --check && inv wheels --services deep-learning && "
                f"inv build --force --services {one_per_tier}"
            ),
            external=True,
            env=env,
            silent=True,
        )
        print(output)
        usermachine.check_output(output)


@nox.session(tags=["ci"])
def e2e(session: nox.Session) -> None:
    """The platform's real job, end to end through the gateway, on the full profile.

    A user's session, bad input, a real series replayed, stored, turned into candles,
    indicators and signals, watched over a WebSocket, then models trained on it, served and
    forecasting, text embedded and a market brief written."""
    session.run("inv", "up", "--profile", "full")
    session.run("pytest", "tests/e2e", "-m", "docker", *session.posargs)


@nox.session(tags=["ci"])
def security(session: nox.Session) -> None:
    """Adversarial cases through the gateway and at the host's ports, on the running stack.

    Spoofed identity and forwarding headers, cross-user data, SSRF through feeds, redirects,
    hostile bodies, brute force; with the containment checks of tests/e2e/test_containment.py."""
    session.run(
        "pytest",
        "tests/security",
        "tests/e2e/test_containment.py",
        "-m",
        "docker",
        *session.posargs,
    )


@nox.session(tags=["ci"], venv_backend="uv")
def fuzz(session: nox.Session) -> None:
    """schemathesis on every service's OpenAPI document: no input may answer a 5xx.

    On the running full profile; each service but the gateway is reached at its container's
    address with the operator's internal credential (tests/fuzz/schemathesis.toml), so
    database-service is fuzzed too. CI's pass is bounded and seeded (`--max-examples 15
    --seed 1`); `nox -s fuzz -- --max-examples 200` runs a longer one (arguments go to
    schemathesis). Training routes are left out: each call is minutes of CPU, not a parsing
    question."""
    own_environment(session, "fuzz")
    options = session.posargs or ["--max-examples", "15", "--seed", "1"]
    env = {"TIERED_INTERNAL_TOKEN": envfile.operator_credential()}
    for service in CATALOG.services.values():
        url = stack.service_url(service)
        session.log(f"{service.name}: fuzzing {url}")
        session.run(
            "schemathesis",
            "--config-file",
            str(ROOT / "tests" / "fuzz" / "schemathesis.toml"),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,fuzzing",
            "--exclude-path-regex",
            "/train$",
            "--request-timeout",
            "30",
            *options,
            env=env,
        )


@nox.session(tags=["ci"])
def chaos(session: nox.Session) -> None:
    """SIGKILL each stateful component under load; nothing acknowledged may be lost or doubled.

    On the running full profile (e2e leaves it up; `inv up --profile full` otherwise). CI runs
    the quick pass; `nox -s chaos -- --faults NAME,...` picks faults, `-- --help` lists them.
    Results: benchmarks/results/chaos.json and chaos.md."""
    session.run("python", "-m", "toolkit.chaos", *(session.posargs or ["--quick"]))


@nox.session(default=False, tags=["bench"])
def bench(session: nox.Session) -> None:
    """The benchmarks in one run, saved to benchmarks/results/ with a report.

    `nox -s bench -- --quick --services api-gateway`; `nox -s bench -- --help` lists the
    options."""
    session.run("python", "-m", "toolkit.bench", *session.posargs)


@nox.session(default=False, tags=["ci"])
def bench_smoke(session: nox.Session) -> None:
    """The cheapest benchmark end to end, quick and with no baseline (4-5 minutes).

    The AI tiers' part on the full profile e2e leaves running, then a tier-1 and a tier-2
    service on the data profile; each result compared with itself, which must find no
    regression (JSON, report, compare)."""
    output = "ci/bench-smoke.json"  # one file, replaced by each run; benchmarks/results/ is ignored
    # The AI tiers' part first, while the full profile e2e leaves up is still running.
    ai_output = "ci/bench-smoke-ai.json"
    session.run(
        "python",
        "-m",
        "toolkit.bench",
        "--quick",
        "--services",
        "ai-orchestration",
        "--no-baseline",
        "--parts",
        "ai",
        "--output",
        ai_output,
    )
    ai_path = f"benchmarks/results/{ai_output}"
    session.run("python", "-m", "toolkit.bench", "--report-only", ai_path, "--compare", ai_path)
    # e2e leaves the full profile up; the start part measures the data profile from scratch
    # and refuses to pull its services from under heavier tiers that still run.
    session.run("inv", "down", "--profile", "full")
    session.run(
        "python",
        "-m",
        "toolkit.bench",
        "--quick",
        "--services",
        "api-gateway",
        "data-bridge",
        "--no-baseline",
        "--parts",
        "build,start,http,memory,stream,layers",
        "--output",
        output,
    )
    path = f"benchmarks/results/{output}"
    session.run("python", "-m", "toolkit.bench", "--report-only", path, "--compare", path)


@nox.session(default=False, tags=["ci"])
def swarm(session: nox.Session) -> None:
    """The core profile on a one-node swarm: deploy, scale, roll under load, roll back.

    Stops the compose stack first (it holds the gateway's port; leaving a swarm breaks its
    DNS), removes the stack and leaves the swarm when it made it. CI runs `--quick` (shorter
    loads); results in benchmarks/results/swarm.json and swarm.md."""
    session.run("python", "-m", "toolkit.swarmcheck", *(session.posargs or ["--quick"]))
