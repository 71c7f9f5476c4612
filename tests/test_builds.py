"""toolkit/builds.py without Docker: only the images whose inputs changed are built, and each
build is recorded against the decision taken before it."""

from toolkit import builds, catalog, fingerprint


def test_only_out_of_date_images_are_built_and_recorded(monkeypatch) -> None:
    cat = catalog.load()
    core = cat.tier(1)
    stale = {"user-service"}

    def decide(c, service, purpose, force=False):
        skip = service.name not in stale and not force
        return fingerprint.Decision(service.name, purpose, skip, "why", "d", {}, ())

    built, recorded, prepared = [], [], []
    monkeypatch.setattr(fingerprint, "decide", decide)
    monkeypatch.setattr(fingerprint, "record", lambda c, s, p, d: recorded.append((s.name, d)))
    monkeypatch.setattr(builds, "prepare", lambda services: prepared.extend(services))
    monkeypatch.setattr(
        builds.stack,
        "build",
        lambda services, target, cache: (
            built.append((services[0].name, target, cache)) or {services[0].name: 1.5}
        ),
    )
    timings = builds.ensure_built(cat, core)
    assert built == [("user-service", "production", True)]
    assert [s.name for s in prepared] == ["user-service"]
    assert [name for name, _ in recorded] == ["user-service"]
    assert timings == {"api-gateway": None, "user-service": 1.5, "database-service": None}

    built.clear()
    builds.ensure_built(cat, core, "test", force=True)
    assert [name for name, *_ in built] == [s.name for s in core]
    assert {target for _, target, _ in built} == {"test"}


def test_wheels_from_an_index_besides_pypi_are_fetched_before_a_build(monkeypatch) -> None:
    cat = catalog.load()
    gateway, learning = cat.service("api-gateway"), cat.service("deep-learning")
    filled, missing = [], {"api-gateway": ["x missing"], "deep-learning": ["torch missing"]}
    torch = builds.wheels.Pin("torch", "2.13.0+cpu", (), None)
    monkeypatch.setattr(builds.images, "missing", lambda: [])
    monkeypatch.setattr(builds.wheels, "verify", lambda services: dict(missing))
    index = builds.indexes.configured()[0]
    monkeypatch.setattr(builds.indexes, "locked_packages", lambda: {"torch": index})
    monkeypatch.setattr(
        builds.wheels, "requirements_of", lambda s: [torch] if s is learning else []
    )
    monkeypatch.setattr(
        builds.wheels, "fill", lambda services, progress: filled.extend(s.name for s in services)
    )
    builds.prepare([gateway, learning])
    # Only the service with a pin from PyTorch's index; the other may use PyPI in its build.
    assert filled == ["deep-learning"]
