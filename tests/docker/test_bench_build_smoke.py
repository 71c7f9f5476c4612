"""The build benchmark against the real engine, briefly: the cached cases of one service, ours
only (no index, no poetry), checking behaviour, never how long anything took."""

import hashlib

import pytest

from toolkit import catalog, stack
from toolkit.bench.measure import build as bench_build
from toolkit.names import PROJECT

pytestmark = pytest.mark.docker


def digest(paths) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path).encode() + path.read_bytes())
    return h.hexdigest()


def test_source_change_builds_from_a_copy_and_leaves_the_checkout_alone() -> None:
    service = catalog.load().service("api-gateway")
    sources = list((service.directory / "app").rglob("*.py"))
    before = digest(sources)
    messages: list[str] = []
    build, baseline = bench_build.measure(
        [service],
        rounds=1,
        cases=("warm", "source_change"),
        baseline=False,
        progress=messages.append,
    )
    assert digest(sources) == before
    assert baseline == {}
    figures = build[service.name]
    assert set(figures) == {"warm", "source_change", "image_mb"}
    assert figures["source_change"]["rounds"] and figures["image_mb"] > 0
    assert not any("layer cache was not used" in m for m in messages), messages
    assert not stack.client().images.list(name=f"{PROJECT}/{service.name}:bench")
