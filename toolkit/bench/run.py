"""Running a plan: each step's needs met, then measured, a failure recorded and the next step
run; the document saved atomically, its report written beside it."""

from __future__ import annotations

import time
from pathlib import Path

from toolkit.bench import report, results
from toolkit.bench.measure import start
from toolkit.bench.part import Needs, Plan
from toolkit.bench.plan import Step, minutes, steps
from toolkit.catalog import Catalog
from toolkit.console import console
from toolkit.errors import ToolkitError


def prepare(plan: Plan, needs: Needs) -> None:
    """What a step needs before it measures: images built, or the profile up and healthy."""
    if needs is Needs.PROFILE_UP:
        start.ensure_up(plan.catalog, plan.profile)
    elif needs is Needs.PROFILE_IMAGES:
        start.ensure_images(plan.catalog, plan.catalog.profile(plan.profile))
    elif needs is Needs.IMAGES:
        start.ensure_images(plan.catalog, plan.services)


def describe(exc: BaseException) -> str:
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
            f"[{number}/{len(chosen)}] {step.name} (about {minutes(expected[step.name][0])}; "
            f"{minutes(elapsed)} so far, about {minutes(left)} left)"
        )
        started = time.perf_counter()
        try:
            prepare(plan, step.measure.needs)
            step.measure.measure(plan, run)
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
    message = describe(exc)
    console.print(f"[red]✗ {step.name} failed:[/] {message}")
    for name in step.names:
        run["errors"][name] = message


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
