"""`nox -s bench`: the benchmarks in one run, one results document and its report.

    python -m toolkit.bench [--tier N | --services A B | --profile P] [--rounds N] [--quick]
        [--parts build,start,http,memory,stream,ai,in_process,layers,devloop] [--no-baseline]
        [--compare FILE] [--tolerance T] [--output NAME] [--report-only FILE]

The parts, in the order they run (sections of toolkit/results.py in brackets):

- build: our builds against the seed-strategy baseline, toolkit/bench_build.py [build, baseline]
- start: the profile from scratch until healthy, toolkit/bench_start.py [start]
- http, memory: load through the gateway (toolkit/loadgen.py), each service's memory at idle
  and sampled under that load (toolkit/bench_resources.py) [latency.http, memory]
- stream: ingestion into ClickHouse and WebSocket fan-out at 200 subscribers, when the
  selection includes data-bridge (the data profile), toolkit/bench_stream.py [stream]
- ai: ai-provider's cache hit rate on a replayed request mix, the market brief's latency with
  and without its cache, and a burst past its concurrency limit, when the selection includes
  ai-orchestration (the ai profile), toolkit/bench_ai.py [ai]
- in_process: pytest-benchmark in each test container, toolkit/bench_inprocess.py
  [latency.in_process]
- layers: `dive` on each production image, toolkit/bench_resources.py [layers]
- devloop: save-to-reload in dev mode, toolkit/devloop.py [devloop]; last, as it swaps each
  service's container for a dev one (and puts it back itself)

The runtime parts run against the smallest profile that runs the selected services (or the
given one): it is started first when it is not running (images built when missing), and left
running. A part that fails is recorded under `errors` and the others still run; each part's
wall time is kept under `durations`, which the next run's estimate reads. The document is
saved atomically under benchmarks/results/, with its markdown and chart beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit import (
    bench_ai,
    bench_build,
    bench_inprocess,
    bench_resources,
    bench_start,
    bench_stream,
    devloop,
    loadgen,
    report,
    results,
)
from toolkit import catalog as catalog_mod
from toolkit.catalog import ROOT, Catalog, Service
from toolkit.console import console, table
from toolkit.errors import ToolkitError

PARTS = ("build", "start", "http", "memory", "stream", "ai", "in_process", "layers", "devloop")
# Parts that measure one service's work run only when it is selected.
PART_SERVICE = {"stream": "data-bridge", "ai": "ai-orchestration"}
DEFAULT_PROFILE = "core"
# Seconds a tier-1 service takes on a 2-core machine with its images cached (measured, rounded
# up), per run, per round or per service as named; used until a results document has the
# durations of a comparable run. An image built for the first time adds its build.
GUESS = {
    "build_preparation": 10,  # base images and wheelhouse checked, seed projects locked once
    "start_round": 20,  # the profile removed, then up until healthy
    "load": {True: 20, False: 35},  # the three scenarios, quick or not, with their set-up
    "memory": 6,  # idle samples
    "stream": {True: 25, False: 60},  # log in, a replay into ClickHouse, two fan-out runs
    "ai": {True: 40, False: 90},  # the request mix, a replay, two trainings, briefs, a burst
    "in_process_service": {True: 10, False: 15},  # test image refreshed, then pytest-benchmark
    "layers_service": 5,
    "devloop_service": 20,  # dev mode started, the service put back, the profile checked
    "devloop_round": 2,
}


# ---- what to run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    catalog: Catalog
    services: tuple[Service, ...]
    profile: str
    parts: tuple[str, ...] = PARTS
    rounds: int = 3
    quick: bool = False
    baseline: bool = True

    @property
    def cases(self) -> tuple[str, ...]:
        return bench_build.QUICK_CASES if self.quick else bench_build.CASES

    @property
    def running_services(self) -> list[Service]:
        """The selected services, as the profile runs them."""
        return [s for s in self.catalog.profile(self.profile) if s in self.services]

    def scope(self) -> dict:
        scope = {
            "kind": "bench",
            "services": [s.name for s in self.services],
            "profile": self.profile,
            "rounds": self.rounds,
            "quick": self.quick,
            "parts": list(self.parts),
        }
        if "build" in self.parts:
            scope.update(cases=list(self.cases), baseline=self.baseline)
        return scope


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m toolkit.bench",
        description="Run the benchmarks, save one results document and its report.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--tier", type=int, help="the services of this tier")
    scope.add_argument("--services", nargs="+", metavar="NAME", help="these services")
    scope.add_argument("--profile", help=f"this profile's services (default {DEFAULT_PROFILE})")
    parser.add_argument("--rounds", type=int, help="rounds of each measure (default 3, quick 1)")
    parser.add_argument(
        "--quick", action="store_true", help="1 round, no online build case, short loads"
    )
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated (default {','.join(PARTS)})"
    )
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="leave out the seed-strategy builds",
    )
    parser.add_argument("--compare", type=Path, metavar="FILE", help="a results document")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=report.TOLERANCE,
        help=f"regression threshold, a fraction (default {report.TOLERANCE})",
    )
    parser.add_argument(
        "--output", metavar="NAME", help="file name under benchmarks/results/ (default: by time)"
    )
    parser.add_argument(
        "--report-only",
        type=Path,
        metavar="FILE",
        help="measure nothing: write FILE's report again (and compare it, with --compare)",
    )
    return parser.parse_args(argv)


def make_plan(catalog: Catalog, args: argparse.Namespace) -> Plan:
    """The services, profile and parts the arguments select; an unknown name is an error that
    lists the valid ones."""
    if args.services:
        services = catalog.select(" ".join(args.services).replace(",", " ").split())
    elif args.tier is not None:
        services = catalog.tier(args.tier)
        if not services:
            filled = sorted({s.tier for s in catalog.services.values()})
            raise ToolkitError(
                f"tier {args.tier} has no services yet",
                f"choose a tier with services: {', '.join(map(str, filled))}",
            )
    else:
        services = catalog.profile(args.profile or DEFAULT_PROFILE)
    profile = args.profile or bench_start.profile_for(catalog, services)
    parts = tuple(p for p in (p.strip() for p in args.parts.split(",")) if p)
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ToolkitError(
            f"unknown part(s): {', '.join(unknown) or '(none given)'}",
            f"choose from: {', '.join(PARTS)}",
        )
    for part, service in PART_SERVICE.items():
        if part not in parts or service in {s.name for s in services}:
            continue
        if args.parts != ",".join(PARTS):
            profile_needed = bench_start.profile_for(catalog, [catalog.service(service)])
            raise ToolkitError(
                f"the {part} part measures {service}, which is not selected",
                f"add it: --services {service} or --profile {profile_needed}",
            )
        parts = tuple(p for p in parts if p != part)  # the default parts: skip it quietly
    rounds = args.rounds if args.rounds is not None else 1 if args.quick else 3
    if rounds < 1:
        raise ToolkitError(f"rounds must be at least 1, got {rounds}", "pass --rounds 1 or more")
    if args.tolerance < 0:
        raise ToolkitError(f"tolerance {args.tolerance} is negative", "e.g. --tolerance 0.25")
    return Plan(
        catalog=catalog,
        services=tuple(services),
        profile=profile,
        parts=tuple(p for p in PARTS if p in parts),  # always in running order
        rounds=rounds,
        quick=args.quick,
        baseline=args.baseline,
    )


# ---- the parts -------------------------------------------------------------------------------


def measure_build(plan: Plan, run: dict) -> None:
    build, base = bench_build.measure(
        list(plan.services), plan.rounds, plan.cases, plan.baseline, progress=console.print
    )
    run["build"], run["baseline"] = build, base


def measure_start(plan: Plan, run: dict) -> None:
    bench_start.ensure_images(plan.catalog, plan.catalog.profile(plan.profile))
    run["start"] = bench_start.start_times(plan.catalog, plan.profile, plan.rounds)


def measure_load(plan: Plan, run: dict) -> None:
    """HTTP load through the gateway and/or memory, sampled under that load when both run."""
    bench_start.ensure_up(plan.catalog, plan.profile)
    options: dict = {"seconds": 5.0 if plan.quick else 10.0, "concurrency": 16}
    if plan.quick:
        options.update(warmup_seconds=1.0, login_requests=4)
    http: dict = {}

    def load() -> None:
        http.update(loadgen.latency_http(plan.catalog, **options))

    if "memory" in plan.parts:
        during = load if "http" in plan.parts else None
        run["memory"] = bench_resources.memory(plan.catalog, plan.running_services, during=during)
    else:
        load()
    if http:
        run["latency"]["http"] = http


def measure_stream(plan: Plan, run: dict) -> None:
    bench_start.ensure_up(plan.catalog, plan.profile)
    run["stream"] = bench_stream.measure(plan.catalog, quick=plan.quick)


def measure_ai(plan: Plan, run: dict) -> None:
    bench_start.ensure_up(plan.catalog, plan.profile)
    run["ai"] = bench_ai.measure(plan.catalog, quick=plan.quick)


def measure_in_process(plan: Plan, run: dict) -> None:
    section = run["latency"].setdefault("in_process", {})
    for service in plan.services:
        section[service.name] = bench_inprocess.in_process(plan.catalog, service, quick=plan.quick)


def measure_layers(plan: Plan, run: dict) -> None:
    bench_start.ensure_images(plan.catalog, plan.services)
    run["layers"] = bench_resources.layers(plan.services)


def measure_devloop(plan: Plan, run: dict) -> None:
    """Save-to-reload per service; each is put back as it was (devloop.measure_reload does it),
    and the profile is checked healthy afterwards, even when a measure failed."""
    bench_start.ensure_up(plan.catalog, plan.profile)
    try:
        for service in plan.services:
            run["devloop"][service.name] = devloop.measure_reload(
                plan.catalog, service, plan.rounds
            )
    finally:
        bench_start.ensure_up(plan.catalog, plan.profile)


@dataclass(frozen=True)
class Step:
    """One or more parts measured together (the load and the memory under it)."""

    parts: tuple[str, ...]
    measure: Callable[[Plan, dict], None]

    @property
    def name(self) -> str:
        return "+".join(self.parts)


def steps(plan: Plan) -> list[Step]:
    chosen = []
    for parts, measure in (
        (("build",), measure_build),
        (("start",), measure_start),
        (("http", "memory"), measure_load),
        (("stream",), measure_stream),
        (("ai",), measure_ai),
        (("in_process",), measure_in_process),
        (("layers",), measure_layers),
        (("devloop",), measure_devloop),
    ):
        selected = tuple(p for p in parts if p in plan.parts)
        if selected:
            chosen.append(Step(selected, measure))
    return chosen


# ---- how long it will take -------------------------------------------------------------------


def _guess(step: Step, plan: Plan, build_previous: dict | None) -> float:
    """A rough figure: GUESS, for heavier tiers weighted as bench_build weighs their builds."""
    weights = [bench_build.TIER_WEIGHT.get(s.tier, 4) for s in plan.services]
    if step.name == "build":
        return GUESS["build_preparation"] + bench_build.estimate(
            list(plan.services), plan.rounds, plan.cases, plan.baseline, build_previous
        )
    if step.name == "start":
        heaviest = bench_build.TIER_WEIGHT.get(plan.catalog.profiles[plan.profile], 4)
        return GUESS["start_round"] * plan.rounds * heaviest
    if step.name == "in_process":
        return GUESS["in_process_service"][plan.quick] * sum(weights)
    if step.name == "layers":
        return GUESS["layers_service"] * sum(weights)
    if step.name == "devloop":
        return (GUESS["devloop_service"] + GUESS["devloop_round"] * plan.rounds) * sum(weights)
    if step.name in ("stream", "ai"):
        return GUESS[step.name][plan.quick]
    seconds = GUESS["load"][plan.quick] if "http" in step.parts else 0
    return seconds + (GUESS["memory"] if "memory" in step.parts else 0)


def _units(step: str, scope: dict) -> float:
    """What a step's time grows with: rounds for start, services for the per-service parts."""
    services = len(scope.get("services") or []) or 1
    rounds = scope.get("rounds") or 1
    return {"start": rounds, "in_process": services, "layers": services}.get(
        step, services if step == "devloop" else 1
    )


