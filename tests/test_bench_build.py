"""toolkit/bench/measure/build.py and seed_strategy.py without an engine: the seed project,
build trees, compose files, log evidence, estimates, and measure()'s bookkeeping with the
builds faked."""

from __future__ import annotations

import tomllib
import types
from pathlib import Path

import pytest
import yaml

from toolkit import catalog, envfile, wheels
from toolkit.bench import results
from toolkit.bench.measure import build as bench_build
from toolkit.bench.measure import seed_strategy
from toolkit.errors import ToolkitError


@pytest.fixture
def gateway() -> catalog.Service:
    return catalog.load().service("api-gateway")


def test_seed_pyproject_is_a_faithful_poetry_project(gateway) -> None:
    project = tomllib.loads(seed_strategy.seed_pyproject(gateway))
    names = [d.split(">")[0].split("[")[0] for d in project["project"]["dependencies"]]
    assert "servicekit" not in names  # a uv workspace source poetry cannot read...
    assert {"fastapi", "uvicorn", "pydantic-settings", "redis", "pyjwt"} <= set(names)  # inlined
    assert project["tool"]["poetry"]["package-mode"] is False
    assert "pytest>=8.3" in project["dependency-groups"]["dev"]
    pins = project["dependency-groups"]["pins"]
    assert len(pins) == len(wheels.requirements_of(gateway, dev=True))
    assert "async-timeout==5.0.1 ; python_full_version < '3.11.3'" in pins


def make_repo(root: Path) -> Path:
    for name in (
        ".git/HEAD",
        ".venv/bin/python",
        "services/api-gateway/app/__pycache__/main.cpython-311.pyc",
        "services/api-gateway/app/main.py",
        "libs/servicekit/src/servicekit/app.py",
        "wheelhouse/README.md",
        "wheelhouse/fastapi-1.0-py3-none-any.whl",
        "wheelhouse/manifest.json",
    ):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")
    return root


def test_copy_tree_links_the_wheelhouse_and_leaves_out_the_rest(tmp_path) -> None:
    repo = make_repo(tmp_path / "repo")
    copy = bench_build.copy_tree(repo, tmp_path / "copy", wheelhouse=True)
    assert (copy / "services/api-gateway/app/main.py").is_file()
    assert not (copy / ".git").exists() and not (copy / ".venv").exists()
    assert not (copy / "services/api-gateway/app/__pycache__").exists()
    wheel = copy / "wheelhouse/fastapi-1.0-py3-none-any.whl"
    assert not wheel.is_symlink()  # BuildKit would not follow it out of the context
    assert wheel.stat().st_ino == (repo / "wheelhouse/fastapi-1.0-py3-none-any.whl").stat().st_ino


def test_copy_tree_without_wheelhouse_is_a_fresh_clone(tmp_path) -> None:
    repo = make_repo(tmp_path / "repo")
    copy = bench_build.copy_tree(repo, tmp_path / "copy", wheelhouse=False)
    assert sorted(p.name for p in (copy / "wheelhouse").iterdir()) == ["README.md"]


def test_a_source_change_never_touches_the_original(tmp_path) -> None:
    repo = make_repo(tmp_path / "repo")
    original = repo / "services/api-gateway/app/main.py"
    before = original.read_text()
    copy = bench_build.copy_tree(repo, tmp_path / "copy", wheelhouse=True)
    changed = bench_build.change_source(copy / "services/api-gateway/app/main.py", "abc")
    bench_build.change_source(changed, "def")
    assert original.read_text() == before
    lines = changed.read_text().splitlines()
    assert lines[-2:] == ["# benchmark source change abc", "# benchmark source change def"]


def test_ours_override_swaps_context_and_tag_only(gateway, tmp_path) -> None:
    override = bench_build.ours_override(gateway, tmp_path, "bench")
    assert override == {
        "services": {
            "api-gateway": {
                "build": {"context": str(tmp_path)},
                "image": "tiered/api-gateway:bench",
            }
        }
    }


def test_seed_compose_builds_like_ours(gateway, tmp_path) -> None:
    contexts = {"wheels": tmp_path / "w", "online": tmp_path / "o"}
    compose = seed_strategy.seed_compose(gateway, contexts, Path("/ca.pem"))
    assert compose["name"] == seed_strategy.SEED_PROJECT
    assert compose["secrets"] == {"ca": {"file": "/ca.pem"}}
    wheels_build = compose["services"]["api-gateway"]["build"]
    online = compose["services"]["api-gateway-online"]
    assert wheels_build["context"] == str(tmp_path / "w")
    assert (wheels_build["target"], wheels_build["secrets"]) == ("production", ["ca"])
    assert wheels_build["args"]["BUILD_BASE"] == "tiered/python-build:3.11"
    assert wheels_build["args"]["WORKERS"] == str(gateway.workers)
    assert online["image"] == "tiered-seed/api-gateway:online"
    yaml.safe_dump(compose)  # writable as a compose file


