"""Each service's test suite, run inside its own test image on the stack's network."""

from __future__ import annotations

from toolkit import builds, images, stack
from toolkit.catalog import Catalog, Service
from toolkit.console import console, step
from toolkit.names import COMPOSE_TEST_FILE, Stage, image, test_container


def prepare(catalog: Catalog, service: Service) -> None:
    """Base images, the production images the service needs running (current: a suite must
    never meet yesterday's database-service), and its test image."""
    if images.missing():
        images.ensure_all()
    dependencies, _ = catalog.needs(service)
    builds.ensure_built(catalog, dependencies)
    builds.prepare([service])  # the test image needs the same wheels as the production one
    with step(f"build {service.name} test image") as note:
        seconds = stack.build([service], target="test")[service.name]
        note["note"] = f"{seconds:.1f}s"


def run(catalog: Catalog, service: Service, pytest_args: list[str]) -> int:
    """Run the suite in `<service>-tests`; returns pytest's exit code (5 = nothing collected,
    which callers treat as a failure like any other)."""
    prepare(catalog, service)
    console.print(f"running {service.name}'s tests in {image(service.name, Stage.TEST)}")
    # On this terminal, as pytest writes it.
    return stack.cli(COMPOSE_TEST_FILE, profiles=("test",)).stream(
        "run",
        "--rm",
        "--quiet-pull",
        test_container(service.name),
        "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        *pytest_args,
    )