def _comparable(step: str, plan: Plan, scope: dict) -> bool:
    """Whether an earlier run's time for a step says something of this run's: loads as long
    (quick or not), and for the build, the very same builds."""
    if scope.get("quick") != plan.quick:
        return False
    if step != "build":
        return True
    same = (plan.baseline, [s.name for s in plan.services], plan.rounds)
    return (scope.get("baseline"), scope.get("services"), scope.get("rounds")) == same


def estimate(
    plan: Plan, earlier: Sequence[tuple[dict, str]] = (), build_previous: dict | None = None
) -> dict[str, tuple[float, str]]:
    """Expected seconds per step, and their basis: the time the newest comparable earlier run
    (`earlier`: documents with durations and their names, newest first) took for it without
    failing, scaled to this run's rounds or services; else the build's per-build estimate
    (medians of `build_previous` where it has them) or a rough guess."""
    expected = {}
    for step in steps(plan):
        for run, name in earlier:
            before = (run.get("durations") or {}).get(step.name)
            scope = run.get("scope") or {}
            failed = set(step.parts) & set(run.get("errors") or {})
            if before is not None and not failed and _comparable(step.name, plan, scope):
                scale = _units(step.name, plan.scope()) / _units(step.name, scope)
                expected[step.name] = (before * scale, name)
                break
        else:
            basis = "build medians, guesses" if step.name == "build" else "a rough guess"
            expected[step.name] = (_guess(step, plan, build_previous), basis)
    return expected


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def show_plan(plan: Plan, expected: dict[str, tuple[float, str]]) -> None:
    descriptions = {
        "build": f"{', '.join(plan.cases)}; "
        + ("ours and the seed-strategy baseline" if plan.baseline else "ours only"),
        "start": f"profile {plan.profile} from scratch",
        "in_process": "pytest-benchmark in the test containers",
        "layers": "dive on the production images",
        "devloop": "save to new code answering, dev mode",
    }
    rows = [
        (
            step.name,
            descriptions.get(step.name, f"through the gateway, profile {plan.profile}"),
            _minutes(expected[step.name][0]),
            expected[step.name][1],
        )
        for step in steps(plan)
    ]
    total = sum(seconds for seconds, _ in expected.values())
    console.print(
        table(
            f"benchmark plan: {', '.join(s.name for s in plan.services)} (profile "
            f"{plan.profile}), {plan.rounds} round(s){', quick' if plan.quick else ''}",
            ["part", "what", "about", "from"],
            rows,
        )
    )
    console.print(
        f"expected: about {_minutes(total)} in all; a busy engine, or an image built for the "
        "first time, takes longer"
    )


