"""Servers the tests run on 127.0.0.1: an OpenAI-compatible provider whose behaviour each
test scripts per model name, a deep-learning stand-in with its /embeddings contract, and an
OTLP receiver standing in for Langfuse."""

import asyncio
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

import servicekit_testing as testing

DIMENSION = 384


free_port = testing.closed_port


class ServerThread:
    """A uvicorn server for `app` in a daemon thread, on a free port."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@dataclass
class Script:
    """How the fake provider answers one model: `fail` first calls get `status`, then
    answers take `hang` seconds and report `usage` tokens. Streamed (`stream: true`), the
    content goes a word per chunk; with `break_after`, the connection is dropped after that
    many chunks."""

    content: str = "a fake answer"
    fail: int = 0
    status: int = 500
    hang: float = 0.0
    usage: tuple[int, int] | None = (11, 7)
    break_after: int | None = None
    calls: list[dict] = field(default_factory=list)


class FakeProvider:
    """An OpenAI-compatible chat and embeddings endpoint scripted per model name."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        app = FastAPI()
        app.post("/v1/chat/completions")(self._chat)
        app.post("/v1/embeddings")(self._embeddings)
        self.thread = ServerThread(app)

    @property
    def base(self) -> str:
        return f"{self.thread.url}/v1"

    def script(self, model: str, **behaviour) -> Script:
        self.scripts[model] = Script(**behaviour)
        return self.scripts[model]

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        script = self.scripts.setdefault(body["model"], Script())
        script.calls.append(body)
        if len(script.calls) <= script.fail:
            return JSONResponse(
                {"error": {"message": f"scripted failure {len(script.calls)}"}},
                status_code=script.status,
            )
        if script.hang:
            await asyncio.sleep(script.hang)
        if body.get("stream"):
            return StreamingResponse(self._events(script, body), media_type="text/event-stream")
        answer = {
            "id": f"fake-{len(script.calls)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": script.content},
                    "finish_reason": "stop",
                }
            ],
        }
        if script.usage is not None:
            prompt, completion = script.usage
            answer["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        return JSONResponse(answer)

    async def _events(self, script: Script, body: dict) -> AsyncIterator[bytes]:
        """OpenAI's chat.completion.chunk events for the script's content."""
        base = {
            "id": f"fake-{len(script.calls)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
        }

        def event(choices: list, **extra) -> bytes:
            return f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n".encode()

        words = re.findall(r"\S+\s*", script.content)
        for number, word in enumerate(words):
            if script.break_after is not None and number == script.break_after:
                raise ConnectionAbortedError("scripted break in the middle of a stream")
            yield event([{"index": 0, "delta": {"content": word}, "finish_reason": None}])
            await asyncio.sleep(0)
        yield event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        wants_usage = (body.get("stream_options") or {}).get("include_usage")
        if wants_usage and script.usage is not None:
            prompt, completion = script.usage
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
            yield event([], usage=usage)
        yield b"data: [DONE]\n\n"

    async def _embeddings(self, request: Request) -> JSONResponse:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": bag_of_words(text)[:8]}
            for i, text in enumerate(texts)
        ]
        usage = {"prompt_tokens": 5 * len(texts), "total_tokens": 5 * len(texts)}
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )


def bag_of_words(text: str) -> list[float]:
    """A deterministic unit vector: lower-cased words hashed into DIMENSION buckets, so the
    same words in another case or punctuation give cosine 1 and other words much less."""
    vector = [0.0] * DIMENSION
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        bucket = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % DIMENSION
        vector[bucket] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class FakeDeepLearning:
    """deep-learning's POST /embeddings and GET /health contract (see services/README.md)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        app = FastAPI()
        app.post("/embeddings")(self._embeddings)
        app.get("/health")(self._health)
        self.thread = ServerThread(app)

    @property
    def url(self) -> str:
        return self.thread.url

    async def _embeddings(self, request: Request) -> JSONResponse:
        texts = (await request.json())["texts"]
        self.calls.append(texts)
        if any(not t.strip() for t in texts):
            return JSONResponse({"detail": "empty text"}, status_code=422)
        return JSONResponse(
            {
                "model": "sentence-transformers/all-MiniLM-L6-v2",
                "dimension": DIMENSION,
                "normalized": True,
                "embeddings": [bag_of_words(t) for t in texts],
            }
        )

    async def _health(self) -> dict:
        ok = {"status": "ok", "latency_ms": 1.0, "detail": None}
        return {"service": "deep-learning", "status": "ok", "checks": {"embedding-model": ok}}


class FakeLangfuse:
    """Langfuse's OTLP endpoint: records each export's headers and size."""

    def __init__(self) -> None:
        self.exports: list[dict] = []
        app = FastAPI()
        app.post("/api/public/otel/v1/traces")(self._traces)
        self.thread = ServerThread(app)

    @property
    def url(self) -> str:
        return self.thread.url

    async def _traces(self, request: Request) -> dict:
        body = await request.body()
        self.exports.append({"headers": dict(request.headers), "bytes": len(body), "body": body})
        return {}
