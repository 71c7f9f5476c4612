"""The market brief as a LangGraph graph, and the runner that answers one request with it.

    candles ─ lookup ─┬─ (hit) ─────────────────────────────────────────── END
                      └─ admit ─┬─ indicators ─┐
                                ├─ signal ─────┤
                                ├─ prediction ─┼─ brief ─ END
                                └─ forecast ───┘

Candles and the cache lookup come first and hold no slot: they are cheap, and a hit answers
at once. A miss waits for a slot (the limiter's queue, or 429), then the four optional data
steps run in parallel, each within STEP_TIMEOUT; whatever they could not give is listed in
`missing` and the writer says so. Candles and the brief are required: their failures end the
workflow with an HTTP error (WorkflowError).
"""

import asyncio
import logging
import operator
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

import httpx
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from app.cache import ResultCache, cache_key
from app.clients import Peer, Peers
from app.core.config import Settings
from app.limiter import QueueFull, Slot, WorkflowLimiter
from app.stats import WorkflowStats
from app.workflows import steps
from app.workflows.errors import PartMissing, WorkflowError
from app.workflows.writer import write_brief

log = logging.getLogger("ai-orchestration.market-brief")

NAME = "market-brief"
# Candles the default indicators and rule strategies need: MACD(12, 26, 9) warms up for 33
# bars, and a strategy's call compares the last two bars past the warm-up.
MIN_CANDLES = 35
# The optional parts, in the order the result and the prompt list them.
OPTIONAL_PARTS = ("indicators", "signal", "prediction", "forecast")
PARTS = ("candles", *OPTIONAL_PARTS)


def _merge(left: dict, right: dict) -> dict:
    return {**left, **right}


class BriefState(TypedDict, total=False):
    """What the steps hand on; parallel steps add to the reduced (Annotated) keys."""

    inputs: dict
    cache_key: str
    hit: dict | None
    parts: Annotated[dict, _merge]
    missing: Annotated[list, operator.add]
    timings: Annotated[dict, _merge]
    brief: dict


@dataclass
class RunContext:
    """What one run needs besides its state: the services, limits, cache and the caller."""

    peers: Peers
    settings: Settings
    limiter: WorkflowLimiter
    cache: ResultCache
    stats: WorkflowStats
    forward_headers: Mapping[str, str] = field(default_factory=dict)
    slot: Slot | None = None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


# (part, which peer owns it, how to fetch it): the optional steps.
OptionalFetch = Callable[[Peer, Mapping[str, Any]], Awaitable[dict]]
OPTIONAL_STEPS: dict[str, tuple[str, OptionalFetch]] = {
    "indicators": ("trading", steps.fetch_indicators),
    "signal": ("trading", steps.fetch_signal),
    "prediction": ("ml", steps.fetch_prediction),
    "forecast": ("dl", steps.fetch_forecast),
}


