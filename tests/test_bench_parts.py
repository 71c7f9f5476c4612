"""toolkit/bench/parts/: the parts as declared, the committed reference results read and
compared by them, their charts, and a part added in one place (no Docker)."""

from __future__ import annotations

import json

import pytest

from toolkit import catalog
from toolkit.bench import chart, cli, fmt, parts, report, results
from toolkit.bench import plan as plan_mod
from toolkit.bench.part import Figure, Measure, Panel, Part, Series
from toolkit.catalog import ROOT

REFERENCES = sorted(results.RESULTS_DIR.glob("reference-*.json"))
BENCH_REFERENCES = [p for p in REFERENCES if "schema" in json.loads(p.read_text())]
LINE_LIMIT = 400


@pytest.fixture(scope="module")
def tiered() -> catalog.Catalog:
    return catalog.load()


def test_the_parts_in_running_order() -> None:
    assert parts.names() == (
        "build",
        "start",
        "http",
        "memory",
        "stream",
        "ai",
        "in_process",
        "layers",
        "devloop",
    )
    assert parts.SECTIONS == (
        "build",
        "baseline",
        "start",
        "latency",
        "memory",
        "stream",
        "ai",
        "layers",
        "devloop",
    )
    assert {p.name: p.service for p in parts.PARTS if p.service} == {
        "stream": "data-bridge",
        "ai": "ai-orchestration",
    }
    assert parts.get("http").measure is parts.get("memory").measure  # one step


def test_every_module_of_the_bench_is_short() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / "toolkit" / "bench").rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > LINE_LIMIT
    }
    assert not long, f"over {LINE_LIMIT} lines: {long}"


def test_the_reference_files_are_bench_documents_except_chaos_and_swarm() -> None:
    assert len(BENCH_REFERENCES) >= 10
    others = [p.name for p in REFERENCES if p not in BENCH_REFERENCES]
    # toolkit.chaos's document (faults) and toolkit.swarmcheck's (figures and checks)
    assert others == ["reference-chaos.json", "reference-swarm.json"]
    assert "faults" in json.loads((results.RESULTS_DIR / "reference-chaos.json").read_text())
    assert "checks" in json.loads((results.RESULTS_DIR / "reference-swarm.json").read_text())


@pytest.mark.parametrize("path", BENCH_REFERENCES, ids=lambda p: p.stem)
def test_each_reference_loads_and_compares_with_itself(path, tiered) -> None:
    run = results.load(path)
    assert report.figures(run), "no comparable figure"
    assert report.compare(run, run) == []
    assert cli.compare(run, path, report.TOLERANCE) == 0
    assert report.markdown(run, tiered).startswith("# Benchmark report")


@pytest.mark.parametrize("path", BENCH_REFERENCES, ids=lambda p: p.stem)
def test_each_reference_chart_shows_what_it_measured(path, tiered, tmp_path) -> None:
    run = results.load(path)
    drawn = chart.panels(run, tiered)
    measured = {p.name for p in parts.PARTS if any(run.get(s) for s in p.sections)}
    assert drawn and all(drawn_panel for _, drawn_panel in drawn)  # no empty panel
    assert {name for name, _ in drawn} <= measured
    if run.get("start"):
        assert any("Start to healthy" in panel.title for _, panel in drawn)
    png = chart.chart(run, tiered, tmp_path / "chart.png")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_the_committed_charts_of_runtime_runs_are_not_empty() -> None:
    # They were drawn by the build chart alone: two "not measured" panels (about 29 kB).
    for path in BENCH_REFERENCES:
        if not results.load(path).get("build"):
            assert path.with_suffix(".png").stat().st_size > 35_000, path.name


def test_a_panel_without_values_is_not_drawn() -> None:
    assert not Panel("t", "s", ["a"], [Series("x", "#000", [None])])
    assert not Panel("t", "s", [], [])
    assert Panel("t", "s", ["a"], [Series("x", "#000", [0.0])])


def test_a_new_part_is_one_declaration(monkeypatch, tiered, tmp_path) -> None:
    """A part added to the registry is selectable, measured, reported, charted and compared,
    with no other table to edit."""

    def measure(plan, run):
        run["queue"] = {"api-gateway": {"depth": 3.0}}

    queue = Part(
        name="queue",
        order=65,
        measure=Measure(measure, lambda plan, selected, medians: 7.0, lambda plan: "a queue"),
        sections=("queue",),
        markdown=fmt.generic("Queue depth", "queue"),
        panels=lambda run, cat: [
            Panel("Queue", "", ["api-gateway"], [Series("depth", "#000", [3.0])])
        ],
        figures=lambda run: [Figure("queue api-gateway", run["queue"]["api-gateway"]["depth"], "")],
    )
    monkeypatch.setattr(parts, "PARTS", tuple(sorted((*parts.PARTS, queue), key=lambda p: p.order)))
    chosen = plan_mod.make_plan(tiered, cli.parse_args(["--parts", "queue,layers"]))
    assert chosen.parts == ("queue", "layers")
    assert plan_mod.estimate(chosen)["queue"] == (7.0, "a rough guess")
    run = {"schema": results.SCHEMA, "started": "2026-11-29T12:00:00+00:00", "queue": {}}
    queue.measure.measure(chosen, run)
    assert "## Queue depth" in report.markdown(run, tiered)
    assert [name for name, _ in chart.panels(run, tiered)] == ["queue"]
    worse = {**run, "queue": {"api-gateway": {"depth": 9.0}}}
    assert report.compare(worse, run) == ["queue api-gateway: 3.00 → 9.00 (+200%, tolerance 25%)"]
