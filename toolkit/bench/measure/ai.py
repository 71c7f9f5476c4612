"""The AI tiers' figures: ai-provider's response cache and ai-orchestration's market brief.

- provider_cache: a replayed request mix through the gateway to ai-provider's chat API. The
  mix is fixed (seeded): questions about QUESTIONS symbols and timeframes drawn with a Zipf
  law (a few are asked often, most rarely), each asked in one of PHRASINGS wordings. An exact
  cache can at best answer again what it has seen word for word (`exact_ceiling`); a semantic
  cache can also catch another wording of a question it has seen, and can be wrong: a hit whose
  answer was written for another question (another symbol or timeframe) counts as `wrong`.
  The answer names its question because ai-provider's offline default restates the prompt's
  facts; with a real model configured the `wrong` count is not measured (left null).
- workflow: market briefs of one replayed symbol, run after run, without the cache
  (`cache: false`) and with it (the same input again); p50 / p95 of each as the client sees it.
- burst: more briefs at once than ai-orchestration runs plus queues (from the catalog), all
  uncached: how many ran, how many were refused with 429 (and the Retry-After they got), and
  the most workflows the service saw running at once (its /stats), beside its limit.

Everything goes to the gateway on 127.0.0.1, is bounded in requests and time, and stops by
itself.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import string
import time

import httpx

from toolkit import loadgen
from toolkit.bench.measure import stream as bench_stream
from toolkit.catalog import Catalog
from toolkit.console import console, step, table
from toolkit.errors import ToolkitError

PROVIDER = "/api/ai-provider"
ORCHESTRATION = "/api/ai-orchestration"
SYMBOLS = (
    "EURUSD",
    "GBPUSD",
    "USDJPY",
    "BTCUSD",
    "ETHUSD",
    "GOOG",
    "AAPL",
    "MSFT",
    "SPY",
    "XAUUSD",
)
TIMEFRAMES = ("1h", "1d")
PHRASINGS = (
    "Write a short market brief for {symbol} on the {timeframe} chart.",
    "Give me a brief market outlook for {symbol} ({timeframe} candles).",
    "Summarise how {symbol} looks on the {timeframe} timeframe.",
)
ZIPF_S = 1.2
SEED = 20261129
BARS = 600  # EURUSD hourly bars replayed for the briefs: enough to train on


def request_mix(requests: int, seed: int = SEED) -> list[tuple[int, str]]:
    """(question id, prompt) pairs: questions by Zipf rank, wordings uniformly."""
    questions = [(s, t) for s in SYMBOLS for t in TIMEFRAMES]
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    weights = [1 / (rank + 1) ** ZIPF_S for rank in range(len(questions))]
    mix = []
    for _ in range(requests):
        qid = rng.choices(range(len(questions)), weights)[0]
        symbol, timeframe = questions[qid]
        wording = rng.choice(PHRASINGS)
        mix.append((qid, f"- question: {wording.format(symbol=symbol, timeframe=timeframe)}"))
    return mix


def _answered_for(content: str) -> tuple[str, str] | None:
    """The (symbol, timeframe) an offline-template answer restates, if it names exactly one."""
    symbols = [s for s in SYMBOLS if s in content]
    timeframes = [t for t in TIMEFRAMES if t in content]
    return (symbols[0], timeframes[0]) if len(symbols) == 1 and len(timeframes) == 1 else None


async def provider_cache(client: httpx.AsyncClient, headers: dict, requests: int) -> dict:
    """The response cache's hit rate on the replayed mix (a tag of this run keeps earlier
    runs' entries out of it)."""
    # Letters only: the answer restates the system prompt too, and a "1d" in it would blur
    # which timeframe the answer names.
    tag = "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    questions = [(s, t) for s in SYMBOLS for t in TIMEFRAMES]
    mix = request_mix(requests)
    outcomes = {"exact": 0, "semantic": 0, "miss": 0}
    wrong, checked, offline = 0, 0, True
    hit_ms: list[float] = []
    miss_ms: list[float] = []
    for qid, prompt in mix:  # in order: the cache's state depends on what came before
        body = {
            "model": "auto",
            "messages": [
                {"role": "system", "content": f"Benchmark {tag}: answer briefly."},
                {"role": "user", "content": prompt},
            ],
        }
        started = time.perf_counter()
        answer = await client.post(f"{PROVIDER}/v1/chat/completions", json=body, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise ToolkitError(
                f"ai-provider answered {answer.status_code}: {answer.text[:200]}",
                "see `inv logs ai-provider`; is the ai profile up? `inv up --profile ai`",
            )
        result = answer.json()
        cache = result["provider"]["cache"]
        outcomes[cache] += 1
        (miss_ms if cache == "miss" else hit_ms).append(elapsed)
        offline = offline and result["model"] == "offline-template"
        if cache == "semantic" and offline:
            checked += 1
            wrong += _answered_for(result["choices"][0]["message"]["content"]) != questions[qid]
    hits = outcomes["exact"] + outcomes["semantic"]
    distinct = len({prompt for _, prompt in mix})
    return {
        "requests": len(mix),
        "distinct_prompts": distinct,
        "distinct_questions": len({qid for qid, _ in mix}),
        "exact_hits": outcomes["exact"],
        "semantic_hits": outcomes["semantic"],
        "misses": outcomes["miss"],
        "hit_rate": round(hits / len(mix), 3),
        "exact_ceiling": round(1 - distinct / len(mix), 3),
        "wrong_semantic_hits": wrong if offline else None,
        "hit_p50_ms": _p(hit_ms, 50),
        "miss_p50_ms": _p(miss_ms, 50),
    }


def _p(values: list[float], q: float) -> float | None:
    return round(loadgen.percentile(sorted(values), q), 2) if values else None


async def _candles_stored(client: httpx.AsyncClient, headers: dict, symbol: str, within: float):
    """Wait until the replay's candles are stored: data-bridge sends them in batches after the
    replay itself is done."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        answer = await client.get(
            "/api/trading-engine/indicators",
            params={"symbol": symbol, "interval": "1h", "limit": 2 * BARS},
            headers=headers,
        )
        if answer.status_code == 200 and len(answer.json()["close"]) >= BARS - 1:
            return
        await asyncio.sleep(0.25)
    raise ToolkitError(
        f"the {BARS} replayed bars of {symbol} are not all stored as candles after {within:.0f}s",
        "see `inv logs data-bridge` and `inv logs database-service`",
    )


async def _train(client: httpx.AsyncClient, headers: dict, symbol: str) -> dict:
    """A promoted model and a forecaster for the symbol, where those services run; a brief
    without them is partial, and its latency says so (the section records which)."""
    trained: dict = {}
    jobs = {
        "ml-processing": (
            "/api/ml-processing/models/train",
            {"symbol": symbol, "interval": "1h", "model": "sklearn", "promote": True},
            "id",
            "/api/ml-processing/jobs/{}",
        ),
        "deep-learning": (
            "/api/deep-learning/forecasters/train",
            {"symbol": symbol, "interval": "1h", "window": 16, "horizon": 3, "epochs": 2},
            "job_id",
            "/api/deep-learning/forecasters/jobs/{}",
        ),
    }
    for service, (path, body, key, status) in jobs.items():
        started = await client.post(path, json=body, headers=headers)
        if started.status_code != 202:
            trained[service] = f"not trained: {started.status_code}"
            continue
        url = status.format(started.json()[key])
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            job = (await client.get(url, headers=headers)).json()
            if job["state"] in {"succeeded", "failed", "cancelled"}:
                trained[service] = job["state"]
                break
            await asyncio.sleep(1)
        else:
            trained[service] = "still training after 240 s"
    return trained


async def _brief(client: httpx.AsyncClient, headers: dict, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    answer = await client.post(
        f"{ORCHESTRATION}/workflows/market-brief", json=body, headers=headers
    )
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise ToolkitError(
            f"the market brief answered {answer.status_code}: {answer.text[:200]}",
            "see `inv logs ai-orchestration`",
        )
    return elapsed, answer.json()


async def workflow(client: httpx.AsyncClient, headers: dict, symbol: str, runs: int) -> dict:
    section = {}
    body = {"symbol": symbol, "interval": "1h", "horizon": 3}
    for name, cache in (("uncached", False), ("cached", True)):
        times, statuses = [], set()
        if cache:
            await _brief(client, headers, {**body, "cache": True})  # the entry the rest hit
        for _ in range(runs):
            elapsed, result = await _brief(client, headers, {**body, "cache": cache})
            if result["cached"] is not cache:
                raise ToolkitError(
                    f"a brief with cache={cache} answered cached={result['cached']}",
                    "ai-orchestration's cache is not doing what it says",
                )
            times.append(elapsed)
            statuses.add(result["status"])
        section[name] = {
            "runs": runs,
            "status": "/".join(sorted(statuses)),
            "p50_ms": _p(times, 50),
            "p95_ms": _p(times, 95),
            "max_ms": round(max(times), 2),
        }
    return section


async def burst(client: httpx.AsyncClient, headers: dict, symbol: str, catalog: Catalog) -> dict:
    service = catalog.service("ai-orchestration")
    limit = int(service.tuning.get("max_workflows", 5))
    queue = int(service.extra.get("env", {}).get("WORKFLOW_QUEUE", 20))
    size = limit + queue + 10

    async def one(i: int) -> httpx.Response:
        body = {"symbol": symbol, "interval": "1h", "horizon": 3, "cache": False}
        return await client.post(
            f"{ORCHESTRATION}/workflows/market-brief", json=body, headers=headers
        )

    started = time.perf_counter()
    answers = await asyncio.gather(*(one(i) for i in range(size)))
    seconds = time.perf_counter() - started
    codes = [a.status_code for a in answers]
    retry_after = [float(a.headers["retry-after"]) for a in answers if a.status_code == 429]
    stats = (await client.get(f"{ORCHESTRATION}/stats", headers=headers)).json()
    return {
        "requests": size,
        "ok": codes.count(200),
        "rejected_429": codes.count(429),
        "other": len(codes) - codes.count(200) - codes.count(429),
        "max_concurrent": stats["max_concurrent"],
        "queue_limit": stats["queue_limit"],
        "max_running_seen": stats["max_running_seen"],
        "retry_after_s": min(retry_after) if retry_after else None,
        "seconds": round(seconds, 2),
    }


async def _measure(catalog: Catalog, quick: bool) -> dict:
    section: dict = {}
    async with httpx.AsyncClient(base_url=loadgen.GATEWAY_URL, timeout=60, trust_env=False) as c:
        with step("log in a bench user and the admin through the gateway"):
            headers = {"Authorization": f"Bearer {await bench_stream.bench_token(c)}"}
            # The replay and the training write: the admin's; everything else: the user's.
            admin = {"Authorization": f"Bearer {await bench_stream.admin_token(c)}"}
        requests = 100 if quick else 400
        with step(f"provider cache: {requests} requests of a replayed mix") as note:
            section["provider_cache"] = await provider_cache(c, headers, requests)
            note["note"] = f"hit rate {section['provider_cache']['hit_rate']:.1%}"
        symbol = bench_stream.new_symbol("AI")
        with step(f"replay {BARS} EURUSD bars as {symbol}, train its models") as note:
            replay = await bench_stream.start_replay(
                c, admin, series="EURUSD", symbol=symbol, speed=0, limit=BARS
            )
            await bench_stream.replay_finished(c, headers, replay["replay_id"], within=120)
            await _candles_stored(c, headers, symbol, within=60)
            section["models"] = await _train(c, admin, symbol)
            note["note"] = ", ".join(f"{k} {v}" for k, v in section["models"].items())
        runs = 5 if quick else 20
        with step(f"workflow: {runs} market briefs without and with the cache") as note:
            section["workflow"] = await workflow(c, headers, symbol, runs)
            note["note"] = f"p50 {section['workflow']['uncached']['p50_ms']} ms uncached"
        with step("burst: more briefs at once than run and queue") as note:
            section["burst"] = await burst(c, headers, symbol, catalog)
            note["note"] = f"{section['burst']['rejected_429']} refused with 429"
        for session in (headers, admin):
            await c.post("/auth/logout", headers=session)
    _show(section)
    return section


def measure(catalog: Catalog, quick: bool = False) -> dict:
    """The ai section, from synchronous code."""
    return asyncio.run(_measure(catalog, quick))


def _show(section: dict) -> None:
    cache = section["provider_cache"]
    console.print(
        table(
            "ai-provider response cache (replayed mix)",
            ["requests", "exact", "semantic", "miss", "hit rate", "exact ceiling", "wrong"],
            [
                (
                    cache["requests"],
                    cache["exact_hits"],
                    cache["semantic_hits"],
                    cache["misses"],
                    f"{cache['hit_rate']:.1%}",
                    f"{cache['exact_ceiling']:.1%}",
                    cache["wrong_semantic_hits"],
                )
            ],
        )
    )
    console.print(
        table(
            "market brief through the gateway",
            ["run", "runs", "status", "p50 ms", "p95 ms", "max ms"],
            [
                (name, f["runs"], f["status"], f["p50_ms"], f["p95_ms"], f["max_ms"])
                for name, f in section["workflow"].items()
            ],
        )
    )
    b = section["burst"]
    console.print(
        table(
            "burst of uncached briefs",
            ["sent", "200", "429", "other", "max running seen", "limit", "queue", "retry-after"],
            [
                (
                    b["requests"],
                    b["ok"],
                    b["rejected_429"],
                    b["other"],
                    b["max_running_seen"],
                    b["max_concurrent"],
                    b["queue_limit"],
                    b["retry_after_s"],
                )
            ],
        )
    )
