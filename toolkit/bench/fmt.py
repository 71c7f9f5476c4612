"""How figures are written in a report: numbers, spreads, ratios, verdicts, markdown tables, and
the catalog's budgets beside them. Shared by the parts' renderers (toolkit/bench/parts/)."""

from __future__ import annotations

from collections.abc import Iterator

from toolkit.catalog import Catalog

PASS, FAIL = "✅ pass", "❌ **FAIL**"


def budget(catalog: Catalog | None, service: str, measure: str) -> tuple[float | None, ...]:
    """(seed's figure, our target) of a service's budget in the catalog, else (None, None)."""
    if catalog is None or service not in catalog.services:
        return None, None
    found = catalog.services[service].budgets.get(measure)
    return (found.seed, found.target) if found else (None, None)


def num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = (
        f"{value:.2f}"
        if abs(value) < 10
        else f"{value:.1f}"
        if abs(value) < 1000
        else f"{value:.0f}"
    )
    return f"{text} {unit}".strip()


def spread(figure: dict | float | None, unit: str = "s") -> str:
    """`median (min-max)` of a summary, or the plain number."""
    if figure is None:
        return "—"
    if isinstance(figure, dict):
        if figure.get("min") == figure.get("max"):
            return num(figure.get("median"), unit)
        low, high = num(figure.get("min")), num(figure.get("max"))
        return f"{num(figure.get('median'), unit)} ({low}-{high})"
    return num(figure, unit)


def median(figure: dict | float | None) -> float | None:
    if isinstance(figure, dict):
        return figure.get("median")
    return figure


def ratio(value: float | None) -> str:
    if not value:
        return "—"
    if value <= 1:
        return f"{value:.2f} ({1 / value:.1f}x faster)"
    return f"{value:.2f} ({value:.1f}x slower)"


def table(columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def verdict(checks: list[tuple[str, bool]]) -> str:
    if not checks:
        return "—"
    failed = [name for name, ok in checks if not ok]
    return PASS if not failed else f"{FAIL} ({'; '.join(failed)})"


def seconds(figure: dict) -> str:
    return f"{figure['median']:.1f} s"


def generic_section(title: str, section: dict) -> list[str]:
    """Any section as rows of key path and value (memory, layers, devloop, or a new one)."""

    def walk(prefix: str, value: object) -> Iterator[list[str]]:
        if isinstance(value, dict) and "median" in value:
            yield [prefix, spread(value, "")]
        elif isinstance(value, dict):
            for key, inner in value.items():
                yield from walk(f"{prefix} · {key}" if prefix else str(key), inner)
        elif isinstance(value, float | int) and not isinstance(value, bool):
            yield [prefix, num(value)]
        else:
            yield [prefix, str(value)]

    rows = list(walk("", section))
    return [f"## {title}", "", *table(["figure", "value"], rows), ""]


def generic(title: str, section: str):
    """A part's markdown: its section, when the run has it, as generic_section renders it."""

    def render(run: dict, catalog: Catalog | None) -> list[str]:
        found = run.get(section)
        return generic_section(title, found) if found else []

    return render
