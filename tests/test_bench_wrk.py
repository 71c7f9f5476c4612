"""wrk, the bench's native load generator: its summary read right, its absence said plainly,
and each HTTP figure named with its generator and that generator's ceiling."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from toolkit.bench.measure import http as http_measure
from toolkit.bench.measure import wrk
from toolkit.errors import ToolkitError

needs_wrk = pytest.mark.skipif(
    wrk.binary() is None, reason="wrk is not installed (apt-get install wrk; bootstrap does)"
)


def summary(**overrides) -> str:
    fields = {
        "requests": 1000,
        "duration_us": 2_000_000,
        "connect": 0,
        "read": 0,
        "write": 0,
        "status": 0,
        "timeout": 0,
        "p50_us": 1500,
        "p95_us": 4000,
        "p99_us": 9000,
        "max_us": 12000,
        **overrides,
    }
    body = ",".join(f'"{k}":{v}' for k, v in fields.items())
    return f"Running 2s test @ http://127.0.0.1:1/\n  lines wrk prints\n{wrk.MARKER}{{{body}}}\n"


def test_the_summary_becomes_a_latency_entry() -> None:
    entry = wrk.parse(summary(), concurrency=16)
    assert entry["p50_ms"] == 1.5 and entry["p99_ms"] == 9.0 and entry["max_ms"] == 12.0
    assert entry["rps"] == 500.0 and entry["requests"] == 1000 and entry["errors"] == 0
    assert entry["generator"] == "wrk" and entry["concurrency"] == 16


def test_bad_answers_and_socket_errors_count_as_errors_not_throughput() -> None:
    entry = wrk.parse(summary(status=200, timeout=3, connect=1), concurrency=4)
    assert entry["non_2xx"] == 200 and entry["exceptions"] == 4 and entry["errors"] == 204
    assert entry["ok"] == 800 and entry["rps"] == 400.0


def test_output_without_a_summary_says_what_wrk_printed() -> None:
    with pytest.raises(ToolkitError) as info:
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n", concurrency=1)
    assert "Connection refused" in info.value.problem


def test_without_wrk_the_bench_says_how_to_get_it(monkeypatch, capsys) -> None:
    monkeypatch.setattr(wrk, "binary", lambda: None)
    assert http_measure.native_scenarios("http://127.0.0.1:1", concurrency=2, seconds=1) == {}
    assert "apt-get install wrk" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(ToolkitError, match="not installed"):
        wrk.load("http://127.0.0.1:1/", seconds=1)


def test_each_figure_names_its_generator_and_that_generators_ceiling() -> None:
    section = {
        "health_live": {"rps": 400.0},
        "auth_me": {"rps": 150.0},
        "wrk_health_live": {"rps": 4000.0, "generator": "wrk"},
        "wrk_health": {"rps": 1500.0, "generator": "wrk"},
    }
    http_measure.mark_ceilings(section)
    assert section["auth_me"] == {"rps": 150.0, "generator": "python", "ceiling_rps": 400.0}
    assert section["wrk_health"]["ceiling_rps"] == 4000.0
    alone = {"auth_me": {"rps": 1.0}}
    http_measure.mark_ceilings(alone)
    assert alone["auth_me"]["ceiling_rps"] is None


class Answers(BaseHTTPRequestHandler):
    """200 on /ok, 503 anywhere else; keep-alive, as wrk expects."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"status":"alive"}'
        self.send_response(200 if self.path == "/ok" else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@needs_wrk
def test_wrk_loads_a_local_server_and_counts_what_it_answered() -> None:
    with local_server() as url:
        good = wrk.load(f"{url}/ok", concurrency=2, seconds=1, threads=1)
        bad = wrk.load(f"{url}/down", concurrency=2, seconds=1, threads=1)
    assert good["requests"] > 0 and good["errors"] == 0 and good["rps"] > 0
    assert good["p50_ms"] <= good["p99_ms"] <= good["max_ms"]
    assert bad["requests"] > 0 and bad["non_2xx"] == bad["requests"] and bad["rps"] == 0
