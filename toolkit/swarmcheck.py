"""`nox -s swarm`: the core profile on a one-node swarm, checked and measured in one run.

1. The compose stack is stopped (it holds the gateway's port, and leaving a swarm breaks its
   DNS), after its core profile's start-to-healthy is measured for the comparison.
2. `inv deploy --profile core --registry local`: the images pushed to a registry the toolkit
   runs (Debian's docker-registry, built offline), and the time until every service runs its
   replicas healthy.
3. A user registers and logs in through the gateway; the services' secrets are files, not
   variables (`docker inspect` of a task shows none of them).
4. user-service scaled 1 -> 2: `GET /auth/me` through the gateway at a paced rate (the
   gateway limits requests per client address), latency with each. The gateway itself stays
   at one replica here: host-mode publishing (no IPVS) gives its port to one task per node.
5. A rolling update of user-service (a new image) under that load: failed requests counted.
6. An image whose health check never passes: Swarm rolls it back, the toolkit says so, and
   the previous image runs again.
7. The stack is removed and the swarm left when the toolkit made it.
Results: benchmarks/results/swarm.json and swarm.md; exit 1 when a check fails.

Every request goes to 127.0.0.1 (the gateway); every load is bounded in threads and seconds.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
import uuid

import httpx

from toolkit import builds, catalog, envfile, health, loadgen, stack
from toolkit.catalog import ROOT
from toolkit.console import console, step, table
from toolkit.errors import ToolkitError
from toolkit.loadgen import percentile
from toolkit.names import PROJECT
from toolkit.stack import swarm

GATEWAY = "http://127.0.0.1:8000"
RESULTS = ROOT / "benchmarks" / "results"
ROLLED = "user-service"


def _load(
    token: str, seconds: float, rate: float, threads: int = 8, stop: threading.Event | None = None
) -> dict:
    """GET /auth/me through the gateway at `rate` requests/s (paced: under the gateway's
    per-address rate limit, which would answer 429 past it) from `threads` clients, for
    `seconds` or until `stop`: requests, failures (any non-200 or transport error), latency
    percentiles."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    issued = [0]

    def client() -> None:
        with httpx.Client(base_url=GATEWAY, timeout=10, trust_env=False) as http:
            while not (stop and stop.is_set()):
                with lock:
                    slot = started + issued[0] / rate
                    issued[0] += 1
                if slot > deadline:
                    return
                time.sleep(max(0.0, slot - time.monotonic()))
                sent = time.monotonic()
                try:
                    status = str(
                        http.get(
                            "/auth/me", headers={"Authorization": f"Bearer {token}"}
                        ).status_code
                    )
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == "200":
                        latencies.append((time.monotonic() - sent) * 1000)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ordered = sorted(latencies)
    requests = sum(statuses.values())
    return {
        "requests": requests,
        "failed": requests - statuses.get("200", 0),
        "statuses": statuses,
        "rate": rate,
        "p50_ms": round(percentile(ordered, 50), 1),
        "p99_ms": round(percentile(ordered, 99), 1),
    }


def _login() -> str:
    user = f"swarm-{uuid.uuid4().hex[:10]}"
    password = f"Swarm-{uuid.uuid4().hex}-1"
    with httpx.Client(base_url=GATEWAY, timeout=30, trust_env=False) as http:
        created = http.post(
            "/auth/register",
            json={"username": user, "email": f"{user}@example.com", "password": password},
        )
        if created.status_code != 201:
            raise ToolkitError(f"register through the swarm's gateway: {created.text[:200]}", "")
        login = http.post("/auth/login", json={"username": user, "password": password})
        return login.json()["access_token"]


def _image_from(base: str, tag: str, extra: str) -> str:
    """A new image on top of `base` (a new id, so a rolling update), `extra` its last line."""
    dockerfile = f"FROM {base}\nLABEL tiered.swarmcheck={uuid.uuid4().hex}\n{extra}\n"
    stack.client().images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return tag


def _secrets_are_files(cat) -> bool:
    values = envfile.read(envfile.ensure()[0])
    secrets = [values[k] for k in envfile.secret_keys() if values.get(k)]
    containers = stack.client().containers.list(
        filters={"label": f"com.docker.swarm.service.name={PROJECT}_{ROLLED}"}
    )
    for container in containers:
        environment = "\n".join(container.attrs["Config"]["Env"])
        if any(secret in environment for secret in secrets):
            return False
        code, _ = container.exec_run(["python3", "-c", "open('/run/secrets/jwt_secret').read()"])
        if code != 0:
            return False
    return bool(containers)


