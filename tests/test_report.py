"""toolkit/bench/report.py: markdown tables, the chart, regressions between two runs (no Docker)."""

from __future__ import annotations

import copy

import pytest

from toolkit import catalog
from toolkit.bench import chart, fmt, parts, report, results


def summary(*samples: float) -> dict:
    return results.summary(list(samples))


def run_document(**sections) -> dict:
    run = {
        "schema": results.SCHEMA,
        "started": "2026-11-29T12:00:00+00:00",
        "scope": {"services": ["api-gateway", "user-service"], "rounds": 3},
        "machine": {"cpus": 2, "engine": "20.10.24"},
    }
    run.update({section: {} for section in parts.SECTIONS})
    run.update(sections)
    return run


@pytest.fixture
def run() -> dict:
    return run_document(
        build={
            "api-gateway": {
                "cold_wheelhouse": summary(6.0, 5.0, 7.0),
                "cold_online": summary(6.0),
                "warm": summary(0.2),
                "source_change": summary(0.7, 0.6, 0.9),
                "image_mb": 100.0,
            },
            "user-service": {"cold_wheelhouse": summary(9.0), "image_mb": 140.0},
        },
        baseline={
            "api-gateway": {
                "cold_wheelhouse": summary(12.0),
                "cold_online": summary(30.0),
                "warm": summary(0.2),
                "source_change": summary(1.0),
                "image_mb": 200.0,
            },
            "user-service": {"cold_wheelhouse": summary(10.0), "image_mb": 150.0},
        },
    )


@pytest.fixture
def tiered() -> catalog.Catalog:
    return catalog.load()


def row(text: str, *cells: str) -> str:
    """The markdown line that starts with these cells."""
    prefix = "| " + " | ".join(cells) + " |"
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, f"no single row starting {prefix!r} in:\n{text}"
    return lines[0]


def test_build_rows_show_spread_ratio_seed_claim_and_verdict(run, tiered) -> None:
    text = report.markdown(run, tiered)
    cold = row(text, "api-gateway", "cold, wheelhouse")
    assert "6.00 s (5.00-7.00)" in cold
    assert "12.0 s" in cold
    assert "0.50 (2.0x faster)" in cold
    assert "30.0 s" in cold  # the seed's claimed build time, from the catalog
    assert fmt.PASS in cold
    slow = row(text, "user-service", "cold, wheelhouse")
    assert fmt.FAIL in slow and "only 1.11x faster" in slow
    online = row(text, "api-gateway", "cold, online index")
    assert "≥ 3.0x faster" in online and fmt.PASS in online
    assert fmt.PASS in row(text, "api-gateway", "one-line source change")


def test_image_rows_check_against_baseline_seed_and_target(run, tiered) -> None:
    text = report.markdown(run, tiered)
    good = row(text, "api-gateway", "100.0 MB", "200.0 MB")
    assert fmt.PASS in good
    bad = row(text, "user-service", "140.0 MB", "150.0 MB")
    assert fmt.FAIL in bad and "only 7% smaller than the baseline" in bad


def test_report_states_tolerance_and_machine(run, tiered) -> None:
    text = report.markdown(run, tiered, tolerance=0.3)
    assert "more than 30%" in text
    assert row(text, "cpus", "2")


def test_absent_and_partial_sections_render(tiered) -> None:
    partial = run_document(
        build={"api-gateway": {"warm": summary(0.3)}},
        start={
            "services": {"api-gateway": 9.0},
            "own": {"api-gateway": 4.2},
            "profiles": {"core": summary(20.0, 22.0)},
        },
        latency={
            "http": {"api-gateway /health": {"p50_ms": 3.0, "p95_ms": 8.0, "rps": 900.0}},
            "in_process": {"api-gateway": {"test_token": {"median_us": 12.5}}},
        },
        memory={"api-gateway": {"idle_mb": 60.0}},
        devloop={"api-gateway": summary(1.5, 1.2, 2.0)},
    )
    del partial["layers"]
    text = report.markdown(partial, tiered)
    assert "Image size" not in text  # no image figure measured
    assert "—" in row(text, "api-gateway", "warm (no change)")  # no baseline: no ratio
    assert fmt.PASS in row(text, "api-gateway", "4.20 s")
    assert fmt.FAIL in row(text, "profile core", "—", "21.0 s (20.0-22.0)")  # target 20 s
    assert row(text, "api-gateway /health", "3.00", "8.00", "—", "900.0")  # no latency budget
    assert row(text, "api-gateway", "test_token", "12.5")
    assert row(text, "api-gateway · idle_mb", "60.0")
    assert row(text, "api-gateway", "1.50 (1.20-2.00)")


