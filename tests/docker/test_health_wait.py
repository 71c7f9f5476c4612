"""`inv up`'s waiting names the service that never becomes healthy, instead of hanging."""

import time
import uuid

import pytest

from toolkit import catalog, health, stack
from toolkit.images import PYTHON
from toolkit.names import PROJECT

pytestmark = pytest.mark.docker


@pytest.fixture
def project_container():
    """Start a throw-away container labelled as a service of this compose project."""
    started = []

    def start(command: list[str], **options):
        name = f"failing-{uuid.uuid4().hex[:8]}"
        container = stack.client().containers.run(
            PYTHON.tag,
            command,
            detach=True,
            name=name,
            network_disabled=True,
            labels={"com.docker.compose.project": PROJECT, "com.docker.compose.service": name},
            **options,
        )
        started.append(container)
        return name

    yield start
    for container in started:
        container.remove(force=True)


def test_a_service_that_exits_is_named(project_container) -> None:
    # Like every catalog service it has a health check, so it counts as healthy only once the
    # check passes; it exits first.
    name = project_container(
        ["python3", "-c", "import time; time.sleep(1); raise SystemExit(3)"],
        healthcheck={"test": ["CMD", "true"], "interval": 60_000_000_000},
    )
    with pytest.raises(health.NeverHealthy) as info:
        health.wait_healthy(catalog.load(), [name], time.perf_counter(), timeout=60)
    assert info.value.service == name
    assert "exited" in info.value.problem


def test_a_service_that_turns_unhealthy_is_named(project_container) -> None:
    name = project_container(
        ["python3", "-c", "import time; time.sleep(120)"],
        healthcheck={
            "test": ["CMD", "false"],
            "interval": 200_000_000,
            "retries": 1,
            "timeout": 1_000_000_000,
        },
    )
    with pytest.raises(health.NeverHealthy) as info:
        health.wait_healthy(catalog.load(), [name], time.perf_counter(), timeout=60)
    assert info.value.service == name
    assert "unhealthy" in info.value.problem


def test_a_service_that_stays_starting_times_out(project_container) -> None:
    name = project_container(
        ["python3", "-c", "import time; time.sleep(120)"],
        healthcheck={
            "test": ["CMD", "false"],
            "interval": 1_000_000_000,
            "retries": 3,
            "start_period": 60_000_000_000,
            "timeout": 1_000_000_000,
        },
    )
    with pytest.raises(health.NeverHealthy) as info:
        health.wait_healthy(catalog.load(), [name], time.perf_counter(), timeout=3)
    assert info.value.service == name
    assert "not healthy after 3s" in info.value.problem