def test_interpolate_follows_compose() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert envfile.interpolate("x${A}y", env) == "x1y"
    assert envfile.interpolate("${A:?A is not set: run inv env}", env) == "1"
    assert envfile.interpolate("${LOG_LEVEL:-INFO}", env) == "INFO"
    assert envfile.interpolate('{"a":"b"}', env) == '{"a":"b"}'
    with pytest.raises(ToolkitError, match="EMPTY is not set"):
        envfile.interpolate("${EMPTY:?oops}", env)


STEP = (
    "#14 [api-gateway dependencies 7/7] RUN if ...; then pip install ... && echo "
    '"seed-strategy: installed from the wheels folder, no index used"; else ... && echo '
    '"seed-strategy: installed with poetry from the index"; fi\n'
)


def test_evidence_is_what_a_step_printed_not_its_command(tmp_path) -> None:
    log = tmp_path / "build.log"
    log.write_text(
        STEP + "#14 6.467 seed-strategy: installed from the wheels folder, no index used\n"
    )
    assert bench_build.printed(log, "seed-strategy: installed from the wheels folder")
    assert not bench_build.printed(log, "seed-strategy: installed with poetry from the index")


def test_a_cold_build_on_the_wrong_path_stops_the_run(gateway, tmp_path) -> None:
    log = tmp_path / "bench-api-gateway-baseline-cold_online.log"
    log.write_text(
        STEP + "#14 6.4 seed-strategy: installed from the wheels folder, no index used\n"
    )
    with pytest.raises(ToolkitError) as caught:
        bench_build._check(log, gateway, "baseline", "cold_online", print)
    assert "api-gateway (baseline, cold_online)" in caught.value.problem
    assert str(log) in caught.value.fix


def test_a_warm_build_that_reinstalled_is_noted(gateway, tmp_path) -> None:
    log = tmp_path / "warm.log"
    log.write_text(
        "#10 4.1 install-deps: installed 29 pinned packages from the wheelhouse, no index used\n"
    )
    notes: list[str] = []
    bench_build._check(log, gateway, "ours", "warm", notes.append)
    assert len(notes) == 1 and "layer cache was not used" in notes[0]


def test_estimate_uses_earlier_medians_else_a_guess(gateway) -> None:
    guess = bench_build.estimate([gateway], rounds=2, cases=("warm",), baseline=False)
    assert guess == 2 * bench_build.GUESS["ours"]["warm"] + 10
    previous = {"build": {"api-gateway": {"warm": {"median": 0.5}}}, "baseline": {}}
    both = bench_build.estimate([gateway], 2, ("warm",), True, previous)
    assert both == 2 * 0.5 + 2 * bench_build.GUESS["baseline"]["warm"] + 10


class FakeBench:
    """Stands in for ServiceBench: records each build, writes a log with the right evidence."""

    calls: list[tuple[str, str, str]] = []
    fail: tuple[str, str] | None = None

    def __init__(self, service, workdir: Path, cases, baseline) -> None:
        self.service = service
        workdir.mkdir(parents=True)
        self.workdir = workdir

    def build(self, side: str, case: str, label: str) -> tuple[float, Path]:
        if (side, case) == FakeBench.fail:
            raise ToolkitError(f"benchmark of {self.service.name} ({side}, {case}): failed", "log")
        FakeBench.calls.append((side, case, label))
        log = self.workdir / f"{side}-{case}.log"
        evidence = bench_build.EVIDENCE.get((side, case), "")
        log.write_text(f"#10 1.0 {evidence}\n")
        return float(len(FakeBench.calls)), log

    def refresh(self, side: str) -> None:
        FakeBench.calls.append((side, "refresh", ""))


@pytest.fixture
def faked(monkeypatch):
    FakeBench.calls = []
    FakeBench.fail = None
    removed: list[str] = []
    monkeypatch.setattr(bench_build, "ServiceBench", FakeBench)
    monkeypatch.setattr(bench_build, "_prepare", lambda services, progress: None)
    monkeypatch.setattr(seed_strategy, "prepare", lambda services, progress: None)
    monkeypatch.setattr(results, "previous_run", lambda: None)
    monkeypatch.setattr(bench_build, "image_mb", lambda tag: 150.0 if "seed" in tag else 120.0)
    checked: list[dict] = []
    monkeypatch.setattr(
        seed_strategy, "check_images", lambda service, tags, progress: checked.append(tags)
    )
    monkeypatch.setattr(bench_build, "_remove", removed.extend)
    return types.SimpleNamespace(removed=removed, checked=checked)


