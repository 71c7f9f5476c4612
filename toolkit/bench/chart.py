"""The PNG charts: a benchmark run's panels (each part draws what it measured, from the run's
document alone), and the chaos run's chart (toolkit/chaos.py)."""

from __future__ import annotations

from pathlib import Path

from toolkit.bench import fmt, parts
from toolkit.bench.part import Panel
from toolkit.catalog import Catalog

COLUMNS = 2
ROW_HEIGHT = 5.0
MAX_WIDTH = 22.0
HORIZONTAL_FROM = 8  # labels
TITLE_HEIGHT = 0.6  # inches above the panels


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def panels(run: dict, catalog: Catalog | None) -> list[tuple[str, Panel]]:
    """(part name, panel) of every panel with a figure in it, in the report's order."""
    return [
        (part.name, panel)
        for part in parts.in_report_order()
        for panel in part.panels(run, catalog)
        if panel
    ]


def _horizontal(panel: Panel) -> bool:
    """Many labels (in-process benchmarks) read better as horizontal bars."""
    return len(panel.labels) > HORIZONTAL_FROM


def _width(panel: Panel) -> float:
    return 8.0 if _horizontal(panel) else max(6.0, 1.1 * len(panel.labels) + 2.5)


def _height(panel: Panel) -> float:
    bars_drawn = len(panel.labels) * max(1, len(panel.series))
    return max(ROW_HEIGHT, 0.3 * bars_drawn + 1.5) if _horizontal(panel) else ROW_HEIGHT


def chart(run: dict, catalog: Catalog | None, path: Path) -> Path:
    """One panel per measured figure family (build times, image sizes, start times, latency
    percentiles, throughput, memory, ...), two to a row; a run that measured nothing gets a
    chart that says so, and no empty axes."""
    plt = _pyplot()
    drawn = panels(run, catalog)
    started = run.get("started", "")
    if not drawn:
        figure = plt.figure(figsize=(8, 2))
        figure.text(0.5, 0.5, f"benchmark {started}: this run has no figures", ha="center")
    else:
        columns = min(COLUMNS, len(drawn))
        rows = [drawn[i : i + columns] for i in range(0, len(drawn), columns)]
        heights = [max(_height(p) for _, p in row) for row in rows]
        width = min(MAX_WIDTH, columns * max(_width(p) for _, p in drawn))
        figure, axes = plt.subplots(
            len(rows),
            columns,
            figsize=(width, sum(heights) + TITLE_HEIGHT),
            squeeze=False,
            gridspec_kw={"height_ratios": heights},
        )
        flat = [axis for row in axes for axis in row]
        for axis, (_, panel) in zip(flat, drawn, strict=False):
            bars(axis, panel)
        for axis in flat[len(drawn) :]:
            axis.set_visible(False)
        names = ", ".join(dict.fromkeys(name for name, _ in drawn))
        figure.suptitle(f"benchmark {started}: {names}")
        figure.tight_layout(rect=(0, 0, 1, 1 - TITLE_HEIGHT / (sum(heights) + TITLE_HEIGHT)))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def bars(axis, panel: Panel) -> None:
    """Grouped bars: one group per label, one bar per series, each bar labelled with its
    value; horizontal when there are many labels."""
    axis.set_title(panel.title, fontsize=10)
    horizontal = _horizontal(panel)
    count = len(panel.series)
    width = 0.6 if count == 1 else 0.8 / count
    for index, series in enumerate(panel.series):
        xs = [i + (index - (count - 1) / 2) * width for i in range(len(panel.labels))]
        shown = [(x, v) for x, v in zip(xs, series.values, strict=True) if v is not None]
        if not shown:
            continue
        values = [v for _, v in shown]
        draw = axis.barh if horizontal else axis.bar
        drawn = draw([x for x, _ in shown], values, width, label=series.name, color=series.colour)
        labels = [str(v) if isinstance(v, int) else fmt.num(v) for v in values]
        axis.bar_label(drawn, labels=labels, fontsize=8, padding=2)
    if horizontal:
        axis.set_yticks(range(len(panel.labels)), panel.labels, fontsize=8)
        axis.invert_yaxis()  # the first label on top, as in the report's table
        if panel.log:
            axis.set_xscale("log")
        axis.set_xlabel(panel.unit)
        axis.margins(x=0.15)
    else:
        axis.set_xticks(range(len(panel.labels)), panel.labels, fontsize=8)
        if panel.log:
            axis.set_yscale("log")
        axis.set_ylabel(panel.unit)
        axis.margins(y=0.15)
    if count > 1:
        axis.legend(fontsize=8)


def chaos_chart(faults: list[dict], path: Path) -> Path:
    """Per fault: acknowledged beside stored (lost and duplicated must be 0), and the seconds
    until the killed component was healthy again."""
    plt = _pyplot()

    labels = [f["fault"].replace("SIGKILL ", "").replace(", ", ",\n") for f in faults]
    positions = range(len(faults))
    figure, axes = plt.subplots(1, 2, figsize=(max(10, 1.6 * len(faults) + 4), 5))
    width = 0.4
    shares = [
        (f["stored"] - f["duplicated"]) / f["acknowledged"] if f["acknowledged"] else 0
        for f in faults
    ]
    axes[0].bar(positions, [1.0] * len(faults), width, label="acknowledged", color="#999999")
    axes[0].bar([p + width for p in positions], shares, width, label="stored once", color="#2b8a3e")
    axes[0].set_title("Acknowledged items stored exactly once (share)")
    axes[0].set_ylim(0, 1.1)
    axes[0].legend(loc="lower right")
    seconds = [f["recovery_s"] or 0 for f in faults]
    axes[1].bar(positions, seconds, 0.6, color="#1c7ed6")
    axes[1].set_title("Seconds from SIGKILL to healthy again")
    for axis in axes:
        axis.set_xticks([p + width / 2 for p in positions] if axis is axes[0] else positions)
        axis.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
