"""toolkit/bench/ (cli, plan, run) without Docker: arguments and scope, the estimate, a run
whose parts are faked (one failing, one interrupted), and the exit code of a comparison."""

from __future__ import annotations

import dataclasses
import json

import pytest

from toolkit import catalog
from toolkit.bench import cli, parts, report, results
from toolkit.bench import plan as plan_mod
from toolkit.bench import run as run_mod
from toolkit.bench.measure import build as bench_build
from toolkit.bench.parts import build as build_part
from toolkit.bench.parts import devloop as devloop_part
from toolkit.bench.parts import in_process as in_process_part
from toolkit.bench.parts import layers as layers_part
from toolkit.bench.parts import load as load_part
from toolkit.bench.parts import start as start_part
from toolkit.errors import ToolkitError

CORE = ["api-gateway", "user-service", "database-service"]


@pytest.fixture
def core() -> catalog.Catalog:
    return catalog.load()


def plan(cat: catalog.Catalog, *argv: str) -> plan_mod.Plan:
    return plan_mod.make_plan(cat, cli.parse_args(list(argv)))


def names(chosen: plan_mod.Plan) -> list[str]:
    return [s.name for s in chosen.services]


# ---- arguments and scope ---------------------------------------------------------------------


def test_defaults_are_the_core_profile_every_part_three_rounds(core) -> None:
    chosen = plan(core)
    # no data-bridge nor ai-orchestration in core
    core_parts = tuple(p for p in parts.names() if p not in ("stream", "ai"))
    assert (names(chosen), chosen.profile, chosen.parts) == (CORE, "core", core_parts)
    assert (chosen.rounds, chosen.quick, chosen.baseline) == (3, False, True)
    assert build_part.cases(chosen) == bench_build.CASES
    args = cli.parse_args([])
    assert args.tolerance == report.TOLERANCE and args.compare is None


def test_tier_services_and_profile_select_services_and_profile(core, multi_tier) -> None:
    assert (names(plan(core, "--tier", "1")), plan(core, "--tier", "1").profile) == (CORE, "core")
    gateway = plan(core, "--services", "api-gateway")
    assert (names(gateway), gateway.profile) == (["api-gateway"], "core")
    assert names(plan(core, "--services", "user-service,api-gateway")) == [
        "api-gateway",
        "user-service",
    ]  # comma or space separated, in catalog order
    assert names(plan(core, "--profile", "core")) == CORE
    assert plan(multi_tier, "--tier", "3").profile == "ai"
    assert plan(multi_tier, "--services", "training-service").profile == "full"
    assert plan(multi_tier, "--profile", "data").profile == "data"
    assert [s.name for s in gateway.running_services] == ["api-gateway"]


def test_the_ai_part_runs_with_ai_orchestration_only(core) -> None:
    assert "ai" in plan(core, "--profile", "ai").parts
    assert "ai" in plan(core, "--profile", "full").parts
    assert "ai" not in plan(core, "--profile", "data").parts
    with pytest.raises(ToolkitError, match="ai-orchestration") as caught:
        plan(core, "--services", "ai-provider", "--parts", "ai")
    assert caught.value.fix == "add it: --services ai-orchestration or --profile ai"


def test_the_stream_part_runs_with_data_bridge_only(core) -> None:
    assert "stream" in plan(core, "--profile", "data").parts
    assert "stream" in plan(core, "--services", "data-bridge").parts
    with pytest.raises(ToolkitError, match="data-bridge"):
        plan(core, "--parts", "stream,http")


def test_a_tier_without_services_names_the_tiers_that_have_some(core) -> None:
    emptied = dataclasses.replace(
        core, services={n: s for n, s in core.services.items() if s.tier != 3}
    )
    with pytest.raises(ToolkitError, match="tier 3 has no services yet") as caught:
        plan(emptied, "--tier", "3")
    assert caught.value.fix == "choose a tier with services: 1, 2, 4, 5"


def test_scope_arguments_exclude_each_other(core) -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["--tier", "1", "--services", "api-gateway"])


@pytest.mark.parametrize(
    ("argv", "problem", "valid"),
    [
        (["--services", "api-gatewy"], "unknown service 'api-gatewy'", "api-gateway"),
        (["--profile", "huge"], "unknown profile 'huge'", "core, data, ai, full"),
        (["--tier", "9"], "unknown tier 9", "1 (core)"),
        (["--parts", "build,warp"], "unknown part(s): warp", "in_process"),
        (["--rounds", "0"], "rounds must be at least 1", "--rounds"),
    ],
)
def test_unknown_names_list_the_valid_ones(core, argv, problem, valid) -> None:
    with pytest.raises(ToolkitError) as caught:
        plan(core, *argv)
    assert problem in caught.value.problem
    assert valid in caught.value.fix


