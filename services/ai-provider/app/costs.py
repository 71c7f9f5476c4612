"""The cost ledger and the service's counters, in Redis so both workers add to one set.

The ledger counts calls that reached a model (cache hits cost nothing and are counted under
the cache): per model, per user and per user and model, requests, prompt and completion
tokens, and their cost at the model's prices. Requests and cache outcomes are counted for the
service and for each user, so a user's GET /stats can show theirs alone. Latency per model is
an exponentially weighted moving average of its successful calls, updated atomically (a Lua
script) and read by latency routing.
"""

from redis.asyncio import Redis

LEDGER_FIELDS = ("requests", "prompt_tokens", "completion_tokens", "cost_usd")
CACHE_FIELDS = ("exact_hits", "semantic_hits", "misses")

_EWMA = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local value = tonumber(ARGV[2])
if old then value = tonumber(ARGV[3]) * value + (1 - tonumber(ARGV[3])) * tonumber(old) end
redis.call('HSET', KEYS[1], ARGV[1], tostring(value))
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return tostring(value)
"""


def _cache(stats: dict) -> dict:
    cache = {name: int(stats.get(name, 0)) for name in CACHE_FIELDS}
    lookups = sum(cache.values())
    hits = cache["exact_hits"] + cache["semantic_hits"]
    cache["hit_rate"] = round(hits / lookups, 4) if lookups else 0.0
    return cache


def _numbers(raw: dict) -> dict:
    out: dict = {}
    for name in LEDGER_FIELDS:
        value = raw.get(name, "0")
        out[name] = float(value) if name == "cost_usd" else int(value)
    return out


class Ledger:
    """Counters, costs and latencies under `prefix` in Redis."""

    def __init__(self, redis: Redis, prefix: str, alpha: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.alpha = alpha
        self._ewma = redis.register_script(_EWMA)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def count(self, field: str, by: int = 1, user: str | None = None) -> None:
        """Add to one of the counters (requests, fallbacks, exact_hits, ...), also `user`'s."""
        if user is None:
            await self.redis.hincrby(self._key("stats"), field, by)
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(self._key("stats"), field, by)
            pipe.hincrby(self._key("stats", "user", user), field, by)
            await pipe.execute()

    async def failed(self, attempts: list[dict]) -> None:
        """One failure per failed attempt, by model."""
        if not attempts:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for attempt in attempts:
                pipe.hincrby(self._key("failures"), attempt["model"], 1)
            await pipe.execute()

    async def record(
        self, model: str, user: str, prompt_tokens: int, completion_tokens: int, cost_usd: float
    ) -> None:
        """One model call's tokens and cost, under its model and its user."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for kind, name in (("model", model), ("user", user)):
                key = self._key("cost", kind, name)
                pipe.sadd(self._key("cost", f"{kind}s"), name)
                pipe.hincrby(key, "requests", 1)
                pipe.hincrby(key, "prompt_tokens", prompt_tokens)
                pipe.hincrby(key, "completion_tokens", completion_tokens)
                pipe.hincrbyfloat(key, "cost_usd", cost_usd)
            # The user's own figures per model: one hash, fields "<figure>|<model>" (a figure's
            # name holds no "|", so any model id splits back off whole).
            own = self._key("cost", "user-models", user)
            pipe.hincrby(own, f"requests|{model}", 1)
            pipe.hincrby(own, f"prompt_tokens|{model}", prompt_tokens)
            pipe.hincrby(own, f"completion_tokens|{model}", completion_tokens)
            pipe.hincrbyfloat(own, f"cost_usd|{model}", cost_usd)
            await pipe.execute()

    async def observe_latency(self, model: str, latency_ms: float) -> None:
        await self._ewma(
            keys=[self._key("latency"), self._key("latency", "samples")],
            args=[model, f"{latency_ms:.3f}", str(self.alpha)],
        )

    async def latencies(self) -> dict[str, float]:
        """Each measured model's average latency in ms."""
        raw = await self.redis.hgetall(self._key("latency"))
        return {model: float(value) for model, value in raw.items()}

    async def _ledger(self, kind: str) -> dict[str, dict]:
        names = sorted(await self.redis.smembers(self._key("cost", f"{kind}s")))
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self._key("cost", kind, name))
            rows = await pipe.execute()
        return {name: _numbers(row) for name, row in zip(names, rows, strict=True)}

    async def snapshot(self) -> dict:
        """Everything /stats reports to an admin but the cache's semantic state and tracing."""
        stats = await self.redis.hgetall(self._key("stats"))
        failures = await self.redis.hgetall(self._key("failures"))
        latency = await self.latencies()
        samples = await self.redis.hgetall(self._key("latency", "samples"))
        return {
            "cache": _cache(stats),
            "requests": int(stats.get("requests", 0)),
            "fallbacks": int(stats.get("fallbacks", 0)),
            "failures": {model: int(n) for model, n in failures.items()},
            "cost": {
                "by_model": await self._ledger("model"),
                "by_user": await self._ledger("user"),
            },
            "latency_ms": {
                model: {"ewma": round(value, 2), "samples": int(samples.get(model, 0))}
                for model, value in latency.items()
            },
        }

    async def user_snapshot(self, user: str) -> dict:
        """What /stats reports to `user`: their requests, cache outcomes and costs alone."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._key("stats", "user", user))
            pipe.hgetall(self._key("cost", "user", user))
            pipe.hgetall(self._key("cost", "user-models", user))
            stats, total, per_model = await pipe.execute()
        models: dict[str, dict] = {}
        for name, value in per_model.items():
            figure, _, model = name.partition("|")
            models.setdefault(model, {})[figure] = value
        return {
            "scope": "user",
            "user": user,
            "cache": _cache(stats),
            "requests": int(stats.get("requests", 0)),
            "cost": {
                "by_model": {model: _numbers(models[model]) for model in sorted(models)},
                "by_user": {user: _numbers(total)} if total else {},
            },
        }
