"""A results document as people read it: markdown tables, a PNG chart, and regressions.

`write_report` puts `<stem>.md` and `<stem>.png` next to the run's JSON; `compare` lists the
figures that got worse than an earlier run's by more than a tolerance (`nox -s bench --
--compare FILE` exits non-zero on any). Each part (toolkit/bench/parts/) renders its own
sections, panels and figures; a section a run lacks is left out.
"""

from __future__ import annotations

from pathlib import Path

from toolkit.bench import chart, fmt, parts, results
from toolkit.catalog import Catalog

TOLERANCE = 0.25
# Below these changes a figure is noise, whatever its relative change (units of the figure).
FLOORS = {"s": 0.5, "MB": 5.0, "ms": 1.0, "us": 10.0, "rps": 1.0, "ticks/s": 10.0}


def paths_for(run: dict, json_path: Path | None = None) -> tuple[Path, Path]:
    """Where the markdown and the chart of a run go: beside its JSON (results.save's name)."""
    if json_path is None:
        stamp = run["started"].replace(":", "").replace("-", "").replace("+0000", "Z")
        json_path = results.RESULTS_DIR / f"bench-{stamp}.json"
    return json_path.with_suffix(".md"), json_path.with_suffix(".png")


def markdown(run: dict, catalog: Catalog | None, tolerance: float = TOLERANCE) -> str:
    scope = run.get("scope") or {}
    lines = [
        f"# Benchmark report, {run.get('started', 'unknown time')}",
        "",
        "Scope: " + (", ".join(f"{k} {v}" for k, v in scope.items()) or "not recorded") + ".",
        "",
        f"Regressions (`nox -s bench -- --compare FILE`): a lower-is-better figure that grew "
        f"by more than {tolerance:.0%} (and by more than {FLOORS['s']} s, {FLOORS['MB']:.0f} MB, "
        f"{FLOORS['ms']:.0f} ms or {FLOORS['us']:.0f} µs), or requests per second that dropped "
        f"by more than {tolerance:.0%}.",
        "",
    ]
    for part in parts.in_report_order():
        lines += part.markdown(run, catalog)
    machine = run.get("machine") or {}
    lines += [
        "## Machine",
        "",
        *fmt.table(["fact", "value"], [[k, str(v)] for k, v in machine.items()]),
    ]
    return "\n".join(lines) + "\n"


def write_report(
    run: dict, catalog: Catalog | None, json_path: Path | None = None, tolerance: float = TOLERANCE
) -> tuple[Path, Path]:
    """Write `<stem>.md` and `<stem>.png` beside the run's JSON; returns both paths."""
    md_path, png_path = paths_for(run, json_path)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(run, catalog, tolerance) + f"\n![chart]({png_path.name})\n")
    chart.chart(run, catalog, png_path)
    return md_path, png_path


# ---- regressions ------------------------------------------------------------------------------


def figures(run: dict) -> dict[str, tuple[float, str, bool]]:
    """Every comparable figure of a run: name -> (value, unit, higher_is_better)."""
    found: dict[str, tuple[float, str, bool]] = {}
    for part in parts.in_report_order():
        for figure in part.figures(run):
            value = fmt.median(figure.value)  # type: ignore[arg-type]
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[figure.name] = (float(value), figure.unit, figure.higher_is_better)
    return found


def compare(current: dict, previous: dict, tolerance: float = TOLERANCE) -> list[str]:
    """Figures of `current` worse than in `previous` by more than `tolerance` (a fraction) and
    by more than the unit's floor; figures measured in only one of them are not compared, nor
    the seed-strategy baseline's (a yardstick, not ours)."""
    before = figures(previous)
    regressions = []
    for name, (now, unit, higher) in figures(current).items():
        if name not in before:
            continue
        then = before[name][0]
        change = (now - then) / then if then else 0.0
        worse = (then - now) if higher else (now - then)
        limit = tolerance * then
        if worse > limit and worse > FLOORS.get(unit, 0.0):
            regressions.append(
                f"{name}: {fmt.num(then, unit)} → {fmt.num(now, unit)} ({change:+.0%}, "
                f"tolerance {tolerance:.0%})"
            )
    return regressions
