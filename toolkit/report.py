"""A results document as people read it: markdown tables, a PNG chart, and regressions.

`write_report` puts `<stem>.md` and `<stem>.png` next to the run's JSON; `compare` lists the
figures that got worse than an earlier run's by more than a tolerance (`nox -s bench --
--compare FILE` exits non-zero on any). Sections a run lacks are left out; sections other
modules fill are rendered from the shapes toolkit/results.py documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from toolkit import results
from toolkit.catalog import Catalog

TOLERANCE = 0.25
# Below these changes a figure is noise, whatever its relative change (units of the figure).
FLOORS = {"s": 0.5, "MB": 5.0, "ms": 1.0, "us": 10.0, "rps": 1.0, "ticks/s": 10.0}
# The targets against the seed-strategy baseline (ours / baseline at most this).
RATIO_TARGETS = {"cold_wheelhouse": 1 / 1.5, "cold_online": 1 / 3}
IMAGE_RATIO_TARGET = 0.75  # at least 25 % smaller than the baseline and the seed's figure
SOURCE_CHANGE_TARGET = 3.0  # seconds, when the catalog has no source_change_seconds budget
# Catalog budget per build case (a case whose budget the catalog lacks has no seed figure).
CASE_BUDGETS = {
    "cold_wheelhouse": "build_seconds",
    "cold_online": "build_online_seconds",
    "warm": "warm_seconds",
    "source_change": "source_change_seconds",
}
CASE_NAMES = {
    "cold_wheelhouse": "cold, wheelhouse",
    "cold_online": "cold, online index",
    "warm": "warm (no change)",
    "source_change": "one-line source change",
}
PASS, FAIL = "✅ pass", "❌ **FAIL**"


def paths_for(run: dict, json_path: Path | None = None) -> tuple[Path, Path]:
    """Where the markdown and the chart of a run go: beside its JSON (results.save's name)."""
    if json_path is None:
        stamp = run["started"].replace(":", "").replace("-", "").replace("+0000", "Z")
        json_path = results.RESULTS_DIR / f"bench-{stamp}.json"
    return json_path.with_suffix(".md"), json_path.with_suffix(".png")


def _budget(catalog: Catalog | None, service: str, measure: str) -> tuple[float | None, ...]:
    if catalog is None or service not in catalog.services:
        return None, None
    budget = catalog.services[service].budgets.get(measure)
    return (budget.seed, budget.target) if budget else (None, None)


def _num(value: float | None, unit: str = "") -> str:
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


def _spread(figure: dict | float | None, unit: str = "s") -> str:
    """`median (min-max)` of a summary, or the plain number."""
    if figure is None:
        return "—"
    if isinstance(figure, dict):
        if figure.get("min") == figure.get("max"):
            return _num(figure.get("median"), unit)
        low, high = _num(figure.get("min")), _num(figure.get("max"))
        return f"{_num(figure.get('median'), unit)} ({low}-{high})"
    return _num(figure, unit)


def _median(figure: dict | float | None) -> float | None:
    if isinstance(figure, dict):
        return figure.get("median")
    return figure


def _ratio(ratio: float | None) -> str:
    if not ratio:
        return "—"
    if ratio <= 1:
        return f"{ratio:.2f} ({1 / ratio:.1f}x faster)"
    return f"{ratio:.2f} ({ratio:.1f}x slower)"


def _table(columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _verdict(checks: list[tuple[str, bool]]) -> str:
    if not checks:
        return "—"
    failed = [name for name, ok in checks if not ok]
    return PASS if not failed else f"{FAIL} ({'; '.join(failed)})"


# ---- build ----------------------------------------------------------------------------------


def _build_rows(run: dict, catalog: Catalog | None) -> list[list[str]]:
    rows = []
    base = run.get("baseline") or {}
    for service, cases in (run.get("build") or {}).items():
        for case, figure in cases.items():
            if not isinstance(figure, dict) or "median" not in figure:
                continue
            ours = figure["median"]
            theirs = _median((base.get(service) or {}).get(case))
            ratio = ours / theirs if theirs else None
            seed, target = _budget(catalog, service, CASE_BUDGETS.get(case, ""))
            if case == "source_change" and target is None:
                target = SOURCE_CHANGE_TARGET
            checks, wanted = [], []
            if target is not None:
                wanted.append(f"≤ {_num(target, 's')}")
                checks.append((f"{_num(ours, 's')} > {_num(target, 's')}", ours <= target))
            if case in RATIO_TARGETS:
                limit = RATIO_TARGETS[case]
                wanted.append(f"≥ {1 / limit:.1f}x faster than baseline")
                if ratio is not None:
                    checks.append((f"only {1 / ratio:.2f}x faster", ratio <= limit))
            rows.append(
                [
                    service,
                    CASE_NAMES.get(case, case),
                    _spread(figure),
                    _spread((base.get(service) or {}).get(case)),
                    _ratio(ratio),
                    _num(seed, "s"),
                    "; ".join(wanted) or "—",
                    _verdict(checks),
                ]
            )
    return rows


def _image_rows(run: dict, catalog: Catalog | None) -> list[list[str]]:
    rows = []
    base = run.get("baseline") or {}
    for service, cases in (run.get("build") or {}).items():
        ours = cases.get("image_mb")
        if ours is None:
            continue
        theirs = (base.get(service) or {}).get("image_mb")
        seed, target = _budget(catalog, service, "image_mb")
        checks = []
        if target is not None:
            checks.append((f"{_num(ours, 'MB')} > target {_num(target, 'MB')}", ours <= target))
        for label, other in (("baseline", theirs), ("seed", seed)):
            if other:
                ok = ours <= IMAGE_RATIO_TARGET * other
                checks.append((f"only {1 - ours / other:.0%} smaller than the {label}", ok))
        rows.append(
            [
                service,
                _num(ours, "MB"),
                _num(theirs, "MB"),
                f"{ours / theirs:.2f}" if theirs else "—",
                _num(seed, "MB"),
                f"{ours / seed:.2f}" if seed else "—",
                f"≤ {_num(target, 'MB')}; ≥ 25% smaller than baseline and seed"
                if target
                else "≥ 25% smaller than baseline and seed",
                _verdict(checks),
            ]
        )
    return rows


def _build_section(run: dict, catalog: Catalog | None) -> list[str]:
    lines = []
    rows = _build_rows(run, catalog)
    if rows:
        lines += [
            "## Build time",
            "",
            "Seconds through `docker compose build`, median (min-max) of the rounds. The "
            "baseline is the seed's strategy (benchmarks/seed-strategy/) built in the same run "
            "on the same machine; the seed column is the figure the seed document claims.",
            "",
        ]
        columns = ["service", "case", "ours", "baseline", "ours / baseline", "seed claims"]
        lines += _table([*columns, "target", "verdict"], rows)
        lines.append("")
    rows = _image_rows(run, catalog)
    if rows:
        lines += ["## Image size", "", "Production image, `docker image inspect` Size.", ""]
        columns = ["service", "ours", "baseline", "ours / baseline", "seed claims", "ours / seed"]
        lines += _table([*columns, "target", "verdict"], rows)
        lines.append("")
    return lines


# ---- other sections (filled by other modules) -------------------------------------------------


def _start_section(section: dict, catalog: Catalog | None) -> list[str]:
    lines = [
        "## Start to healthy",
        "",
        "A service's own start is from its container starting to its first passing health check "
        "(checks run every 2 s); `since compose up` adds the wait for its dependencies. A "
        "profile's figure is from `compose up` to every container healthy.",
        "",
    ]
    rows = []
    own = section.get("own") or {}
    for service, figure in (section.get("services") or {}).items():
        seed, target = _budget(catalog, service, "start_seconds")
        mine = own.get(service)
        value = _median(mine) if mine else None
        checks = [(f"> {_num(target, 's')}", value <= target)] if target and value else []
        rows.append(
            [
                service,
                _spread(mine) if mine else "—",
                _spread(figure),
                _num(seed, "s"),
                _num(target, "s"),
                _verdict(checks),
            ]
        )
    budgets = catalog.profile_budgets if catalog else {}
    for profile, figure in (section.get("profiles") or {}).items():
        budget = budgets.get(profile, {}).get("start_seconds")
        seed, target = (budget.seed, budget.target) if budget else (None, None)
        value = _median(figure)
        checks = [(f"> {_num(target, 's')}", value <= target)] if target and value else []
        rows.append(
            [
                f"profile {profile}",
                "—",
                _spread(figure),
                _num(seed, "s"),
                _num(target, "s"),
                _verdict(checks),
            ]
        )
    header = ["what", "own start", "since compose up", "seed claims", "target", "verdict"]
    return [*lines, *_table(header, rows), ""]


def _latency_section(section: dict, catalog: Catalog | None) -> list[str]:
    lines = []
    http = section.get("http") or {}
    if http:
        keys = ["p50_ms", "p95_ms", "p99_ms", "rps", "requests", "errors", "concurrency"]
        rows = []
        for name, figures in http.items():
            service = next(
                (s for s in (catalog.services if catalog else {}) if name.startswith(s)), None
            )
            _, target = _budget(catalog, service or "", "latency_p50_ms")
            p50 = figures.get("p50_ms")
            checks = [(f"p50 > {_num(target, 'ms')}", p50 <= target)] if target and p50 else []
            rows.append(
                [name, *(_num(figures.get(k)) for k in keys), _num(target, "ms"), _verdict(checks)]
            )
        lines += ["## Request latency (HTTP)", ""]
        lines += _table(["endpoint", *keys, "p50 target", "verdict"], rows)
        lines.append("")
    in_process = section.get("in_process") or {}
    if in_process:
        rows = [
            [service, test, _num(f.get("median_us")), _num(f.get("min_us")), _num(f.get("max_us"))]
            for service, tests in in_process.items()
            for test, f in tests.items()
        ]
        lines += ["## In-process latency (µs)", ""]
        lines += _table(["service", "test", "median", "min", "max"], rows)
        lines.append("")
    return lines


def _generic_section(title: str, section: dict) -> list[str]:
    """Any section as rows of key path and value (memory, layers, devloop, or a new one)."""
    rows = []

    def walk(prefix: str, value: object) -> Iterator[list[str]]:
        if isinstance(value, dict) and "median" in value:
            yield [prefix, _spread(value, "")]
        elif isinstance(value, dict):
            for key, inner in value.items():
                yield from walk(f"{prefix} · {key}" if prefix else str(key), inner)
        elif isinstance(value, float | int) and not isinstance(value, bool):
            yield [prefix, _num(value)]
        else:
            yield [prefix, str(value)]

    rows = list(walk("", section))
    return [f"## {title}", "", *_table(["figure", "value"], rows), ""]


TITLES = {
    "memory": "Memory (MB)",
    "stream": "Streaming: ingestion into ClickHouse and WebSocket fan-out",
    "ai": "AI tiers: provider cache, market brief latency, concurrency under a burst",
    "layers": "Image layers",
    "devloop": "Dev loop: save to new code answering (s)",
}


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
    lines += _build_section(run, catalog)
    if run.get("start"):
        lines += _start_section(run["start"], catalog)
    if run.get("latency"):
        lines += _latency_section(run["latency"], catalog)
    for name, section in run.items():
        if name in ("build", "baseline", "start", "latency") or name not in results.SECTIONS:
            continue
        if section:
            lines += _generic_section(TITLES.get(name, name), section)
    machine = run.get("machine") or {}
    lines += [
        "## Machine",
        "",
        *_table(["fact", "value"], [[k, str(v)] for k, v in machine.items()]),
    ]
    return "\n".join(lines) + "\n"


# ---- chart ------------------------------------------------------------------------------------


def chart(run: dict, catalog: Catalog | None, path: Path) -> Path:
    """Grouped bars per service: ours, the baseline and the seed's claim, for cold builds
    (seconds) and image size (MB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    build = run.get("build") or {}
    base = run.get("baseline") or {}
    groups = []  # (label, ours, baseline, seed)
    for service, cases in build.items():
        for case in ("cold_wheelhouse", "cold_online"):
            if case in cases:
                seed, _ = _budget(catalog, service, CASE_BUDGETS[case])
                label = f"{service}\n{CASE_NAMES[case]}"
                theirs = _median((base.get(service) or {}).get(case))
                groups.append((label, _median(cases[case]), theirs, seed))
    sizes = []
    for service, cases in build.items():
        if cases.get("image_mb") is not None:
            seed, _ = _budget(catalog, service, "image_mb")
            sizes.append(
                (service, cases["image_mb"], (base.get(service) or {}).get("image_mb"), seed)
            )
    figure, axes = plt.subplots(1, 2, figsize=(max(10, 2.2 * len(groups) + 4), 5))
    _bars(axes[0], groups, "Cold build (seconds, lower is better)", "s")
    _bars(axes[1], sizes, "Production image (MB, lower is better)", "MB")
    figure.suptitle(f"ours vs seed-strategy baseline vs seed's claim — {run.get('started', '')}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _bars(axis, groups: list[tuple], title: str, unit: str) -> None:
    axis.set_title(title)
    if not groups:
        axis.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axis.transAxes)
        axis.set_xticks([])
        return
    width = 0.27
    series = (
        ("ours", "#2a7ab9"),
        ("seed-strategy baseline", "#e08a2c"),
        ("seed's claim", "#9a9a9a"),
    )
    for index, (name, colour) in enumerate(series):
        xs = [i + (index - 1) * width for i in range(len(groups))]
        values = [g[index + 1] for g in groups]
        shown = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
        if not shown:
            continue
        bars = axis.bar(
            [x for x, _ in shown], [v for _, v in shown], width, label=name, color=colour
        )
        axis.bar_label(bars, labels=[_num(v) for _, v in shown], fontsize=8, padding=2)
    axis.set_xticks(range(len(groups)), [g[0] for g in groups], fontsize=8)
    axis.set_ylabel(unit)
    axis.margins(y=0.15)
    axis.legend(fontsize=8)


def write_report(
    run: dict, catalog: Catalog | None, json_path: Path | None = None, tolerance: float = TOLERANCE
) -> tuple[Path, Path]:
    """Write `<stem>.md` and `<stem>.png` beside the run's JSON; returns both paths."""
    md_path, png_path = paths_for(run, json_path)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(run, catalog, tolerance) + f"\n![chart]({png_path.name})\n")
    chart(run, catalog, png_path)
    return md_path, png_path


# ---- regressions ------------------------------------------------------------------------------


def figures(run: dict) -> dict[str, tuple[float, str, bool]]:
    """Every comparable figure of a run: name -> (value, unit, higher_is_better)."""
    found: dict[str, tuple[float, str, bool]] = {}

    def add(name: str, value: object, unit: str, higher: bool = False) -> None:
        value = _median(value)  # type: ignore[arg-type]
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[name] = (float(value), unit, higher)

    for service, cases in (run.get("build") or {}).items():
        for case, figure in cases.items():
            add(f"build {service} {case}", figure, "MB" if case == "image_mb" else "s")
    start = run.get("start") or {}
    for group in ("services", "profiles"):
        for name, figure in (start.get(group) or {}).items():
            add(f"start {name}", figure, "s")
    latency = run.get("latency") or {}
    for name, f in (latency.get("http") or {}).items():
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            add(f"latency {name} {key[:3]}", f.get(key), "ms")
        add(f"latency {name} rps", f.get("rps"), "rps", higher=True)
    for service, tests in (latency.get("in_process") or {}).items():
        for test, f in tests.items():
            add(f"in-process {service} {test}", f.get("median_us"), "us")
    for service, f in (run.get("memory") or {}).items():
        for key in ("idle_mb", "load_mb"):
            add(f"memory {service} {key[:-3]}", f.get(key), "MB")
    stream = run.get("stream") or {}
    add("stream ingest", (stream.get("ingest") or {}).get("ticks_per_s"), "ticks/s", higher=True)
    volatile = (stream.get("ingest_volatile") or {}).get("ticks_per_s")
    add("stream ingest, journal off", volatile, "ticks/s", higher=True)
    for name, f in stream.items():
        if name.startswith("fanout"):
            add(f"stream {name} p99", f.get("p99_ms"), "ms")
    ai = run.get("ai") or {}
    add("ai provider cache hit rate", (ai.get("provider_cache") or {}).get("hit_rate"), "", True)
    for name, f in (ai.get("workflow") or {}).items():
        for key in ("p50_ms", "p95_ms"):
            add(f"ai brief {name} {key[:3]}", f.get(key), "ms")
    for service, f in (run.get("layers") or {}).items():
        add(f"layers {service} wasted", f.get("wasted_mb"), "MB")
    for service, f in (run.get("devloop") or {}).items():
        add(f"devloop {service}", f, "s")
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
                f"{name}: {_num(then, unit)} → {_num(now, unit)} ({change:+.0%}, "
                f"tolerance {tolerance:.0%})"
            )
    return regressions


def chaos_chart(faults: list[dict], path: Path) -> Path:
    """Per fault: acknowledged beside stored (lost and duplicated must be 0), and the seconds
    until the killed component was healthy again."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