def test_measure_fills_both_sections_with_summaries(gateway, faked) -> None:
    messages: list[str] = []
    build, base = bench_build.measure([gateway], rounds=2, progress=messages.append)
    assert set(build["api-gateway"]) == {*bench_build.CASES, "image_mb"}
    assert set(base["api-gateway"]) == {*bench_build.CASES, "image_mb"}
    assert build["api-gateway"]["cold_wheelhouse"]["rounds"] == [1.0, 10.0]
    assert base["api-gateway"]["cold_wheelhouse"]["rounds"] == [2.0, 9.0]
    assert (build["api-gateway"]["image_mb"], base["api-gateway"]["image_mb"]) == (120.0, 150.0)
    timed = [(side, case) for side, case, _ in FakeBench.calls if case != "refresh"]
    assert timed[:2] == [("ours", "cold_wheelhouse"), ("baseline", "cold_wheelhouse")]
    assert timed[8:10] == [("baseline", "cold_wheelhouse"), ("ours", "cold_wheelhouse")]
    assert "16 timed builds, about" in messages[0]
    assert any(m.startswith("[16/16] api-gateway") for m in messages)
    assert "tiered/api-gateway:bench" in faked.removed
    assert faked.checked == [
        {
            "ours": "tiered/api-gateway:latest",
            "baseline": "tiered-seed/api-gateway:latest",
            "baseline (poetry path)": "tiered-seed/api-gateway:online",
        }
    ]


def test_measure_without_baseline_or_cold_cases_primes_the_cache(gateway, faked) -> None:
    build, base = bench_build.measure(
        [gateway], rounds=1, cases=("source_change", "warm"), baseline=False, progress=print
    )
    assert base == {} and faked.checked == []
    assert set(build["api-gateway"]) == {"warm", "source_change", "image_mb"}
    assert FakeBench.calls[0] == ("ours", "refresh", "")
    assert [c for _, c, _ in FakeBench.calls[1:3]] == ["warm", "source_change"]


def test_measure_rejects_unknown_cases_and_no_rounds(gateway, faked) -> None:
    with pytest.raises(ToolkitError, match="unknown build case"):
        bench_build.measure([gateway], cases=("tepid",))
    with pytest.raises(ToolkitError, match="rounds must be at least 1"):
        bench_build.measure([gateway], rounds=0)


def test_a_failed_build_names_service_and_case_and_cleans_up(gateway, faked) -> None:
    FakeBench.fail = ("baseline", "warm")
    with pytest.raises(ToolkitError, match=r"api-gateway \(baseline, warm\)"):
        bench_build.measure([gateway], rounds=1, progress=lambda message: None)
    assert "tiered/api-gateway:bench" in faked.removed  # images removed even so
    assert "tiered-seed/api-gateway:online" in faked.removed


def test_seed_builds_choose_the_variant_and_the_cache_of_each_case(gateway, monkeypatch, tmp_path):
    calls = []

    def fake_build(argv, name, cache, log, what):
        calls.append((name, cache))
        return 1.0

    monkeypatch.setattr(seed_strategy, "compose_build", fake_build)
    seed = object.__new__(seed_strategy.SeedBuilds)  # no contexts: only the build choices
    seed.service, seed.argv = gateway, ["docker", "compose"]
    for case in bench_build.CASES:
        seed.build(case, tmp_path / f"{case}.log", case)
    seed.refresh(tmp_path / "refresh.log")
    assert calls == [
        ("api-gateway", False),
        ("api-gateway-online", False),
        ("api-gateway", True),
        ("api-gateway", True),
        ("api-gateway", True),
    ]


def test_service_bench_hands_the_baseline_to_its_seed_builds(gateway, tmp_path) -> None:
    class Seed:
        def __init__(self, service, workdir: Path, cases) -> None:
            self.calls: list[tuple[str, str]] = []
            self.source = workdir / "main.py"
            self.source.write_text("app = 1\n")

        def build(self, case: str, log: Path, what: str) -> float:
            self.calls.append((case, what))
            return 2.0

        def refresh(self, log: Path) -> None:
            self.calls.append(("refresh", log.name))

    bench = bench_build.ServiceBench(gateway, tmp_path / "work", ("warm",), Seed)
    bench.logs = tmp_path
    seconds, log = bench.build("baseline", "source_change", "round 1/1")
    assert (seconds, log.name) == (2.0, "bench-api-gateway-baseline-source_change.log")
    assert bench.seed.source.read_text().startswith("app = 1\n# benchmark source change ")
    bench.refresh("baseline")
    assert bench.seed.calls == [
        ("source_change", "benchmark of api-gateway (baseline, source_change, round 1/1)"),
        ("refresh", "bench-api-gateway-baseline-refresh.log"),
    ]
    assert bench_build.ServiceBench(gateway, tmp_path / "alone", ("warm",), None).seed is None
