"""stream: ingestion into ClickHouse and WebSocket fan-out at 200 subscribers, when the selection
includes data-bridge (the data profile); toolkit/bench/measure/stream.py.

Section: stream["ingest"] = {series, ticks, stored, seconds, ticks_per_s}; stream
["ingest_volatile"] the same with data-bridge's journal off (DURABLE_INTAKE=false), and
stream["durability_cost"] = 1 - durable / volatile throughput, both measured on fresh processes
in the same run (stream["ingest_durable"] is the durable one); stream["fanout_direct"] and
stream["fanout_gateway"] = {subscribers, messages, deliveries, dropped, p50_ms, p95_ms, p99_ms,
max_ms}.
"""

from __future__ import annotations

from toolkit.bench import fmt
from toolkit.bench.measure import stream
from toolkit.bench.part import Figure, Measure, Needs, Panel, Part, Plan, Series
from toolkit.catalog import Catalog

TITLE = "Streaming: ingestion into ClickHouse and WebSocket fan-out"
GUESS = {True: 25, False: 60}  # log in, a replay into ClickHouse, two fan-out runs
INGESTS = (
    ("ingest", "journal on (the stack as it ran)"),
    ("ingest_volatile", "journal off (fresh)"),
    ("ingest_durable", "journal on (fresh)"),
)


def measure(plan: Plan, run: dict) -> None:
    run["stream"] = stream.measure(plan.catalog, quick=plan.quick)


def panels(run: dict, catalog: Catalog | None) -> list[Panel]:
    section = run.get("stream") or {}
    ingests = [(label, section[key]) for key, label in INGESTS if section.get(key)]
    fanouts = [name for name in section if name.startswith("fanout")]
    return [
        Panel(
            "Ingestion into ClickHouse (ticks/s, higher is better)",
            "ticks/s",
            [label for label, _ in ingests],
            [Series("ticks/s", "#2b8a3e", [f.get("ticks_per_s") for _, f in ingests])],
        ),
        Panel(
            "WebSocket fan-out, POST to each subscriber (ms, lower is better)",
            "ms",
            [f"{n.removeprefix('fanout_')}\n{section[n].get('subscribers')} subs" for n in fanouts],
            [
                Series(key[:3], colour, [section[n].get(key) for n in fanouts])
                for key, colour in (
                    ("p50_ms", "#2a7ab9"),
                    ("p95_ms", "#e08a2c"),
                    ("p99_ms", "#c0392b"),
                )
            ],
        ),
    ]


def figures(run: dict):
    section = run.get("stream") or {}
    ingest = (section.get("ingest") or {}).get("ticks_per_s")
    yield Figure("stream ingest", ingest, "ticks/s", higher_is_better=True)
    volatile = (section.get("ingest_volatile") or {}).get("ticks_per_s")
    yield Figure("stream ingest, journal off", volatile, "ticks/s", higher_is_better=True)
    for name, f in section.items():
        if name.startswith("fanout"):
            yield Figure(f"stream {name} p99", f.get("p99_ms"), "ms")


def headline(run: dict):
    section = run["stream"]
    if section.get("ingest"):
        yield f"ingest {section['ingest']['ticks_per_s']} ticks/s"
    for name, f in section.items():
        if name.startswith("fanout"):
            yield f"{name} p99 {f['p99_ms']} ms at {f['subscribers']}"


PARTS = (
    Part(
        name="stream",
        order=50,
        measure=Measure(
            measure,
            lambda plan, selected, medians: GUESS[plan.quick],
            lambda plan: f"through the gateway, profile {plan.profile}",
            needs=Needs.PROFILE_UP,
        ),
        sections=("stream",),
        service="data-bridge",
        markdown=fmt.generic(
            "Streaming: ingestion into ClickHouse and WebSocket fan-out", "stream"
        ),
        panels=panels,
        figures=figures,
        headline=headline,
    ),
)