def test_an_empty_run_still_renders() -> None:
    text = report.markdown(run_document(), None)
    assert text.startswith("# Benchmark report")


def test_write_report_puts_markdown_and_png_beside_the_json(run, tiered, tmp_path) -> None:
    md, png = report.write_report(run, tiered, tmp_path / "bench-x.json")
    assert md == tmp_path / "bench-x.md" and png == tmp_path / "bench-x.png"
    assert "![chart](bench-x.png)" in md.read_text()
    data = png.read_bytes()
    assert len(data) > 1000 and data.startswith(b"\x89PNG\r\n\x1a\n")


def test_chart_of_a_run_without_build_figures(tmp_path) -> None:
    path = chart.chart(run_document(), None, tmp_path / "empty.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_default_paths_match_the_saved_json(run, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    saved = results.save(run)
    md, png = report.paths_for(run)
    assert (md.stem, md.parent) == (saved.stem, saved.parent) == (png.stem, png.parent)


def test_compare_flags_a_doubling_but_not_ten_percent(run) -> None:
    previous = copy.deepcopy(run)
    current = copy.deepcopy(run)
    current["build"]["api-gateway"]["cold_wheelhouse"] = summary(12.0)  # 2x
    current["build"]["user-service"]["cold_wheelhouse"] = summary(9.9)  # +10 %
    regressions = report.compare(current, previous)
    assert len(regressions) == 1
    assert "build api-gateway cold_wheelhouse" in regressions[0]
    assert "+100%" in regressions[0]


def test_compare_floors_ignore_noise_on_small_figures(run) -> None:
    previous = copy.deepcopy(run)
    current = copy.deepcopy(run)
    current["build"]["api-gateway"]["warm"] = summary(0.4)  # 2x, but only 0.2 s
    current["build"]["api-gateway"]["image_mb"] = 103.2  # +3.2 MB, under the 5 MB floor
    previous["latency"] = {"http": {"x": {"p50_ms": 0.5, "p95_ms": 2.0, "rps": 100.0}}}
    current["latency"] = {"http": {"x": {"p50_ms": 1.2, "p95_ms": 6.0, "rps": 100.0}}}
    regressions = report.compare(current, previous)
    assert regressions == [
        "latency x p95: 2.00 ms → 6.00 ms (+200%, tolerance 25%)"
    ]  # p50 grew 140 % but by less than the 1 ms floor


def test_compare_rps_is_higher_is_better_and_sections_are_all_read() -> None:
    previous = run_document(
        latency={"http": {"login": {"rps": 400.0}, "health": {"rps": 1000.0}}},
        start={"services": {"api-gateway": 4.0}},
        memory={"api-gateway": {"idle_mb": 60.0, "load_mb": 80.0}},
        devloop={"api-gateway": summary(2.0)},
    )
    current = run_document(
        latency={"http": {"login": {"rps": 200.0}, "health": {"rps": 2000.0}}},
        start={"services": {"api-gateway": 9.0}},
        memory={"api-gateway": {"idle_mb": 61.0, "load_mb": 200.0}},
        devloop={"api-gateway": summary(2.1)},
    )
    regressions = report.compare(current, previous)
    names = sorted(r.split(":")[0] for r in regressions)
    assert names == ["latency login rps", "memory api-gateway load", "start api-gateway"]


def test_compare_skips_figures_measured_in_only_one_run(run) -> None:
    previous = run_document(build={"api-gateway": {"warm": summary(0.2)}})
    assert report.compare(run, previous) == []
    assert report.compare(previous, run) == []
