"""The response cache in Redis, shared by every worker: exact match, then semantic match.

Exact: the key is a hash of the canonical request (the resolved route, the messages,
temperature, max_tokens, top_p, stop); the stored answer lives CACHE_TTL_SECONDS.

Semantic: prompts are compared only inside a partition, the hash of the route, the system
prompt, the parameters and the facts the prompt names: every token holding a digit, whole
("1.0832", "2024-01-05", "1h"), and every upper-case identifier ("EURUSD", "GOOG"), in any
order. So a paraphrase can hit, but a prompt about another symbol or timeframe, or whose
figures changed, never gets the answer written for the other one, however close the
embeddings are: all-MiniLM-L6-v2 puts "... EURUSD on the 1h chart" and "... on the 1d chart"
at cosine 0.965, above any useful threshold, and two wordings of one question near 0.65.
A partition is a Redis list of the last SEMANTIC_MAX_ENTRIES prompts (vector, exact key);
cosine >= SEMANTIC_THRESHOLD with one of them is a hit on that prompt's stored answer (a miss
once it expired).

Scope: answers are the caller's own. Both the exact key and the partition include the scope,
`user:<id>` (the gateway's X-User-Id) unless the request asks for `cache_scope: "shared"`,
one scope for everyone: one user's prompts and answers never reach another's unless both
chose to share them.
"""

import base64
import hashlib
import json
import re
from array import array
from dataclasses import dataclass

from redis.asyncio import Redis

from app.dispatch import ChatParams

# A token with a digit in it (taken whole, units and separators included), or an upper-case
# identifier of two or more characters.
_FACT = re.compile(r"[\w.,:/-]*\d[\w.,:/-]*|\b[A-Z][A-Z0-9._-]+\b")


def _digest(value: object) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parameters(params: ChatParams) -> dict:
    return {
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "top_p": params.top_p,
        "stop": params.stop,
    }


def scope_of(user: str, requested: str) -> str:
    """The cache scope of a request: "shared" when asked for, else the caller's own."""
    return "shared" if requested == "shared" else f"user:{user}"


def exact_key(route: list[str], params: ChatParams, *, scope: str) -> str:
    """The hash of the canonical request within its scope."""
    messages = [{"role": m["role"], "content": m["content"]} for m in params.messages]
    return _digest({"scope": scope, "route": route, "messages": messages, **_parameters(params)})


def semantic_text(params: ChatParams) -> str:
    """What is embedded: the conversation without its system prompt."""
    turns = [m for m in params.messages if m["role"] != "system"]
    return "\n".join(f"{m['role']}: {m['content']}" for m in turns)


def partition(route: list[str], params: ChatParams, *, scope: str) -> str:
    """The hash of what must be equal for a semantic hit (see the module's docstring)."""
    system = [m["content"] for m in params.messages if m["role"] == "system"]
    facts = sorted(fact.rstrip(".,:") for fact in _FACT.findall(semantic_text(params)))
    same = {"scope": scope, "route": route, "system": system, "facts": facts}
    return _digest({**same, **_parameters(params)})


def pack(vector: list[float]) -> str:
    return base64.b64encode(array("f", vector).tobytes()).decode()


def unpack(packed: str) -> array:
    values = array("f")
    values.frombytes(base64.b64decode(packed))
    return values


def cosine(a, b) -> float:
    """Cosine similarity (deep-learning's vectors are unit length, but hosted ones need not be)."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = (sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5
    return dot / norm if norm else 0.0


@dataclass
class Hit:
    kind: str  # "exact" | "semantic"
    body: dict
    similarity: float = 1.0


class ResponseCache:
    """Stored answers and recent prompt vectors, under `prefix` in Redis."""

    def __init__(self, redis: Redis, prefix: str, ttl: int, max_entries: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.max_entries = max_entries

    def _answer_key(self, key: str) -> str:
        return f"{self.prefix}:cache:{key}"

    def _partition_key(self, name: str) -> str:
        return f"{self.prefix}:semantic:{name}"

    async def exact(self, key: str) -> Hit | None:
        raw = await self.redis.get(self._answer_key(key))
        return Hit("exact", json.loads(raw)) if raw else None

    async def semantic(self, name: str, vector: list[float], threshold: float) -> Hit | None:
        """The most similar recent prompt of the partition, if similar enough and its
        answer still stored."""
        entries = await self.redis.lrange(self._partition_key(name), 0, -1)
        best, best_key = -1.0, None
        for raw in entries:
            entry = json.loads(raw)
            similarity = cosine(vector, unpack(entry["v"]))
            if similarity > best:
                best, best_key = similarity, entry["key"]
        if best_key is None or best < threshold:
            return None
        raw = await self.redis.get(self._answer_key(best_key))
        return Hit("semantic", json.loads(raw), best) if raw else None

    async def store(
        self, key: str, body: dict, partition_name: str | None, vector: list[float] | None
    ) -> None:
        """Keep the answer; remember the prompt's vector in its partition (bounded)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self._answer_key(key), json.dumps(body), ex=self.ttl)
            if partition_name is not None and vector is not None:
                name = self._partition_key(partition_name)
                pipe.lpush(name, json.dumps({"key": key, "v": pack(vector)}))
                pipe.ltrim(name, 0, self.max_entries - 1)
                pipe.expire(name, self.ttl)
            await pipe.execute()