def run(quick: bool) -> dict:
    cat = catalog.load()
    seconds = 8 if quick else 20
    # Paced well under the gateway's per-address limit (every request here has one address).
    rate = min(50.0, loadgen.gateway_rate_limit(cat) * loadgen.RATE_LIMIT_SHARE / 60 * 0.6)
    figures: dict = {"quick": quick, "checks": {}}
    checks = figures["checks"]
    core = cat.profile("core")
    names = cat.profile_infrastructure("core")
    names += [s.name for s in core]
    with step("compose: core profile start to healthy (for the comparison)") as note:
        builds.ensure_built(cat, core)
        stack.down(None, None, False)
        states = health.start_and_wait(cat, names, lambda: stack.up("core", core), timeout=300)
        figures["compose_core_healthy_s"] = round(max(s.seconds or 0 for s in states), 1)
        note["note"] = f"{figures['compose_core_healthy_s']} s"
        stack.down(None, None, False)
    created = swarm.ensure_swarm(console.print)
    values = envfile.read(envfile.ensure()[0])
    with step("the local registry (Debian's docker-registry), for the air-gapped path") as note:
        registry = swarm.ensure_registry(console.print)
        note["note"] = registry
    try:
        title = "inv deploy --profile core --registry local: pushed, every replica healthy"
        with step(title) as note:
            started = time.monotonic()
            environment = {
                **values,
                **swarm.modes(cat),
                **swarm.ensure_secrets(cat, "core", values),
                **swarm.image_references(cat, "core", registry),
            }
            before = swarm.update_marks()
            swarm.deploy(cat, "core", environment)
            swarm.wait_converged(names, 300, before=before)
            figures["swarm_core_healthy_s"] = round(time.monotonic() - started, 1)
            note["note"] = f"{figures['swarm_core_healthy_s']} s"
        token = _login()
        checks["secrets are files, not variables"] = _secrets_are_files(cat)
        for replicas in (1, 2):
            title = f"{ROLLED} x{replicas}: GET /auth/me at {rate:.0f}/s for {seconds} s"
            with step(title) as note:
                swarm.scale(ROLLED, replicas, 180)
                time.sleep(2)  # the gateway's pooled connections meet the new task too
                measured = figures[f"me_{replicas}_replicas"] = _load(token, seconds, rate)
                note["note"] = f"p50 {measured['p50_ms']} ms, p99 {measured['p99_ms']} ms"
        current = swarm.status()
        base = next(s.image for s in current if s.name == ROLLED)
        with step(f"rolling update of {ROLLED} under load (start-first)") as note:
            new = _image_from(base, f"{PROJECT}/{ROLLED}:swarmcheck", "")
            stop = threading.Event()
            result: dict = {}
            loader = threading.Thread(
                target=lambda: result.update(_load(token, 600, rate, stop=stop))
            )
            loader.start()
            started = time.monotonic()
            swarm.update_image(ROLLED, new, 600)
            figures["rolling_update_s"] = round(time.monotonic() - started, 1)
            time.sleep(2)
            stop.set()
            loader.join()
            figures["rolling_update_load"] = result
            checks["no failed request during the rolling update"] = result["failed"] == 0
            note["note"] = f"{result['requests']} requests, {result['failed']} failed"
        with step(f"an image of {ROLLED} that never gets healthy: rolled back?") as note:
            broken = _image_from(
                new,
                f"{PROJECT}/{ROLLED}:broken",
                'CMD ["python3", "-c", "import time; time.sleep(3600)"]',
            )
            started = time.monotonic()
            try:
                swarm.update_image(ROLLED, broken, 600)
                rolled_back = False
            except swarm.RolledBack as exc:
                rolled_back = True
                note["note"] = exc.problem
            figures["rollback_s"] = round(time.monotonic() - started, 1)
            after = next(s for s in swarm.status() if s.name == ROLLED)
            checks["a broken image is rolled back"] = rolled_back
            checks["the previous image runs again"] = (
                after.image == new and after.running == after.wanted
            )
    finally:
        with step("remove the stack and leave the swarm the toolkit made"):
            swarm.remove(console.print)
            swarm.stop_registry(console.print)
            if created:
                swarm.leave_if_created(console.print)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.swarmcheck", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter loads (CI's pass)")
    args = parser.parse_args(argv)
    try:
        figures = run(args.quick)
    except ToolkitError as exc:
        console.print(f"[red]error:[/] {exc.problem}")
        if exc.fix:
            console.print(f"[yellow]fix:[/] {exc.fix}")
        return 1
    figures["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path = RESULTS / "swarm.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    one, two = figures["me_1_replicas"], figures["me_2_replicas"]
    rows = [
        (
            "core profile healthy: compose / swarm",
            f"{figures['compose_core_healthy_s']} s / {figures['swarm_core_healthy_s']} s",
        ),
        (
            f"GET /auth/me at {one['rate']:.0f}/s, p50 / p99, {ROLLED} x1; x2",
            f"{one['p50_ms']} / {one['p99_ms']} ms; {two['p50_ms']} / {two['p99_ms']} ms",
        ),
        (
            "rolling update under load",
            f"{figures['rolling_update_s']} s, "
            f"{figures['rolling_update_load']['requests']} requests, "
            f"{figures['rolling_update_load']['failed']} failed",
        ),
        ("broken image rolled back after", f"{figures['rollback_s']} s"),
        *((name, "yes" if ok else "NO") for name, ok in figures["checks"].items()),
    ]
    console.print(table("swarm", ["figure or check", "value"], rows))
    path.with_suffix(".md").write_text(
        "| figure or check | value |\n|---|---|\n"
        + "".join(f"| {name} | {value} |\n" for name, value in rows)
    )
    return 0 if all(figures["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
