"""`python -m toolkit.chaos`: run the faults, write the results, say what failed."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict

from toolkit.bench import chart
from toolkit.catalog import ROOT
from toolkit.chaos.faults import FAULTS, run
from toolkit.chaos.load import RESULTS, Outcome
from toolkit.console import console, table
from toolkit.errors import ToolkitError


def render_table(outcomes: list[Outcome]) -> str:
    """The markdown table the README shows."""
    head = (
        "| fault | acknowledged | stored | lost | duplicated | failed requests | "
        "healthy again after | restarts |\n|---|---|---|---|---|---|---|---|\n"
    )
    rows = [
        f"| {o.fault} | {o.acknowledged:,} | {o.stored:,} | {o.lost} | {o.duplicated} | "
        f"{o.failed_requests} | "
        + (f"{o.recovery_s:.1f} s" if o.recovery_s is not None else "never")
        + f" | {o.restarts} |"
        for o in outcomes
    ]
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.chaos", description=__doc__)
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated names")
    parser.add_argument("--quick", action="store_true", help="smaller loads (CI's pass)")
    parser.add_argument("--output", default="chaos.json", help="under benchmarks/results/")
    args = parser.parse_args(argv)
    names = [n for n in args.faults.split(",") if n]
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        console.print(f"[red]error:[/] unknown fault {unknown[0]!r}: one of {', '.join(FAULTS)}")
        return 2
    try:
        outcomes = asyncio.run(run(names, args.quick))
    except ToolkitError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    document = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "faults": [asdict(o) for o in outcomes],
    }
    path = RESULTS / args.output
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    path.with_suffix(".md").write_text(render_table(outcomes))
    chart.chaos_chart(document["faults"], path.with_suffix(".png"))
    console.print(
        table(
            "chaos",
            ["fault", "acked", "stored", "lost", "dup", "failed req", "healthy after", "restarts"],
            [
                (
                    o.fault,
                    o.acknowledged,
                    o.stored,
                    o.lost,
                    o.duplicated,
                    o.failed_requests,
                    "never" if o.recovery_s is None else f"{o.recovery_s:.1f}s",
                    o.restarts,
                )
                for o in outcomes
            ],
        )
    )
    console.print(
        f"results: {path.relative_to(ROOT)}, {path.with_suffix('.md').name} (table) and "
        f"{path.with_suffix('.png').name} (chart)"
    )
    bad = [o for o in outcomes if not o.ok]
    for o in bad:
        console.print(
            f"[red]FAILED[/] {o.fault}: lost {o.lost}, duplicated {o.duplicated}, "
            f"healthy again: {o.recovery_s}"
        )
    return 1 if bad else 0