def test_quick_means_one_round_and_the_cases_without_the_index(core) -> None:
    quick = plan(core, "--quick", "--no-baseline", "--parts", "layers, build")
    assert (quick.rounds, build_part.cases(quick), quick.baseline) == (
        1,
        bench_build.QUICK_CASES,
        False,
    )
    assert quick.parts == ("build", "layers")  # in running order
    assert plan(core, "--quick", "--rounds", "2").rounds == 2
    assert plan_mod.scope(quick) == {
        "kind": "bench",
        "services": CORE,
        "profile": "core",
        "rounds": 1,
        "quick": True,
        "parts": ["build", "layers"],
        "cases": list(bench_build.QUICK_CASES),
        "baseline": False,
    }
    assert "cases" not in plan_mod.scope(plan(core, "--parts", "start"))


def test_http_and_memory_are_one_step(core) -> None:
    steps = plan_mod.steps(plan(core))
    assert [s.name for s in steps] == [
        "build",
        "start",
        "http+memory",
        "in_process",
        "layers",
        "devloop",
    ]
    assert [s.name for s in plan_mod.steps(plan(core, "--parts", "memory,devloop"))] == [
        "memory",
        "devloop",
    ]


# ---- the estimate ----------------------------------------------------------------------------


def test_estimate_without_an_earlier_run_is_the_build_estimate_and_guesses(core) -> None:
    chosen = plan(core, "--services", "api-gateway", "--rounds", "2")
    expected = plan_mod.estimate(chosen)
    builds = bench_build.estimate(list(chosen.services), 2, bench_build.CASES, True, None)
    assert expected["build"] == (build_part.PREPARATION_GUESS + builds, "build medians, guesses")
    assert expected["start"] == (2 * start_part.ROUND_GUESS, "a rough guess")
    assert expected["http+memory"][0] == load_part.LOAD_GUESS[False] + load_part.MEMORY_GUESS
    guess = devloop_part.SERVICE_GUESS + 2 * devloop_part.ROUND_GUESS
    assert expected["devloop"][0] == guess
    quick = plan_mod.estimate(plan(core, "--quick", "--parts", "in_process"))
    assert quick["in_process"] == (3 * in_process_part.SERVICE_GUESS[True], "a rough guess")


def test_estimate_scales_the_newest_comparable_durations(core) -> None:
    earlier = {
        "scope": {"services": CORE, "rounds": 2, "quick": False, "baseline": True},
        "durations": {"start": 100.0, "layers": 30.0, "http+memory": 50.0, "build": 600.0},
        "errors": {"memory": "sampling memory under load failed"},
    }
    older = {
        "scope": {"services": ["api-gateway"], "rounds": 1, "quick": False},
        "durations": {"start": 10.0, "http+memory": 44.0},
    }
    runs = [(earlier, "bench-2.json"), (older, "bench-1.json")]
    chosen = plan(core, "--services", "api-gateway", "--rounds", "3")
    expected = plan_mod.estimate(chosen, runs)
    assert expected["start"] == (150.0, "bench-2.json")  # per round
    assert expected["layers"] == (10.0, "bench-2.json")  # per service
    assert expected["http+memory"] == (44.0, "bench-1.json")  # the newer one failed in it
    assert expected["build"][1] == "build medians, guesses"  # other builds: not comparable
    quick = plan_mod.estimate(plan(core, "--quick", "--parts", "start"), runs)
    assert quick["start"] == (start_part.ROUND_GUESS, "a rough guess")  # shorter loads


def test_guesses_weigh_heavier_tiers(multi_tier) -> None:
    light = plan_mod.estimate(plan(multi_tier, "--tier", "1", "--parts", "layers,start"))
    heavy = plan_mod.estimate(plan(multi_tier, "--tier", "5", "--parts", "layers,start"))
    assert light["layers"][0] == 3 * layers_part.SERVICE_GUESS
    assert heavy["layers"][0] == 15 * layers_part.SERVICE_GUESS
    assert heavy["start"][0] == 15 * light["start"][0]  # profile full against core


# ---- a run with its parts faked --------------------------------------------------------------


