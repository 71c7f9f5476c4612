"""Dev mode against the engine, without touching the running stack: the layered compose file
is what compose accepts, and a dev container (the dev image, DEV_SERVER, a temporary copy of
the source mounted read-only) serves a saved change without a rebuild. Nothing here asserts
a duration: the figure is the benchmark's (`devloop.measure_reload`)."""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from toolkit import catalog, composefile, devloop, stack

pytestmark = pytest.mark.docker

SERVICE = "api-gateway"
REFERENCE = re.compile(r"\$\{(?P<name>\w+)(?::-(?P<default>[^}]*)|:\?[^}]*)?\}")


def resolved(value: str) -> str:
    """A compose value with `${X:-default}` taken as its default and `${X:?...}` (a secret from
    the env file) as a random stand-in."""
    return REFERENCE.sub(
        lambda m: m.group("default") if m.group("default") is not None else secrets.token_hex(24),
        value,
    )


def test_compose_accepts_the_dev_file_layered_over_production():
    dev = devloop.compose(source_root=Path("/nonexistent-devloop-root"))
    merged = json.loads(dev.run("config", "--format", "json", doing="compose config"))
    merged = merged["services"][SERVICE]
    production = composefile.compose(catalog.load())["services"][SERVICE]
    assert merged["build"]["target"] == "application"
    assert merged["image"] == f"tiered/{SERVICE}:dev"
    assert merged["environment"]["ENVIRONMENT"] == "development"
    assert set(production["environment"]) <= set(merged["environment"])  # same variables
    assert merged["ports"][0]["published"] == str(catalog.load().service(SERVICE).port)
    sources = {v["target"]: v["source"] for v in merged["volumes"]}
    assert sources["/app/app"] == f"/nonexistent-devloop-root/services/{SERVICE}/app"
    assert "user-service" in merged["depends_on"]


@pytest.fixture
def dev_image():
    cat = catalog.load()
    devloop.build(cat, [cat.service(SERVICE)])  # skipped when unchanged since its last build
    return f"tiered/{SERVICE}:dev"


def test_a_saved_file_reaches_a_dev_container_without_a_rebuild(dev_image):
    cat = catalog.load()
    service = cat.service(SERVICE)
    environment = {
        key: resolved(value) for key, value in composefile.service_environment(cat, service).items()
    }
    environment.update(
        ENVIRONMENT="development",
        PYTHONDONTWRITEBYTECODE="1",
        REDIS_URL="redis://127.0.0.1:1/0",  # /health/live needs no backend
    )
    with tempfile.TemporaryDirectory(prefix="tiered-devloop-test-") as tmp:
        copy = Path(tmp)
        module = devloop.copy_sources(service, copy)
        original = module.read_text()
        first = f"start-{uuid.uuid4().hex[:8]}"
        module.write_text(devloop.with_marker(original, first))
        container = stack.client().containers.run(
            dev_image,
            ["python3", "-m", "servicekit.devserver"],
            detach=True,
            environment=environment,
            volumes={
                str(copy / "services" / SERVICE / "app"): {"bind": "/app/app", "mode": "ro"},
                str(copy / "libs/servicekit/src/servicekit"): {
                    "bind": "/app/servicekit",
                    "mode": "ro",
                },
            },
            ports={f"{service.port}/tcp": ("127.0.0.1", None)},
            labels={"tiered.test": "devloop"},
        )
        try:
            container.reload()
            port = container.attrs["NetworkSettings"]["Ports"][f"{service.port}/tcp"][0]
            url = f"http://127.0.0.1:{port['HostPort']}/health/live"
            devloop.wait_for_code(url, first, time.perf_counter(), timeout=90)
            samples = devloop.reload_rounds(url, module, 2, original=original, settle=0.3)
            assert len(samples) == 2 and all(s > 0 for s in samples)
            logs = container.logs().decode(errors="replace")
            assert "Reloading" in logs  # uvicorn's reloader, not a container restart
            container.reload()
            assert container.attrs["RestartCount"] == 0
        except BaseException:
            print(container.logs(tail=40).decode(errors="replace"))
            raise
        finally:
            container.remove(force=True)