# ---- running ---------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(exc, ToolkitError):
        return f"{exc.problem}" + (f" (fix: {exc.fix})" if exc.fix else "")
    return f"{type(exc).__name__}: {exc}"


def run_steps(plan: Plan, run: dict, expected: dict[str, tuple[float, str]]) -> bool:
    """Every step in turn, each failure recorded under run["errors"] and the next step run;
    False when Ctrl-C stopped the run (the steps after it are not run)."""
    chosen = steps(plan)
    began = time.perf_counter()
    for number, step in enumerate(chosen, 1):
        elapsed = time.perf_counter() - began
        left = sum(expected[s.name][0] for s in chosen[number - 1 :])
        console.rule(
            f"[{number}/{len(chosen)}] {step.name} (about {_minutes(expected[step.name][0])}; "
            f"{_minutes(elapsed)} so far, about {_minutes(left)} left)"
        )
        started = time.perf_counter()
        try:
            step.measure(plan, run)
        except KeyboardInterrupt as exc:
            _failed(run, step, exc)
            return False
        except Exception as exc:  # noqa: BLE001 - one part's failure must not lose the others
            if not isinstance(exc, ToolkitError):
                console.print_exception(max_frames=8)
            _failed(run, step, exc)
        finally:
            run["durations"][step.name] = round(time.perf_counter() - started, 1)
    return True