async def candles_node(state: BriefState, runtime: Runtime[RunContext]) -> dict:
    ctx, started = runtime.context, time.perf_counter()
    peer, timeout = ctx.peers.database, ctx.settings.step_timeout
    try:
        part = await asyncio.wait_for(
            steps.fetch_candles(peer, state["inputs"], MIN_CANDLES), timeout
        )
    except TimeoutError:
        raise WorkflowError(503, f"database-service did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise WorkflowError(503, f"database-service is unreachable: {exc!r}"[:300]) from None
    return {"parts": {"candles": part}, "timings": {"candles": _ms(started)}}


async def lookup_node(state: BriefState, runtime: Runtime[RunContext]) -> dict:
    ctx, started = runtime.context, time.perf_counter()
    inputs = state["inputs"]
    cacheable = {k: v for k, v in inputs.items() if k != "cache"}
    key = cache_key(NAME, cacheable, state["parts"]["candles"])
    hit = None
    if inputs["cache"]:
        hit = await ctx.cache.get(key)
        if hit is None:
            ctx.stats.cache_misses += 1
        else:
            ctx.stats.cache_hits += 1
    return {"cache_key": key, "hit": hit, "timings": {"cache": _ms(started)}}


def after_lookup(state: BriefState) -> str:
    return "hit" if state.get("hit") else "miss"


async def admit_node(state: BriefState, runtime: Runtime[RunContext]) -> dict:
    ctx = runtime.context
    # QueueFull propagates out of the graph: the route answers 429.
    ctx.slot = await ctx.limiter.acquire()
    return {"timings": {"queue": round(ctx.slot.waited_s * 1000, 2)}}


def optional_node(part: str):
    """A node that fetches one optional part, or records why it is missing."""
    owner, fetch = OPTIONAL_STEPS[part]

    async def node(state: BriefState, runtime: Runtime[RunContext]) -> dict:
        ctx, started = runtime.context, time.perf_counter()
        peer: Peer = getattr(ctx.peers, owner)
        timeout = ctx.settings.step_timeout
        try:
            if peer.known_down():
                raise PartMissing(peer.not_running())
            value = await asyncio.wait_for(fetch(peer, state["inputs"]), timeout)
            return {"parts": {part: value}, "timings": {part: _ms(started)}}
        except (TimeoutError, httpx.TimeoutException):
            reason = f"timed out after {timeout:g} s"
        except httpx.TransportError as exc:
            log.info("%s unreachable for %s: %r", peer.name, part, exc)
            peer.mark_down(ctx.settings.peer_retry_seconds)
            reason = peer.not_running()
        except PartMissing as exc:
            reason = str(exc)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s answered an unexpected %s: %r", peer.name, part, exc)
            reason = f"{peer.name} answered an unexpected {part} ({type(exc).__name__}: {exc})"
        missing = {"part": part, "service": peer.name, "reason": reason}
        return {"missing": [missing], "timings": {part: _ms(started)}}

    node.__name__ = f"{part}_node"
    return node


async def brief_node(state: BriefState, runtime: Runtime[RunContext]) -> dict:
    ctx, started = runtime.context, time.perf_counter()
    timeout = ctx.settings.brief_timeout
    missing = sorted(state.get("missing", []), key=lambda m: PARTS.index(m["part"]))
    try:
        brief = await asyncio.wait_for(
            write_brief(
                ctx.peers.ai,
                state["inputs"],
                state["parts"],
                missing,
                max_tokens=ctx.settings.brief_max_tokens,
                headers=ctx.forward_headers,
            ),
            timeout,
        )
    except (TimeoutError, httpx.TimeoutException):
        raise WorkflowError(
            502, f"ai-provider did not write the brief within {timeout:g} s"
        ) from None
    except httpx.TransportError as exc:
        raise WorkflowError(
            502, f"ai-provider is unreachable, so no brief can be written: {exc!r}"[:300]
        ) from None
    return {"brief": brief, "timings": {"brief": _ms(started)}}


def build_graph():
    """Compile the market brief's graph (once: it holds no per-run state)."""
    graph = StateGraph(BriefState, context_schema=RunContext)
    graph.add_node("candles", candles_node)
    graph.add_node("lookup", lookup_node)
    graph.add_node("admit", admit_node)
    for part in OPTIONAL_PARTS:
        graph.add_node(part, optional_node(part))
    graph.add_node("brief", brief_node)
    graph.add_edge(START, "candles")
    graph.add_edge("candles", "lookup")
    graph.add_conditional_edges("lookup", after_lookup, {"hit": END, "miss": "admit"})
    for part in OPTIONAL_PARTS:
        graph.add_edge("admit", part)
    # The writer waits for all four (a join), whichever answered or gave up.
    graph.add_edge(list(OPTIONAL_PARTS), "brief")
    graph.add_edge("brief", END)
    return graph.compile()


GRAPH = build_graph()


def describe(settings: Settings) -> dict:
    """The workflow's steps for GET /workflows: who owns each, optional or not, its timeout."""
    step = settings.step_timeout

    def entry(name: str, service: str, optional: bool, timeout: float, after: list[str]):
        return {
            "name": name,
            "service": service,
            "optional": optional,
            "timeout_s": timeout,
            "after": after,
        }

    return {
        "name": NAME,
        "path": f"/workflows/{NAME}",
        "steps": [
            entry("candles", "database-service", False, step, []),
            entry("indicators", "trading-engine", True, step, ["candles"]),
            entry("signal", "trading-engine", True, step, ["candles"]),
            entry("prediction", "ml-processing", True, step, ["candles"]),
            entry("forecast", "deep-learning", True, step, ["candles"]),
            entry("brief", "ai-provider", False, settings.brief_timeout, list(OPTIONAL_PARTS)),
        ],
        "cache_ttl_s": settings.workflow_cache_ttl,
        "partial_cache_ttl_s": settings.partial_cache_ttl,
    }


async def run_market_brief(inputs: Mapping[str, Any], ctx: RunContext) -> dict:
    """Answer one market brief request: from the cache, or by running the graph."""
    started = time.perf_counter()
    try:
        state = await GRAPH.ainvoke(
            {"inputs": dict(inputs), "parts": {}, "missing": [], "timings": {}}, context=ctx
        )
    except QueueFull:
        ctx.stats.rejected += 1
        raise
    except Exception:
        ctx.stats.failed += 1
        raise
    finally:
        if ctx.slot is not None:
            ctx.limiter.release(ctx.slot)
    if hit := state.get("hit"):
        result = {**hit, "cached": True, "timings_ms": state["timings"], "total_ms": _ms(started)}
        ctx.stats.record(result["status"], cached=True, total_ms=result["total_ms"])
        return result

    missing = sorted(state["missing"], key=lambda m: PARTS.index(m["part"]))
    result = {
        "workflow": NAME,
        "id": uuid.uuid4().hex,
        "symbol": inputs["symbol"],
        "interval": inputs["interval"],
        "status": "partial" if missing else "complete",
        "inputs": {k: v for k, v in inputs.items() if k not in ("symbol", "interval")},
        "brief": state["brief"],
        "parts": {part: state["parts"].get(part) for part in PARTS},
        "missing": missing,
        "cached": False,
        "computed_at_ms": int(time.time() * 1000),
        "timings_ms": state["timings"],
        "total_ms": _ms(started),
    }
    ttl = ctx.settings.partial_cache_ttl if missing else ctx.settings.workflow_cache_ttl
    await ctx.cache.put(state["cache_key"], result, ttl)
    ctx.stats.record(result["status"], cached=False, total_ms=result["total_ms"])
    return result
