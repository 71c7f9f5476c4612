"""The `python -m toolkit.bench` command: its arguments, the run, the closing summary and the
comparison with an earlier document (toolkit/bench/__init__.py has the package's map)."""

from __future__ import annotations

import argparse
from pathlib import Path

from toolkit import catalog as catalog_mod
from toolkit.bench import parts, report, results
from toolkit.bench.plan import DEFAULT_PROFILE, estimate, make_plan, minutes, scope, show_plan
from toolkit.bench.run import run_steps, save, write_report
from toolkit.catalog import ROOT
from toolkit.console import console, table
from toolkit.errors import ToolkitError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    every = ",".join(parts.names())
    parser = argparse.ArgumentParser(
        prog="python -m toolkit.bench",
        description="Run the benchmarks, save one results document and its report.",
    )
    selection = parser.add_mutually_exclusive_group()
    selection.add_argument("--tier", type=int, help="the services of this tier")
    selection.add_argument("--services", nargs="+", metavar="NAME", help="these services")
    selection.add_argument("--profile", help=f"this profile's services (default {DEFAULT_PROFILE})")
    parser.add_argument("--rounds", type=int, help="rounds of each measure (default 3, quick 1)")
    parser.add_argument(
        "--quick", action="store_true", help="1 round, no online build case, short loads"
    )
    parser.add_argument("--parts", default=every, help=f"comma-separated (default {every})")
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


def _headline(name: str, run: dict) -> str:
    """A few figures of a part, for the closing table."""
    known = [p for p in parts.PARTS if p.name == name]
    return "; ".join(known[0].headline(run)) if known else ""


def show_summary(run: dict, names: tuple[str, ...], paths: list[Path]) -> None:
    errors = run.get("errors") or {}
    durations = run.get("durations") or {}
    rows = []
    for name in names:
        seconds = next((d for step, d in durations.items() if name in step.split("+")), None)
        status = "[red]failed[/]" if name in errors else "ok"
        try:
            detail = errors[name].splitlines()[0] if name in errors else _headline(name, run)
        except (KeyError, TypeError, StopIteration):  # a document from another kind of run
            detail = ""
        rows.append((name, status, minutes(seconds) if seconds is not None else "", detail))
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


def _report_only(args: argparse.Namespace, catalog: catalog_mod.Catalog) -> int:
    run = results.load(args.report_only)
    paths = list(write_report(run, catalog, args.report_only, args.tolerance))
    show_summary(run, tuple(run.get("scope", {}).get("parts", ())), paths)
    code = 1 if run.get("errors") else 0
    return max(code, compare(run, args.compare, args.tolerance) if args.compare else 0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        catalog = catalog_mod.load()
        if args.report_only:
            return _report_only(args, catalog)
        plan = make_plan(catalog, args)
        if args.compare:
            results.load(args.compare)  # a bad file is an error now, not after the run
        found = results.previous_run()
        earlier = list(results.previous_runs("durations"))
        expected = estimate(plan, earlier, found[0] if found else None)
        show_plan(plan, expected)
        run = results.new_run(scope(plan), parts.SECTIONS)
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