def _failed(run: dict, step: Step, exc: BaseException) -> None:
    message = _describe(exc)
    console.print(f"[red]✗ {step.name} failed:[/] {message}")
    for part in step.parts:
        run["errors"][part] = message


def save(run: dict, output: str | None) -> Path:
    """results.save, with a sub-folder of benchmarks/results/ made when `output` names one;
    a save that Ctrl-C interrupts leaves no temporary file behind."""
    path = results.RESULTS_DIR / output if output else report.paths_for(run)[0]
    path = path.with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return results.save(run, str(path.relative_to(results.RESULTS_DIR)))
    except BaseException:
        path.with_suffix(".json.tmp").unlink(missing_ok=True)
        raise


def write_report(run: dict, catalog: Catalog, path: Path, tolerance: float) -> tuple[Path, Path]:
    """report.write_report, and the parts that failed (the report itself does not show them)."""
    md_path, png_path = report.write_report(run, catalog, path, tolerance)
    errors = run.get("errors") or {}
    if errors:
        lines = ["", "## Parts that failed", ""]
        lines += [f"- **{part}**: {message.splitlines()[0]}" for part, message in errors.items()]
        with md_path.open("a") as handle:
            handle.write("\n".join(lines) + "\n")
    return md_path, png_path


def _seconds(figure: dict) -> str:
    return f"{figure['median']:.1f} s"


