"""HTTP load from wrk, a native generator: the figures the Python generator cannot reach.

The Python generator (toolkit.loadgen) shares the host's two cores with the stack and tops out
near a few hundred requests/s, so on a fast route it measures itself. wrk (C, an event loop per
thread; Debian's `wrk` package, `brew install wrk`) drives the same routes at a bounded
concurrency and duration, and the same run reports both on GET /health/live, the trivial
route: the ratio is each generator's ceiling, printed beside every figure it made.

wrk is optional: without it the bench says how to install it and measures with Python alone.
Only routes the gateway does not rate-limit are loaded with wrk (it cannot pace itself; the
Python generator keeps within the rate budget). Percentiles are wrk's, over every answer; a
non-2xx/3xx answer or a socket error counts in `errors`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from toolkit.errors import ToolkitError

MARKER = "WRK-JSON "
INSTALL = "install wrk (Debian/Ubuntu: `apt-get install wrk`; macOS: `brew install wrk`)"
# wrk's done() hook: the summary as one JSON line after a marker (microseconds, counts).
REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\\n',
    "MARKER", summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max))
end
""".replace("MARKER", MARKER)


def binary() -> str | None:
    """wrk's path, or None when it is not installed."""
    return shutil.which("wrk")


def parse(output: str, concurrency: int) -> dict:
    """The latency.http entry from wrk's output (the done() hook's JSON line)."""
    line = next((ln for ln in output.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise ToolkitError(
            "wrk printed no summary (its output: " + (output.strip()[-300:] or "nothing") + ")",
            "run the command by hand to see why; a wrk older than 4.0 has no Lua hooks",
        )
    raw = json.loads(line[len(MARKER) :])
    seconds = raw["duration_us"] / 1e6
    failed = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    requests = raw["requests"]
    ok = max(0, requests - raw["status"])  # `requests` counts answers, any status
    return {
        "p50_ms": round(raw["p50_us"] / 1000, 3),
        "p95_ms": round(raw["p95_us"] / 1000, 3),
        "p99_ms": round(raw["p99_us"] / 1000, 3),
        "max_ms": round(raw["max_us"] / 1000, 3),
        "rps": round(ok / seconds, 1) if seconds > 0 else 0.0,
        "requests": requests,
        "ok": ok,
        "errors": raw["status"] + failed,
        "non_2xx": raw["status"],
        "exceptions": failed,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "generator": "wrk",
    }


def load(
    url: str,
    *,
    concurrency: int = 16,
    seconds: float = 10.0,
    threads: int = 2,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
) -> dict:
    """GET `url` with wrk: `concurrency` connections over `threads` threads for `seconds`
    (whole seconds, at least 1); its latency.http entry. Bounded: wrk stops by itself, and
    is killed if it outlives its duration by a wide margin."""
    wrk = binary()
    if wrk is None:
        raise ToolkitError("wrk is not installed", INSTALL)
    duration = max(1, round(seconds))
    threads = max(1, min(threads, concurrency))
    with tempfile.TemporaryDirectory(prefix="tiered-wrk-") as scratch:
        script = Path(scratch) / "report.lua"
        script.write_text(REPORT_LUA)
        command = [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{duration}s"]
        command += [f"--timeout={timeout_s:g}s", "-s", str(script)]
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        command.append(url)
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=duration + 30, check=False
            )
        except subprocess.TimeoutExpired:
            raise ToolkitError(
                f"wrk did not stop within {duration + 30}s", f"run `{' '.join(command)}`"
            ) from None
    if result.returncode != 0:
        raise ToolkitError(
            f"wrk failed (exit {result.returncode}): {result.stderr.strip()[-300:]}",
            f"run `{' '.join(command)}` by hand",
        )
    return parse(result.stdout, concurrency)