def faked(monkeypatch, **measures) -> None:
    """The parts measure with `measures` (by part name; parts sharing a Measure share the
    replacement) and need nothing prepared, so nothing touches Docker."""
    replaced: dict = {}
    for part in parts.PARTS:
        if part.name in measures and part.measure not in replaced:
            replaced[part.measure] = dataclasses.replace(part.measure, measure=measures[part.name])
    swapped = tuple(
        dataclasses.replace(p, measure=replaced.get(p.measure, p.measure)) for p in parts.PARTS
    )
    monkeypatch.setattr(parts, "PARTS", swapped)
    monkeypatch.setattr(run_mod, "prepare", lambda plan, needs: None)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Results in a temporary folder, machine facts without an engine."""
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(results, "machine_facts", lambda: {"cpus": 2})
    return tmp_path


def test_a_failing_part_is_recorded_and_the_others_are_saved(isolated, monkeypatch) -> None:
    ran = []

    def build(plan, run):
        ran.append("build")
        raise ToolkitError("benchmark of api-gateway (ours, warm): build failed", "see the log")

    def start(plan, run):
        ran.append("start")
        run["start"] = {"services": {"api-gateway": results.summary([4.0])}, "profiles": {}}

    def layers(plan, run):
        ran.append("layers")
        raise RuntimeError("dive crashed")

    faked(monkeypatch, build=build, start=start, layers=layers)
    argv = ["--services", "api-gateway", "--parts", "build,start,layers", "--output", "t.json"]
    assert cli.main(argv) == 1
    assert ran == ["build", "start", "layers"]
    saved = json.loads((isolated / "t.json").read_text())
    assert saved["start"]["services"]["api-gateway"]["median"] == 4.0
    assert saved["errors"] == {
        "build": "benchmark of api-gateway (ours, warm): build failed (fix: see the log)",
        "layers": "RuntimeError: dive crashed",
    }
    assert set(saved["durations"]) == {"build", "start", "layers"}
    markdown = (isolated / "t.md").read_text()
    assert "## Parts that failed" in markdown and "**layers**: RuntimeError" in markdown
    assert (isolated / "t.png").stat().st_size > 0
    assert not list(isolated.glob("*.tmp"))


def test_ctrl_c_saves_what_was_measured_and_runs_nothing_more(isolated, monkeypatch) -> None:
    ran = []

    def start(plan, run):
        ran.append("start")
        run["start"] = {"services": {"api-gateway": results.summary([4.0])}, "profiles": {}}

    def load(plan, run):
        raise KeyboardInterrupt

    faked(monkeypatch, start=start, http=load, layers=lambda plan, run: ran.append("layers"))
    argv = ["--parts", "start,http,layers", "--output", "ci/run.json"]
    assert cli.main(argv) == 130
    assert ran == ["start"]
    saved = json.loads((isolated / "ci" / "run.json").read_text())
    assert saved["errors"] == {"http": "interrupted (Ctrl-C)"}
    assert saved["start"]["services"]["api-gateway"]["median"] == 4.0
    assert not list(isolated.rglob("*.tmp"))


def test_an_interrupted_save_leaves_no_temporary_file(isolated, monkeypatch) -> None:
    write_text = type(isolated).write_text

    def interrupted(path, text):
        write_text(path, text[:10])  # half a file, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(type(isolated), "write_text", interrupted)
    run = {"started": "2026-11-29T12:00:00+00:00"}
    with pytest.raises(KeyboardInterrupt):
        run_mod.save(run, None)
    monkeypatch.undo()
    assert list(isolated.iterdir()) == []


# ---- comparing -------------------------------------------------------------------------------


def document(start_seconds: float) -> dict:
    run = {
        "schema": results.SCHEMA,
        "started": "2026-11-29T12:00:00+00:00",
        "scope": {"services": ["api-gateway"], "parts": ["start"]},
        "machine": {"cpus": 2},
    }
    run.update({section: {} for section in parts.SECTIONS})
    run["start"] = {"services": {"api-gateway": results.summary([start_seconds])}}
    return run


def test_compare_exits_non_zero_on_a_regression(isolated) -> None:
    fast = results.save(document(4.0), "fast.json")
    slow = results.save(document(9.0), "slow.json")
    assert cli.compare(document(4.0), fast, 0.25) == 0
    assert cli.compare(document(9.0), fast, 0.25) == 1
    assert cli.compare(document(9.0), fast, 2.0) == 0  # within a wide tolerance
    assert cli.main(["--report-only", str(fast), "--compare", str(fast)]) == 0
    assert cli.main(["--report-only", str(slow), "--compare", str(fast)]) == 1
    assert (isolated / "slow.md").is_file() and (isolated / "slow.png").is_file()
    assert cli.main(["--report-only", str(isolated / "missing.json")]) == 1