def _headline(part: str, run: dict) -> str:
    """A few figures of a part, for the closing table."""
    lines = []
    if part == "build":
        for name, cases in run["build"].items():
            case = next(c for c in bench_build.CASES if c in cases)
            theirs = (run["baseline"].get(name) or {}).get(case)
            lines.append(
                f"{name} {case} {_seconds(cases[case])}"
                + (f" (baseline {_seconds(theirs)})" if theirs else "")
                + f", image {cases['image_mb']} MB"
            )
    elif part == "start":
        lines += [f"profile {p} {_seconds(f)}" for p, f in run["start"]["profiles"].items()]
    elif part == "http":
        http = run["latency"]["http"]
        lines += [f"{name} p50 {f['p50_ms']} ms, {f['rps']} rps" for name, f in http.items()]
    elif part == "memory":
        memory = run["memory"]
        lines += [
            f"{n} {f['idle_mb']} MB idle, {f['load_mb']} MB loaded" for n, f in memory.items()
        ]
    elif part == "stream":
        stream = run["stream"]
        if stream.get("ingest"):
            lines.append(f"ingest {stream['ingest']['ticks_per_s']} ticks/s")
        lines += [
            f"{name} p99 {f['p99_ms']} ms at {f['subscribers']}"
            for name, f in stream.items()
            if name.startswith("fanout")
        ]
    elif part == "ai":
        ai = run["ai"]
        lines.append(f"provider cache hit rate {ai['provider_cache']['hit_rate']:.1%}")
        lines += [f"brief {n} p50 {f['p50_ms']} ms" for n, f in ai["workflow"].items()]
        lines.append(f"burst: {ai['burst']['max_running_seen']} running at most")
    elif part == "in_process":
        tests = run["latency"]["in_process"]
        lines += [f"{name} {len(t)} benchmarks" for name, t in tests.items()]
    elif part == "layers":
        lines += [
            f"{name} {f['efficiency']:.1%} efficient, {f['wasted_mb']} MB wasted"
            for name, f in run["layers"].items()
        ]
    elif part == "devloop":
        lines += [f"{name} {_seconds(f)}" for name, f in run["devloop"].items()]
    return "; ".join(lines)


def show_summary(run: dict, parts: tuple[str, ...], paths: list[Path]) -> None:
    errors = run.get("errors") or {}
    durations = run.get("durations") or {}
    rows = []
    for part in parts:
        seconds = next((d for step, d in durations.items() if part in step.split("+")), None)
        status = "[red]failed[/]" if part in errors else "ok"
        try:
            detail = errors[part].splitlines()[0] if part in errors else _headline(part, run)
        except (KeyError, TypeError, StopIteration):  # a document from another kind of run
            detail = ""
        rows.append((part, status, _minutes(seconds) if seconds is not None else "", detail))
    console.print(table("benchmark summary", ["part", "status", "took", "figures"], rows))
    for path in paths:
        console.print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def compare(run: dict, against: Path, tolerance: float) -> int:
    """Print the regressions of `run` against the document `against`: 1 when there are any."""
    previous = results.load(against)
    common = set(report.figures(run)) & set(report.figures(previous))
    regressions = report.compare(run, previous, tolerance)
    if not common:
        console.print(f"[yellow]note:[/] no figure of this run is in {against}: nothing compared")
    for line in regressions:
        console.print(f"[red]regression:[/] {line}")
    if regressions:
        console.print(
            f"{len(regressions)} regression(s) of {len(common)} figures against {against}"
        )
        return 1
    console.print(f"no regressions: {len(common)} figures compared with {against}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        catalog = catalog_mod.load()
        if args.report_only:
            run = results.load(args.report_only)
            paths = list(write_report(run, catalog, args.report_only, args.tolerance))
            show_summary(run, tuple(run.get("scope", {}).get("parts", ())), paths)
            code = 1 if run.get("errors") else 0
            return max(code, compare(run, args.compare, args.tolerance) if args.compare else 0)
        plan = make_plan(catalog, args)
        if args.compare:
            results.load(args.compare)  # a bad file is an error now, not after the run
        found = bench_build.previous_run()
        earlier = list(bench_build.previous_runs("durations"))
        expected = estimate(plan, earlier, found[0] if found else None)
        show_plan(plan, expected)
        run = results.new_run(plan.scope())
        run.update(durations={}, errors={})
        finished = run_steps(plan, run, expected)
        try:
            path = save(run, args.output)
            paths = [path, *write_report(run, catalog, path, args.tolerance)]
        except KeyboardInterrupt:
            console.print("[red]interrupted while saving[/]: the results may be incomplete")
            return 130
        show_summary(run, plan.parts, paths)
        if not finished:
            return 130
        code = 1 if run["errors"] else 0
        if run["errors"]:
            console.print(
                f"[red]{len(run['errors'])} part(s) failed:[/] {', '.join(run['errors'])}"
            )
        return max(code, compare(run, args.compare, args.tolerance) if args.compare else 0)
    except ToolkitError as exc:
        console.print(f"[red]error:[/] {exc.problem}")
        if exc.fix:
            console.print(f"[yellow]fix:[/] {exc.fix}")
        return 1
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
